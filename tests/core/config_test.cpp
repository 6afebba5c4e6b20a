// Building objects from configuration: Registry::create with {"name", "arguments", "hash"} or with a name
// and a JSON object of arguments, code arguments beside the JSON, nested entities, round trips through
// getmetadata, and the ArgumentError paths and reasons of bad configurations. Expected hashes were
// computed with python3: hashlib.md5((name + json.dumps(arguments)).encode()).hexdigest().
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;

namespace {

using test_support::contains;
using test_support::thrown;

// The unqualified names (MLP, GLU, ReLU) appear in paths; the enclosing namespace keeps the types unique.
namespace config_test {

struct Module {
  virtual ~Module() = default;
};

struct ReLU : Module {};
struct Tanh : Module {};

struct MLP : Module {
  MLP(int in, int hidden, int out, double p, std::shared_ptr<Module> act)
      : input_size(in), hidden_size(hidden), output_size(out), dropout(p), activation(std::move(act)) {}
  int input_size, hidden_size, output_size;
  double dropout;
  std::shared_ptr<Module> activation;
};

// The seed's second model: the same constructor as MLP, another class.
struct GLU : MLP {
  using MLP::MLP;
};

// Keyword order and code arguments.
struct Lin3 : Module {
  Lin3(int x, int y, int z) : a(x), b(y), c(z) {}
  int a, b, c;
};

// Every value kind a configuration can hold.
struct Typed : Module {
  Typed(bool f, std::int8_t s, std::vector<int> v, std::map<std::string, double> w, std::optional<int> m,
        Json a, std::vector<std::vector<int>> g, std::string n)
      : flag(f),
        small(s),
        values(std::move(v)),
        weights(std::move(w)),
        maybe(m),
        any(std::move(a)),
        grid(std::move(g)),
        name(std::move(n)) {}
  bool flag;
  std::int8_t small;
  std::vector<int> values;
  std::map<std::string, double> weights;
  std::optional<int> maybe;
  Json any;
  std::vector<std::vector<int>> grid;
  std::string name;
};

// For deep nesting.
struct Chain : Module {
  explicit Chain(std::shared_ptr<Module> i) : inner(std::move(i)) {}
  std::shared_ptr<Module> inner;
};

// Optimizer-like classes: not Modules.
struct Optimizer {
  virtual ~Optimizer() = default;
};
struct Adam : Optimizer {
  explicit Adam(double rate) : lr(rate) {}
  double lr;
};
struct Params {  // no JSON form: passed in code only
  std::vector<double> values;
};
struct SGD : Optimizer {
  SGD(Params p, double rate, double m) : params(std::move(p)), lr(rate), momentum(m) {}
  Params params;
  double lr, momentum;
};

void setup(ts::Registry<Module>& modules) {
  modules.register_class<ReLU()>();
  modules.register_class<Tanh()>();
  modules.register_class<MLP(int, int, int, double, std::shared_ptr<Module>)>(
      "input_size", "hidden_size", "output_size", "dropout", "activation", ts::named("MLP"));
  modules.register_class<GLU(int, int, int, double, std::shared_ptr<Module>)>(
      "input_size", "hidden_size", "output_size", "dropout", "activation");
  modules.register_class<Lin3(int, int, int)>("a", "b", "c");
  modules.register_class<Typed(bool, std::int8_t, std::vector<int>, std::map<std::string, double>,
                               std::optional<int>, Json, std::vector<std::vector<int>>, std::string)>(
      "flag", "small", "values", "weights", "maybe"_a = std::optional<int>{}, "any"_a = Json(nullptr),
      "grid"_a = std::vector<std::vector<int>>{}, "name"_a = "typed");
  modules.register_class<Chain(std::shared_ptr<Module>)>("inner");
}

void setup(ts::Registry<Optimizer>& optimizers) {
  optimizers.register_class<Adam(double)>("lr"_a = 0.001);
  optimizers.register_class<SGD(Params, double, double)>("params", "lr", "momentum"_a = 0.0,
                                                         ts::excluded_args{0}, ts::excluded_kwargs{"params"});
}

// A fresh registry per test keeps tests independent; the classes themselves are registered once.
struct Modules : ts::Registry<Module> {
  Modules() { setup(*this); }
};
struct Optimizers : ts::Registry<Optimizer> {
  Optimizers() { setup(*this); }
};

Json mlp_config() {
  return ts::parse_json(R"({"name": "MLP", "arguments": {"input_size": 1, "hidden_size": 2, "output_size": 3,
                           "dropout": 0.5, "activation": "ReLU"}})");
}

