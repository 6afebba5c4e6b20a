// The README's and docs/registry.md's snippets, runnable: registration, identities, registries,
// configuration, errors with paths, and the canonical identity.
#include <iostream>
#include <memory>
#include <string>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;

namespace {

struct Model {
  Model(int x, double y, std::string z, std::string t) : x(x), y(y), z(std::move(z)), t(std::move(t)) {}
  int x;
  double y;
  std::string z, t;
};

struct Layer {
  virtual ~Layer() = default;
};

struct ReLU : Layer {};

// The seed's models: MLP and GLU share one constructor.
struct MLP : Layer {
  MLP(int input_size, int hidden_size, int output_size, double dropout, std::shared_ptr<Layer> activation)
      : sizes{input_size, hidden_size, output_size}, dropout(dropout), activation(std::move(activation)) {}
  int sizes[3];
  double dropout;
  std::shared_ptr<Layer> activation;
};

struct GLU : MLP {
  using MLP::MLP;
};

enum class Reduction { mean, sum };

}  // namespace

template <>
struct torchsystem::value_traits<Reduction> : torchsystem::string_enum<Reduction> {
  static constexpr std::pair<Reduction, std::string_view> names[] = {{Reduction::mean, "mean"},
                                                                     {Reduction::sum, "sum"}};
};

namespace {

struct Loss : Layer {
  explicit Loss(Reduction reduction) : reduction(reduction) {}
  Reduction reduction;
};

void print(const std::string& label, const ts::Json& value) {
  std::cout << label << " " << ts::dumps(value) << "\n";
}

}  // namespace

int main() {
  ts::register_class<Model(int, double, std::string, std::string)>("x", "y", "z", "t"_a = "5");
  const auto model = ts::create<Model>(1, 2.0, "3");
  print("getarguments", ts::getarguments(model));
  std::cout << "gethash " << ts::gethash(model) << "\ngetname " << ts::getname(model) << "\n";
  print("getmetadata", ts::getmetadata(model));
  ts::setname(model);
  ts::sethash(model);
  print("getmetadata after setname and sethash", ts::getmetadata(model));

  ts::Registry<Layer> layers;
  layers.register_class<ReLU()>();
  const auto seed = [](auto& registry, auto type) {
    using T = typename decltype(type)::type;
    registry.template register_class<T(int, int, int, double, std::shared_ptr<Layer>)>(
        "input_size", "hidden_size", "output_size", "dropout", "activation");
  };
  seed(layers, std::type_identity<MLP>{});
  seed(layers, std::type_identity<GLU>{});
  layers.register_class<Loss(Reduction)>("reduction"_a = Reduction::mean);
  print("keys", ts::Json(layers.keys()));
  print("signature(MLP)", layers.signature("MLP"));
  print("signature(Loss)", layers.signature("Loss"));

  const auto mlp = layers.get("MLP")(784, 256, 10, "dropout"_a = 0.5, "activation"_a = layers.get("ReLU")());
  std::cout << "MLP hash " << ts::gethash(mlp) << "\n";
  const auto same = layers.create(ts::parse_json(
      R"({"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10,)"
      R"( "dropout": 0.5, "activation": "ReLU"}})"));
  std::cout << "from config " << ts::gethash(same) << "\n";

  const auto loss = layers.create("Loss", {{"reduction", "sum"}});
  print("Loss arguments", ts::getarguments(loss));
  print("Loss canonical", ts::getarguments(layers.get("Loss")(), ts::IdentityStyle::canonical));

  const auto errors = {
      R"({"name": "MLP", "arguments": {"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5,)"
      R"( "activation": {"name": "GLU", "arguments": {"input_size": 1, "hidden_size": "abc", "output_size": 1,)"
      R"( "dropout": 0.1, "activation": "ReLU"}}}})",
      R"({"name": "MLP", "arguments": {"input_size": 1, "hiden_size": 2}})",
      R"({"name": "MLP", "arguments": {"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5,)"
      R"( "activation": "Relu"}})",
      R"({"name": "Loss", "arguments": {"reduction": "none"}})",
      R"({"name": "Mlp"})",
      R"({"arguments": {}})"};
  for (const char* text : errors) {
    try {
      layers.create(ts::parse_json(text));
    } catch (const ts::Error& error) {
      std::cout << "error: " << error.what() << "\n";
    }
  }

  const auto a = layers.get("MLP")(784, 256, 10, 0.5, layers.get("ReLU")());
  const auto b = layers.get("MLP")("input_size"_a = 784, "dropout"_a = 0.5, "hidden_size"_a = 256,
                                   "output_size"_a = 10, "activation"_a = layers.get("ReLU")());
  std::cout << "python hashes differ: " << (ts::gethash(a) != ts::gethash(b)) << "\n"
            << "canonical hashes equal: "
            << (ts::gethash(a, ts::IdentityStyle::canonical) == ts::gethash(b, ts::IdentityStyle::canonical))
            << "\n";
  return 0;
}
