// Read times of the user's data through the project's readers, for benchmarks/numpy_read.sh and
// benchmarks/csv_read.sh, which time NumPy's and pandas' readers of the same file in the same run.
//
//   data_read npz FILE.npz REPEATS          prints {"read": [seconds...], "bytes": ...}
//   data_read csv FILE.csv TARGET REPEATS   the same for read_csv, the target column TARGET
//
// An npz read is the whole of read_npz for x_train, y_train, x_test and y_test: the zip directory, every
// header, the data straight into the tensors, and the CRC-32 of every member. A csv read is the whole of
// read_csv: parsing, checking and converting every cell.
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "torchsystem/error.hpp"
#include "torchsystem/training/csv.hpp"
#include "torchsystem/training/numpy.hpp"

namespace ts = torchsystem;

namespace {

/// Times `read` (which returns the bytes it read into tensors) `repeats` times and prints the JSON line.
void report(int repeats, const std::function<std::uint64_t()>& read) {
  std::vector<double> reads;
  std::uint64_t bytes = 0;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto started = std::chrono::steady_clock::now();
    bytes = read();
    reads.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  std::cout << "{\"read\": [";
  for (std::size_t index = 0; index < reads.size(); ++index) std::cout << (index ? ", " : "") << reads[index];
  std::cout << "], \"bytes\": " << bytes << "}\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  const bool npz = arguments.size() == 3 && arguments[0] == "npz";
  const bool csv = arguments.size() == 4 && arguments[0] == "csv";
  if (!npz && !csv) {
    std::cerr << "usage: data_read npz FILE.npz REPEATS | data_read csv FILE.csv TARGET REPEATS\n";
    return 2;
  }
  try {
    if (npz) {
      report(std::stoi(arguments[2]), [&] {
        std::uint64_t bytes = 0;
        for (const auto& [name, array] :
             ts::read_npz(arguments[1], {"x_train", "y_train", "x_test", "y_test"}))
          bytes += array.nbytes();
        return bytes;
      });
    } else {
      report(std::stoi(arguments[3]), [&] {
        const ts::CsvTable table = ts::read_csv(arguments[1], {arguments[2]});
        return static_cast<std::uint64_t>(table.features.nbytes() + table.target.nbytes());
      });
    }
  } catch (const ts::Error& error) {
    std::cerr << "data_read: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