ts::ArgumentError argument_error(const Modules& modules, const Json& config) {
  try {
    modules.create(config);
  } catch (const ts::ArgumentError& error) {
    return error;
  }
  ADD_FAILURE() << "no ArgumentError for " << ts::dumps(config);
  return ts::ArgumentError("", "");
}

ts::ArgumentError argument_error(const Modules& modules, const std::string& name, const Json& arguments) {
  return argument_error(modules, Json{{"name", name}, {"arguments", arguments}});
}

// Deep nesting needs gigabytes under ThreadSanitizer (its shadow memory grows much faster than the depth);
// these tests are about configurations, not threads, so they are left to the other builds.
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN() GTEST_SKIP() << "too much memory under ThreadSanitizer"
#else
#define SKIP_UNDER_TSAN() static_cast<void>(0)
#endif

// A configuration whose top entity has `levels` entities nested below it, innermost a ReLU.
Json chain_config(int levels) {
  Json inner = "ReLU";
  for (int i = 1; i < levels; ++i) {
    Json next = Json::object();
    next["name"] = "Chain";
    next["arguments"]["inner"] = std::move(inner);
    inner = std::move(next);
  }
  Json config = Json::object();
  config["name"] = "Chain";
  config["arguments"]["inner"] = std::move(inner);
  return config;
}

}  // namespace config_test

using namespace config_test;

// ---------------------------------------------------------------------------------------------------
// Building.

TEST(Config, CreateFromMetadataForm) {
  Modules modules;
  const auto built = modules.create(mlp_config());
  const auto& mlp = dynamic_cast<const MLP&>(*built);
  EXPECT_EQ(mlp.input_size, 1);
  EXPECT_EQ(mlp.hidden_size, 2);
  EXPECT_EQ(mlp.output_size, 3);
  EXPECT_EQ(mlp.dropout, 0.5);
  ASSERT_NE(mlp.activation, nullptr);
  EXPECT_NE(dynamic_cast<const ReLU*>(mlp.activation.get()), nullptr);
  EXPECT_EQ(ts::dumps(ts::getarguments(built)),
            R"({"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5, "activation": "ReLU"})");
  EXPECT_EQ(ts::getname(built), "MLP");
  EXPECT_EQ(ts::getname(mlp.activation), "ReLU");
  EXPECT_EQ(ts::dumps(ts::getarguments(mlp.activation)), "{}");
}

TEST(Config, CreateFromNameAndArguments) {
  Modules modules;
  const auto built = modules.create("MLP", mlp_config()["arguments"]);
  EXPECT_EQ(ts::dumps(ts::getarguments(built)), ts::dumps(mlp_config()["arguments"]));
  // Arguments may be omitted from a configuration when the class needs none.
  const auto relu = modules.create(Json{{"name", "ReLU"}});
  EXPECT_NE(dynamic_cast<const ReLU*>(relu.get()), nullptr);
  EXPECT_EQ(ts::dumps(ts::getmetadata(relu)), R"({"arguments": {}})");
}

// The fields of a built Lin3, for comparing with what a call or a configuration said.
std::vector<int> fields_of(const std::shared_ptr<Module>& built) {
  const auto& lin = dynamic_cast<const Lin3&>(*built);
  return {lin.a, lin.b, lin.c};
}

TEST(Config, JsonKeysAreKeywordArgumentsInJsonOrder) {
  Modules modules;
  const auto built = modules.create("Lin3", ts::parse_json(R"({"c": 3, "a": 1, "b": 2})"));
  EXPECT_EQ(fields_of(built), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ts::dumps(ts::getarguments(built)), R"({"c": 3, "a": 1, "b": 2})");
}

TEST(Config, IntegerForFloatParameterIsRecordedAsGiven) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["dropout"] = 2;
  const auto built = modules.create(config);
  EXPECT_EQ(dynamic_cast<const MLP&>(*built).dropout, 2.0);
  EXPECT_EQ(ts::dumps(ts::getarguments(built)),
            R"({"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 2, "activation": "ReLU"})");
  EXPECT_EQ(ts::gethash(built), "673c0f5f7d98b186a6c8799a2262c596");
  config["arguments"]["dropout"] = 2.0;
  EXPECT_EQ(ts::gethash(modules.create(config)), "9db93a9a9c77a80b0cc8bddccca5597d");
}

