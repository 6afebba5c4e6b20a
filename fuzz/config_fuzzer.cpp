// Fuzz target: building entities from configurations. Any bytes that parse as JSON go to
// Registry::create against a registry of nested types (entities taking entities, optional values,
// lists, maps, defaults, keywords, a parameter only code can pass, a second registry included). The
// outcome must be an object or a torchsystem::Error; anything else escaping is a defect (std::terminate
// reports it). A built object's hash must be md5(name + dumps(arguments)), building again from its
// name and arguments must give the same hash, and once the objects are gone live_entities() must be
// back where it was (no metadata record leaked, on success or on any error path).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "torchsystem/torchsystem.hpp"

namespace torchsystem::fuzz {
namespace {

using namespace torchsystem::literals;

struct Module {
  virtual ~Module() = default;
};

struct ReLU : Module {};

struct Tanh : Module {
  explicit Tanh(double s) : scale(s) {}
  double scale;
};

struct MLP : Module {
  MLP(int in, int hidden, int out, double p, std::shared_ptr<Module> act)
      : input_size(in), hidden_size(hidden), output_size(out), dropout(p), activation(std::move(act)) {}
  int input_size, hidden_size, output_size;
  double dropout;
  std::shared_ptr<Module> activation;
};

struct GLU : MLP {
  using MLP::MLP;
};

// Every value kind a configuration can hold.
struct Typed : Module {
  Typed(bool f, std::int8_t s, std::vector<int> v, std::map<std::string, double> w, std::optional<int> m,
        Json a, std::vector<std::vector<int>> g, std::string n, std::uint16_t u, float x)
      : flag(f),
        small(s),
        values(std::move(v)),
        weights(std::move(w)),
        maybe(m),
        any(std::move(a)),
        grid(std::move(g)),
        name(std::move(n)),
        port(u),
        ratio(x) {}
  bool flag;
  std::int8_t small;
  std::vector<int> values;
  std::map<std::string, double> weights;
  std::optional<int> maybe;
  Json any;
  std::vector<std::vector<int>> grid;
  std::string name;
  std::uint16_t port;
  float ratio;
};

// Entities nested to any depth.
struct Chain : Module {
  Chain(std::shared_ptr<Module> i, std::shared_ptr<Module> s) : inner(std::move(i)), side(std::move(s)) {}
  std::shared_ptr<Module> inner, side;
};

// A parameter only code can pass: a configuration alone cannot build it.
struct Params {
  std::vector<double> values;
};

struct Optimizer {
  virtual ~Optimizer() = default;
};
struct Adam : Optimizer {
  Adam(double rate, std::vector<double> b) : lr(rate), betas(std::move(b)) {}
  double lr;
  std::vector<double> betas;
};
struct SGD : Optimizer {
  SGD(Params p, double rate, double m) : params(std::move(p)), lr(rate), momentum(m) {}
  Params params;
  double lr, momentum;
};

struct Registries {
  Registry<Module> modules{"fuzz modules"};
  Registry<Optimizer> optimizers{"fuzz optimizers"};

  Registries() {
    modules.register_class<ReLU()>();
    modules.register_class<Tanh(double)>("scale"_a = 1.0);
    modules.register_class<MLP(int, int, int, double, std::shared_ptr<Module>)>(
        "input_size", "hidden_size", "output_size", "dropout"_a = 0.0, "activation"_a = nullptr,
        named("MLP"));
    modules.register_class<GLU(int, int, int, double, std::shared_ptr<Module>)>(
        "input_size", "hidden_size", "output_size", "dropout", "activation");
    modules.register_class<Typed(bool, std::int8_t, std::vector<int>, std::map<std::string, double>,
                                 std::optional<int>, Json, std::vector<std::vector<int>>, std::string,
                                 std::uint16_t, float)>(
        "flag", "small", "values", "weights", "maybe"_a = std::optional<int>{}, "any"_a = Json(nullptr),
        "grid"_a = std::vector<std::vector<int>>{}, "name"_a = "typed", "port"_a = 80, "ratio"_a = 0.5F);
    modules.register_class<Chain(std::shared_ptr<Module>, std::shared_ptr<Module>)>("inner",
                                                                                    "side"_a = nullptr);
    optimizers.register_class<Adam(double, std::vector<double>)>("lr"_a = 0.001,
                                                                 "betas"_a = std::vector<double>{0.9, 0.999});
    optimizers.register_class<SGD(Params, double, double)>("params", "lr", "momentum"_a = 0.0,
                                                           excluded_args{0}, excluded_kwargs{"params"});
    // Nested names a module registry does not have are looked up in the optimizers.
    modules.include(optimizers);
  }
};

const Registries& registries() {
  static const Registries instance;
  return instance;
}

/// The invariants of an object built from a configuration without an explicit "hash".
template <class Base>
void check_built(const Registry<Base>& registry, const std::shared_ptr<Base>& built) {
  const std::string name = getname(built);
  const Json& arguments = getarguments(built);
  const std::string hash = gethash(built);
  check(hash == identity_hash(name, arguments), "gethash is not md5(name + dumps(arguments))");
  const auto again = registry.create(name, arguments);
  check(gethash(again) == hash, "building from getname/getarguments gives another hash");
}

template <class Base>
void build(const Registry<Base>& registry, const Json& config) {
  try {
    const auto built = registry.create(config);
    check(built != nullptr, "create returned no object");
    if (config.is_object() && !config.contains("hash")) check_built(registry, built);
  } catch (const Error&) {
    // A clear refusal is a correct outcome; its type and message are the library's to choose.
  }
}

}  // namespace
}  // namespace torchsystem::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torchsystem::fuzz::registries();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace torchsystem;
  using namespace torchsystem::fuzz;
  Json config;
  try {
    config = parse_json(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const JsonError&) {
    return 0;
  }
  const std::size_t live_before = live_entities();
  build(registries().modules, config);
  build(registries().optimizers, config);
  check(live_entities() == live_before, "live_entities() did not return to its value before the input");
  return 0;
}
