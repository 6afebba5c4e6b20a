// A user's own class, registered with the installed core, and its identity: the same hash Python's
// torchsystem gives `Perceptron(input_size=10, output_size=1)`.
#include <iostream>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

struct Perceptron {
  Perceptron(int input_size, int output_size) : input_size(input_size), output_size(output_size) {}
  int input_size, output_size;
};

int main() {
  ts::register_class<Perceptron(int, int)>("input_size", "output_size");
  const auto perceptron = ts::create<Perceptron>("input_size"_a = 10, "output_size"_a = 1);
  std::cout << ts::getname(perceptron) << " " << ts::dumps(ts::getarguments(perceptron)) << " "
            << ts::gethash(perceptron) << "\n";
}