TEST(Config, NestedEntityInObjectForm) {
  Modules modules;
  const Json config = ts::parse_json(R"({"name": "MLP", "arguments": {"input_size": 1, "hidden_size": 2,
      "output_size": 3, "dropout": 0.5, "activation": {"name": "GLU", "arguments": {"input_size": 4,
      "hidden_size": 5, "output_size": 6, "dropout": 0.25, "activation": {"name": "Tanh"}}}}})");
  const auto built = modules.create(config);
  const auto& glu = dynamic_cast<const GLU&>(*dynamic_cast<const MLP&>(*built).activation);
  EXPECT_EQ(glu.hidden_size, 5);
  EXPECT_EQ(glu.dropout, 0.25);
  EXPECT_NE(dynamic_cast<const Tanh*>(glu.activation.get()), nullptr);
  // A nested entity is recorded by its identity: a bare name when it has no arguments.
  EXPECT_EQ(ts::dumps(ts::getarguments(built)),
            R"({"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5, "activation": )"
            R"({"name": "GLU", "arguments": {"input_size": 4, "hidden_size": 5, "output_size": 6, )"
            R"("dropout": 0.25, "activation": "Tanh"}}})");
}

TEST(Config, ValueKindsConvertToDeclaredTypes) {
  Modules modules;
  const Json arguments = ts::parse_json(R"({"flag": true, "small": -128, "values": [1, 2, 3],
      "weights": {"b": 2, "a": 0.5}, "maybe": 7, "any": {"k": [null, 1.5]}, "grid": [[1], [], [2, 3]],
      "name": "x"})");
  const auto built = modules.create("Typed", arguments);
  const auto& typed = dynamic_cast<const Typed&>(*built);
  EXPECT_TRUE(typed.flag);
  EXPECT_EQ(typed.small, -128);
  EXPECT_EQ(typed.values, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(typed.weights, (std::map<std::string, double>{{"a", 0.5}, {"b", 2.0}}));
  EXPECT_EQ(typed.maybe, 7);
  EXPECT_EQ(typed.any, ts::parse_json(R"({"k": [null, 1.5]})"));
  EXPECT_EQ(typed.grid, (std::vector<std::vector<int>>{{1}, {}, {2, 3}}));
  EXPECT_EQ(typed.name, "x");
  EXPECT_EQ(ts::dumps(ts::getarguments(built)), ts::dumps(arguments)) << "recorded as given";
}

TEST(Config, NullForOptionalAndDefaults) {
  Modules modules;
  const auto built = modules.create("Typed", ts::parse_json(R"({"flag": false, "small": 1, "values": [],
      "weights": {}, "maybe": null})"));
  const auto& typed = dynamic_cast<const Typed&>(*built);
  EXPECT_FALSE(typed.maybe.has_value());
  EXPECT_TRUE(typed.any.is_null());
  EXPECT_EQ(typed.name, "typed");
  EXPECT_EQ(ts::dumps(ts::getarguments(built)),
            R"({"flag": false, "small": 1, "values": [], "weights": {}, "maybe": null})");
}

TEST(Config, PositionalCodeArgumentsComeFirst) {
  Modules modules;
  const auto built = modules.create("Lin3", Json{{"c", 3}, {"b", 2}}, 1);
  EXPECT_EQ(fields_of(built), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ts::dumps(ts::getarguments(built)), R"({"a": 1, "c": 3, "b": 2})");
}

TEST(Config, KeywordCodeArgumentsComeAfterJsonKeys) {
  Modules modules;
  const auto built = modules.create("Lin3", Json{{"c", 3}}, 1, "b"_a = 2);
  const auto& lin = dynamic_cast<const Lin3&>(*built);
  EXPECT_EQ(lin.b, 2);
  EXPECT_EQ(ts::dumps(ts::getarguments(built)), R"({"a": 1, "c": 3, "b": 2})");
  const auto config_form = modules.create(Json{{"name", "Lin3"}, {"arguments", {{"c", 3}}}}, 1, "b"_a = 2);
  EXPECT_EQ(ts::dumps(ts::getarguments(config_form)), R"({"a": 1, "c": 3, "b": 2})");
}

