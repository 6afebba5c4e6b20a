// The Python reference's published examples, in C++, printing the same identities.
//
//   Model(1, 2.0, '3')                      -> b12461be073bff9f5847f3f423767aa2
//   Perceptron(input_size=10, output_size=1) -> a8657a4057c4f7b3237aec904970630d
//   Model(Module(1, 2.0, '3', '4'))          -> {"module": {"name": "Module", "arguments": {...}}}
//   Model(Dummy())                           -> {"module": "Dummy"}
//   a Registry's keys and signatures, then a model rebuilt from its configuration.
#include <iostream>
#include <memory>
#include <string>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {

struct Model {
  Model(int x, double y, ts::Json z, std::string t) : x(x), y(y), z(std::move(z)), t(std::move(t)) {}
  int x;
  double y;
  ts::Json z;
  std::string t;
};

struct Perceptron {
  Perceptron(int input_size, int output_size) : input_size(input_size), output_size(output_size) {}
  int input_size, output_size;
};

// The nested example passes one registered object to another; in C++ they share a base class.
struct Layer {
  virtual ~Layer() = default;
};

struct Module : Layer {
  Module(int x, double y, ts::Json z, std::string t) : x(x), y(y), z(std::move(z)), t(std::move(t)) {}
  int x;
  double y;
  ts::Json z;
  std::string t;
};

struct Dummy : Layer {};

// The reference's nested example has its own class named Model: a namespace keeps the two apart in C++.
namespace nested {
struct Model : Layer {
  explicit Model(std::shared_ptr<Layer> module) : module(std::move(module)) {}
  std::shared_ptr<Layer> module;
};
}  // namespace nested

struct Foo : Layer {
  Foo(int x, double y, std::string z) : x(x), y(y), z(std::move(z)) {}
  int x;
  double y;
  std::string z;
};

struct Bar : Layer {
  Bar(int x, double y, std::string z) : x(x), y(y), z(std::move(z)) {}
  int x;
  double y;
  std::string z;
};

void show(const std::string& call, const std::string& hash, const ts::Json& arguments) {
  std::cout << call << "\n  hash      " << hash << "\n  arguments " << ts::dumps(arguments) << "\n";
}

}  // namespace

int main() {
  // register(Model): the parameter names and defaults Python reads from __init__ are stated here.
  ts::register_class<Model(int, double, ts::Json, std::string)>("x", "y", "z", "t"_a = "5");
  ts::register_class<Perceptron(int, int)>("input_size", "output_size");
  ts::register_class<Module(int, double, ts::Json, std::string)>("x", "y", "z", "t"_a = "5");
  ts::register_class<Dummy()>();
  ts::register_class<nested::Model(std::shared_ptr<Layer>)>("module");

  const auto model = ts::create<Model>(1, 2.0, "3");
  show("Model(1, 2.0, \"3\")", ts::gethash(model), ts::getarguments(model));

  const auto perceptron = ts::create<Perceptron>("input_size"_a = 10, "output_size"_a = 1);
  show("Perceptron(input_size=10, output_size=1)", ts::gethash(perceptron), ts::getarguments(perceptron));

  const auto nested = ts::create<nested::Model>(ts::create<Module>(1, 2.0, "3", "4"));
  show(R"(Model(Module(1, 2.0, "3", "4")))", ts::gethash(nested), ts::getarguments(nested));

  const auto dummy = ts::create<nested::Model>(ts::create<Dummy>());
  show("Model(Dummy())", ts::gethash(dummy), ts::getarguments(dummy));

  // Registry[T]: Foo registered plainly, Bar as 'bar' with its first position and 'z' excluded.
  ts::Registry<Layer> registry;
  registry.register_class<Foo(int, double, std::string)>("x", "y", "z");
  registry.register_class<Bar(int, double, std::string)>("x", "y", "z", ts::named("bar"),
                                                         ts::excluded_args{0}, ts::excluded_kwargs{"z"});
  std::cout << "registry keys " << ts::dumps(ts::Json(registry.keys())) << "\n";
  for (const auto& key : registry.keys()) {
    std::cout << "  signature(" << key << ") " << ts::dumps(registry.signature(key)) << "\n";
  }

  // Beyond the reference: build from a configuration, and the identity that ignores call style.
  ts::Registry<Layer> layers;
  layers.add<Module>();
  layers.add<Dummy>();
  layers.add<nested::Model>();
  const ts::Json config = {{"name", ts::getname(nested)}, {"arguments", ts::getarguments(nested)}};
  const auto rebuilt = layers.create(config);
  std::cout << "rebuilt from " << ts::dumps(config) << "\n  hash      " << ts::gethash(rebuilt)
            << (ts::gethash(rebuilt) == ts::gethash(nested) ? " (same)" : " (DIFFERENT)") << "\n";

  const auto by_keyword = ts::create<Model>("z"_a = "3", "y"_a = 2.0, "x"_a = 1);
  std::cout << "Model(z=\"3\", y=2.0, x=1)\n  hash      " << ts::gethash(by_keyword)
            << " (python style)\n  canonical " << ts::gethash(by_keyword, ts::IdentityStyle::canonical)
            << " = Model(1, 2.0, \"3\"): " << ts::gethash(model, ts::IdentityStyle::canonical) << "\n";
  return 0;
}
