// Read times of a NumPy archive through the project's reader, for benchmarks/numpy_read.sh, which times
// numpy.load of the same file in the same run.
//
//   numpy_read FILE.npz REPEATS     prints {"read": [seconds...], "bytes": ...}
//
// A read is the whole of read_npz for x_train, y_train, x_test and y_test: the zip directory, every
// header, the data straight into the tensors, and the CRC-32 of every member.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/training/numpy.hpp"

namespace ts = torchsystem;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: numpy_read FILE.npz REPEATS\n";
    return 2;
  }
  try {
    const int repeats = std::stoi(argv[2]);
    std::vector<double> reads;
    std::uint64_t bytes = 0;
    for (int repeat = 0; repeat < repeats; ++repeat) {
      const auto started = std::chrono::steady_clock::now();
      const auto arrays = ts::read_npz(argv[1], {"x_train", "y_train", "x_test", "y_test"});
      reads.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      bytes = 0;
      for (const auto& [name, array] : arrays) bytes += array.nbytes();
    }
    std::cout << "{\"read\": [";
    for (std::size_t index = 0; index < reads.size(); ++index)
      std::cout << (index ? ", " : "") << reads[index];
    std::cout << "], \"bytes\": " << bytes << "}\n";
  } catch (const ts::Error& error) {
    std::cerr << "numpy_read: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