TEST(Config, CodeArgumentWithoutJsonForm) {
  Optimizers optimizers;
  const Params params{{1.0, 2.0}};
  const auto positional = optimizers.create("SGD", Json{{"lr", 0.1}}, params);
  const auto& sgd = dynamic_cast<const SGD&>(*positional);
  EXPECT_EQ(sgd.params.values, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(sgd.lr, 0.1);
  EXPECT_EQ(sgd.momentum, 0.0);
  EXPECT_EQ(ts::dumps(ts::getarguments(positional)), R"({"lr": 0.1})");
  const auto keyword =
      optimizers.create(Json{{"name", "SGD"}, {"arguments", {{"lr", 0.1}}}}, "params"_a = params);
  EXPECT_EQ(dynamic_cast<const SGD&>(*keyword).params.values.size(), 2U);
  EXPECT_EQ(ts::gethash(keyword), ts::gethash(positional));
}

TEST(Config, CodeEntityArgumentIsRecordedByIdentity) {
  Modules modules;
  const auto tanh = modules.get("Tanh")();
  const auto built =
      modules.create("MLP", Json{{"input_size", 1}, {"hidden_size", 2}, {"output_size", 3}, {"dropout", 0.5}},
                     "activation"_a = tanh);
  EXPECT_EQ(dynamic_cast<const MLP&>(*built).activation, tanh) << "the very object passed";
  EXPECT_EQ(ts::dumps(ts::getarguments(built)),
            R"({"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5, "activation": "Tanh"})");
}

// ---------------------------------------------------------------------------------------------------
// Round trips.

TEST(Config, RoundTripThroughMetadataThreeLevelsDeep) {
  Modules modules;
  const auto relu = modules.get("ReLU")();
  const auto inner = modules.get("GLU")(8, 16, 8, "dropout"_a = 0, "activation"_a = relu);
  const auto middle = modules.get("GLU")("input_size"_a = 4, "output_size"_a = 4, "hidden_size"_a = 8,
                                         "dropout"_a = 0.125, "activation"_a = inner);
  const auto top = modules.get("MLP")(784, 256, 10, 0.5, middle);
  const Json metadata = ts::getmetadata(top);
  ASSERT_TRUE(metadata.contains("name"));
  EXPECT_EQ(
      ts::dumps(metadata),
      R"({"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10, )"
      R"("dropout": 0.5, "activation": {"name": "GLU", "arguments": {"input_size": 4, "output_size": 4, )"
      R"("hidden_size": 8, "dropout": 0.125, "activation": {"name": "GLU", "arguments": {"input_size": 8, )"
      R"("hidden_size": 16, "output_size": 8, "dropout": 0, "activation": "ReLU"}}}}}})");

  const auto rebuilt = modules.create(metadata);
  EXPECT_NE(rebuilt, top);
  EXPECT_EQ(ts::gethash(rebuilt), ts::gethash(top));
  EXPECT_EQ(ts::dumps(ts::getmetadata(rebuilt)), ts::dumps(metadata));
  const auto& rebuilt_middle = dynamic_cast<const GLU&>(*dynamic_cast<const MLP&>(*rebuilt).activation);
  EXPECT_EQ(ts::gethash(rebuilt_middle.activation), ts::gethash(inner));
  EXPECT_NE(dynamic_cast<const ReLU*>(dynamic_cast<const GLU&>(*rebuilt_middle.activation).activation.get()),
            nullptr);

  // Through JSON text as well.
  const auto from_text = modules.create(ts::parse_json(ts::dumps(metadata)));
  EXPECT_EQ(ts::gethash(from_text), ts::gethash(top));
}

TEST(Config, RoundTripOfAnUnnamedClass) {
  Modules modules;
  const auto glu = modules.get("GLU")(1, 2, 3, 0.5, "ReLU");
  EXPECT_FALSE(ts::getmetadata(glu).contains("name"));
  const auto rebuilt = modules.create(Json{{"name", ts::getname(glu)}, {"arguments", ts::getarguments(glu)}});
  EXPECT_EQ(ts::gethash(rebuilt), ts::gethash(glu));
  EXPECT_EQ(ts::gethash(rebuilt, ts::IdentityStyle::canonical),
            ts::gethash(glu, ts::IdentityStyle::canonical));
}

TEST(Config, HashKeyIsAppliedToTheRebuiltObject) {
  Modules modules;
  const auto top = modules.create(mlp_config());
  ts::sethash(top, "custom");
  const Json metadata = ts::getmetadata(top);
  EXPECT_EQ(metadata["hash"], "custom");
  const auto rebuilt = modules.create(metadata);
  EXPECT_EQ(ts::gethash(rebuilt), "custom");
  EXPECT_EQ(ts::dumps(ts::getmetadata(rebuilt)), ts::dumps(metadata));
}

TEST(Config, RoundTripWithCodeArguments) {
  Optimizers optimizers;
  const auto sgd = optimizers.get("SGD")(Params{{3.0}}, "lr"_a = 0.01, "momentum"_a = 0.9);
  const Json config{{"name", ts::getname(sgd)}, {"arguments", ts::getarguments(sgd)}};
  EXPECT_THROW(optimizers.create(config), ts::ArgumentError) << "params is needed and only code can give it";
  const auto rebuilt = optimizers.create(config, Params{{3.0}});
  EXPECT_EQ(ts::gethash(rebuilt), ts::gethash(sgd));
}

// ---------------------------------------------------------------------------------------------------
// Argument errors.

TEST(ConfigErrors, WrongTypeDeepInside) {
  Modules modules;
  const Json config = ts::parse_json(R"({"name":"MLP","arguments":{"input_size":1,"hidden_size":2,
      "output_size":3,"dropout":0.5,"activation":{"name":"GLU","arguments":{"input_size":1,"hidden_size":"abc",
      "output_size":1,"dropout":0.1,"activation":"ReLU"}}}})");
  const auto error = argument_error(modules, config);
  EXPECT_STREQ(error.what(), R"(MLP.activation -> GLU.hidden_size: expected int, got "abc")");
  EXPECT_EQ(error.path(), "MLP.activation -> GLU.hidden_size");
  EXPECT_EQ(error.reason(), R"(expected int, got "abc")");
}

TEST(ConfigErrors, UnknownParameterSuggestsTheCloseOne) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"].erase("hidden_size");
  config["arguments"]["hiden_size"] = 2;
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "MLP.hiden_size");
  EXPECT_TRUE(contains(error.reason(), "unknown parameter"));
  EXPECT_TRUE(contains(error.reason(), "did you mean 'hidden_size'?"));
}

TEST(ConfigErrors, UnknownParameterNestedHasTheFullPath) {
  Modules modules;
  const auto error = argument_error(
      modules, "MLP", ts::parse_json(R"({"input_size": 1, "hidden_size": 2, "output_size": 3, "dropout": 0.5,
          "activation": {"name": "GLU", "arguments": {"input_size": 1, "hidden_size": 2, "output_size": 3,
          "dropout": 0.5, "activation": "ReLU", "bias": true}}})"));
  EXPECT_EQ(error.path(), "MLP.activation -> GLU.bias");
  EXPECT_TRUE(contains(error.reason(), "unknown parameter"));
}

TEST(ConfigErrors, MissingRequiredArgument) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"].erase("dropout");
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "MLP.dropout");
  EXPECT_TRUE(error.reason().starts_with("missing required argument")) << error.reason();
}

TEST(ConfigErrors, TooManyPositionalArguments) {
  Modules modules;
  const auto error = thrown<ts::ArgumentError>([&] { modules.get("MLP")(1, 2, 3, 0.5, "ReLU", 7); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "MLP");
  EXPECT_EQ(error->reason(), "takes 5 positional arguments but 6 were given");
  const auto beside = thrown<ts::ArgumentError>([&] { modules.create("Lin3", Json::object(), 1, 2, 3, 4); });
  ASSERT_TRUE(beside);
  EXPECT_EQ(beside->path(), "Lin3");
  EXPECT_EQ(beside->reason(), "takes 3 positional arguments but 4 were given");
}

// Python's wording: "takes 0 positional arguments but 1 was given".
TEST(ConfigErrors, TooManyPositionalArgumentsSingularWording) {
  Modules modules;
  const auto error = thrown<ts::ArgumentError>([&] { modules.get("ReLU")(1); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "ReLU");
  EXPECT_EQ(error->reason(), "takes 0 positional arguments but 1 was given");
}

// A parameter with no JSON form can only be passed in code; a configuration value for it must say so,
// not claim that "Any" was expected (Any is the type that accepts every JSON value).
TEST(ConfigErrors, ValueForAParameterWithoutJsonForm) {
  Optimizers optimizers;
  const auto error = thrown<ts::ArgumentError>(
      [&] { optimizers.create("SGD", ts::parse_json(R"({"params": [1, 2], "lr": 0.1})")); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "SGD.params");
  EXPECT_FALSE(contains(error->reason(), "expected Any")) << error->reason();
  EXPECT_TRUE(contains(error->reason(), "Params")) << error->reason();
}

TEST(ConfigErrors, MultipleValuesForOneParameter) {
  Modules modules;
  const auto code = thrown<ts::ArgumentError>([&] { modules.get("Lin3")(1, 2, 3, "a"_a = 4); });
  ASSERT_TRUE(code);
  EXPECT_EQ(code->path(), "Lin3.a");
  EXPECT_TRUE(contains(code->reason(), "multiple values"));
  const auto beside = thrown<ts::ArgumentError>([&] { modules.create("Lin3", Json{{"a", 1}, {"b", 2}}, 5); });
  ASSERT_TRUE(beside);
  EXPECT_EQ(beside->path(), "Lin3.a");
  const auto keyword = thrown<ts::ArgumentError>([&] {
    modules.create("Lin3", Json{{"a", 1}, {"b", 2}, {"c", 3}}, "b"_a = 5);
  });
  ASSERT_TRUE(keyword);
  EXPECT_EQ(keyword->path(), "Lin3.b");
}

TEST(ConfigErrors, PositionalArgumentAfterKeywordArgument) {
  Modules modules;
  const auto error = thrown<ts::ArgumentError>([&] { modules.get("Lin3")("a"_a = 1, 2, 3); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "Lin3");
  EXPECT_TRUE(contains(error->reason(), "positional argument follows a keyword argument"));
}

TEST(ConfigErrors, UnknownNestedNameSuggestsCloseNames) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["activation"] = "ReLu";
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "MLP.activation");
  EXPECT_TRUE(contains(error.reason(), "unknown name \"ReLu\""));
  EXPECT_TRUE(contains(error.reason(), "did you mean: ReLU"));
  config["arguments"]["activation"] = Json{{"name", "Glu"}, {"arguments", Json::object()}};
  const auto object_form = argument_error(modules, config);
  EXPECT_EQ(object_form.path(), "MLP.activation");
  EXPECT_TRUE(contains(object_form.reason(), "did you mean: GLU"));
}

TEST(ConfigErrors, NestedValueOfTheWrongKind) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["activation"] = 5;
  const auto number = argument_error(modules, config);
  EXPECT_EQ(number.path(), "MLP.activation");
  EXPECT_TRUE(number.reason().starts_with("expected Module")) << number.reason();
  EXPECT_TRUE(number.reason().ends_with("got 5")) << number.reason();
  for (const char* text : {R"([1, 2])", R"(true)", R"({"arguments": {}})", R"({"name": 3})",
                           R"({"name": "ReLU", "argument": {}})", R"({"name": "ReLU", "hash": "x"})"}) {
    config["arguments"]["activation"] = ts::parse_json(text);
    const auto error = argument_error(modules, config);
    EXPECT_EQ(error.path(), "MLP.activation") << text;
    EXPECT_TRUE(error.reason().starts_with("expected Module")) << text << ": " << error.reason();
  }
  config["arguments"]["activation"] = Json{{"name", "ReLU"}, {"arguments", 1}};
  const auto arguments = argument_error(modules, config);
  EXPECT_EQ(arguments.path(), "MLP.activation -> ReLU");
  EXPECT_TRUE(contains(arguments.reason(), "arguments must be a JSON object"));
}

TEST(ConfigErrors, ConfigurationNotAnObject) {
  Modules modules;
  for (const char* text : {"[]", "\"MLP\"", "3", "null"}) {
    const auto error = argument_error(modules, ts::parse_json(text));
    EXPECT_EQ(error.path(), "config") << text;
    EXPECT_TRUE(contains(error.reason(), "expected an object")) << error.reason();
  }
}

TEST(ConfigErrors, ConfigurationWithoutName) {
  Modules modules;
  const auto error = argument_error(modules, Json{{"arguments", Json::object()}});
  EXPECT_EQ(error.path(), "config");
  EXPECT_TRUE(contains(error.reason(), "\"name\""));
  EXPECT_TRUE(contains(error.reason(), "missing"));
}

TEST(ConfigErrors, NameNotAString) {
  Modules modules;
  const auto error = argument_error(modules, Json{{"name", 5}, {"arguments", Json::object()}});
  EXPECT_EQ(error.path(), "config");
  EXPECT_TRUE(contains(error.reason(), "\"name\""));
  EXPECT_TRUE(contains(error.reason(), "got 5"));
}

TEST(ConfigErrors, UnexpectedTopLevelKey) {
  Modules modules;
  Json config = mlp_config();
  config["args"] = Json::object();
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "config");
  EXPECT_TRUE(contains(error.reason(), "unexpected key \"args\""));
}

TEST(ConfigErrors, HashNotAString) {
  Modules modules;
  Json config = mlp_config();
  config["hash"] = 1;
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "config");
  EXPECT_TRUE(contains(error.reason(), "\"hash\""));
}

TEST(ConfigErrors, ArgumentsNotAnObject) {
  Modules modules;
  const auto error = argument_error(modules, Json{{"name", "MLP"}, {"arguments", Json::array({1, 2})}});
  EXPECT_EQ(error.path(), "MLP");
  EXPECT_EQ(error.reason(), "arguments must be a JSON object, got [1, 2]");
  const auto direct = thrown<ts::ArgumentError>([&] { modules.create("MLP", Json("x")); });
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->path(), "MLP");
}

TEST(ConfigErrors, UnknownTopLevelName) {
  Modules modules;
  const auto error = thrown<ts::UnknownNameError>([&] { modules.create(Json{{"name", "MLQ"}}); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->name(), "MLQ");
  EXPECT_EQ(error->suggestions().front(), "MLP");
  EXPECT_THROW(modules.create("Nothing", Json::object()), ts::UnknownNameError);
}

TEST(ConfigErrors, IntegerOutOfRangeForTheCppType) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["input_size"] = 3000000000LL;
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "MLP.input_size");
  EXPECT_TRUE(contains(error.reason(), "range")) << error.reason();
  EXPECT_TRUE(contains(error.reason(), "3000000000")) << error.reason();
  config["arguments"]["input_size"] = -3000000000LL;
  EXPECT_EQ(argument_error(modules, config).path(), "MLP.input_size");
  const auto small = argument_error(
      modules, "Typed",
      Json{{"flag", true}, {"small", 128}, {"values", Json::array()}, {"weights", Json::object()}});
  EXPECT_EQ(small.path(), "Typed.small");
  EXPECT_TRUE(contains(small.reason(), "range"));
}

TEST(ConfigErrors, FloatGivenToAnInt) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["input_size"] = 1.5;
  EXPECT_STREQ(argument_error(modules, config).what(), "MLP.input_size: expected int, got 1.5");
  config["arguments"]["input_size"] = 2.0;
  EXPECT_STREQ(argument_error(modules, config).what(), "MLP.input_size: expected int, got 2.0");
}

TEST(ConfigErrors, BoolGivenToAnInt) {
  Modules modules;
  Json config = mlp_config();
  config["arguments"]["input_size"] = true;
  EXPECT_STREQ(argument_error(modules, config).what(), "MLP.input_size: expected int, got true");
  config["arguments"]["input_size"] = 1;
  config["arguments"]["dropout"] = false;
  EXPECT_STREQ(argument_error(modules, config).what(), "MLP.dropout: expected float, got false");
}

TEST(ConfigErrors, OtherKindMismatches) {
  Modules modules;
  const Json base = ts::parse_json(R"({"flag": true, "small": 1, "values": [], "weights": {}})");
  const auto with = [&](const char* key, const Json& value) {
    Json arguments = base;
    arguments[key] = value;
    return argument_error(modules, "Typed", arguments);
  };
  EXPECT_STREQ(with("flag", 1).what(), "Typed.flag: expected bool, got 1");
  EXPECT_STREQ(with("name", 1).what(), "Typed.name: expected str, got 1");
  EXPECT_STREQ(with("values", Json::object()).what(), "Typed.values: expected list, got {}");
  EXPECT_STREQ(with("weights", Json::array()).what(), "Typed.weights: expected dict, got []");
  EXPECT_STREQ(with("maybe", "x").what(), R"(Typed.maybe: expected int, got "x")");
  EXPECT_STREQ(with("weights", Json{{"a", "b"}}).what(), R"(Typed.weights: ["a"]: expected float, got "b")");
}

TEST(ConfigErrors, ListElementOfTheWrongTypeReportsItsIndex) {
  Modules modules;
  const auto error =
      argument_error(modules, "Typed",
                     ts::parse_json(R"({"flag": true, "small": 1, "values": [1, 2, "x"], "weights": {}})"));
  EXPECT_EQ(error.path(), "Typed.values");
  EXPECT_EQ(error.reason(), R"([2]: expected int, got "x")");
}

TEST(ConfigErrors, EntityOfTheWrongBaseType) {
  Modules modules;
  Optimizers optimizers;
  modules.include(optimizers);
  Json config = mlp_config();
  config["arguments"]["activation"] = "Adam";
  const auto error = argument_error(modules, config);
  EXPECT_EQ(error.path(), "MLP.activation");
  EXPECT_TRUE(error.reason().starts_with("expected Module, got ")) << error.reason();
  EXPECT_TRUE(contains(error.reason(), "Adam")) << error.reason();
  // Passed in code, the same check applies.
  const std::shared_ptr<Optimizer> adam = optimizers.get("Adam")();
  const auto code = thrown<ts::ArgumentError>([&] { modules.get("MLP")(1, 2, 3, 0.5, adam); });
  ASSERT_TRUE(code);
  EXPECT_EQ(code->path(), "MLP.activation");
  EXPECT_TRUE(code->reason().starts_with("expected Module, got ")) << code->reason();
}

TEST(ConfigErrors, NameWithoutARegistryCannotBeResolved) {
  ts::register_class<ReLU()>();
  ts::register_class<MLP(int, int, int, double, std::shared_ptr<Module>)>(
      "input_size", "hidden_size", "output_size", "dropout", "activation", ts::named("MLP"));
  const auto error = thrown<ts::ArgumentError>([] { ts::create<MLP>(1, 2, 3, 0.5, "ReLU"); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "MLP.activation");
  EXPECT_TRUE(contains(error->reason(), "Registry")) << error->reason();
}

TEST(ConfigErrors, NestingAtTheLimitIsBuilt) {
  SKIP_UNDER_TSAN();
  Modules modules;
  const auto built = modules.create(chain_config(200));
  int depth = 0;
  for (auto node = built; auto* chain = dynamic_cast<const Chain*>(node.get()); node = chain->inner) ++depth;
  EXPECT_EQ(depth, 200);
  const auto rebuilt = modules.create(Json{{"name", "Chain"}, {"arguments", ts::getarguments(built)}});
  EXPECT_EQ(ts::gethash(rebuilt), ts::gethash(built));
}

TEST(ConfigErrors, NestingDeeperThanTheLimitIsAnArgumentError) {
  SKIP_UNDER_TSAN();
  Modules modules;
  const auto error = argument_error(modules, chain_config(201));
  EXPECT_TRUE(contains(error.reason(), "nested deeper than 200")) << error.reason();
  EXPECT_TRUE(error.path().starts_with("Chain.inner -> Chain.inner")) << error.path().substr(0, 80);
  const auto far = argument_error(modules, chain_config(1000));
  EXPECT_TRUE(contains(far.reason(), "nested deeper than 200")) << far.reason();
  // The depth count unwinds with the error: the next configuration at the limit builds.
  EXPECT_NO_THROW(modules.create(chain_config(200)));
}

TEST(ConfigErrors, DeepNestingFromJsonText) {
  SKIP_UNDER_TSAN();
  Modules modules;
  std::string text = "\"ReLU\"";
  for (int i = 0; i < 450; ++i) {
    text.insert(0, R"({"name": "Chain", "arguments": {"inner": )");
    text += "}}";
  }
  const Json config = ts::parse_json(text);
  const auto error = argument_error(modules, config);
  EXPECT_TRUE(contains(error.reason(), "nested deeper than 200")) << error.reason();
}

}  // namespace
