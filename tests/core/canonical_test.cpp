// The canonical identity (IdentityStyle::canonical): every non-excluded parameter in signature order,
// defaults filled in, values in their declared types, so that it does not depend on call style. Python
// hashes below were computed with python3: hashlib.md5((name + json.dumps(arguments)).encode()).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::IdentityStyle;
using ts::Json;

namespace {

namespace canonical_test {

struct Module {
  virtual ~Module() = default;
};

struct ReLU : Module {};

struct Scale : Module {
  explicit Scale(double f) : factor(f) {}
  double factor;
};

struct MLP : Module {
  MLP(int in, int hidden, int out, double p, std::shared_ptr<Module> act)
      : input_size(in), hidden_size(hidden), output_size(out), dropout(p), activation(std::move(act)) {}
  int input_size, hidden_size, output_size;
  double dropout;
  std::shared_ptr<Module> activation;
};

struct Excluding : Module {
  Excluding(int a, double b, std::string c) : x(a), y(b), z(std::move(c)) {}
  int x;
  double y;
  std::string z;
};

struct Floats : Module {
  Floats(float a, double b, std::vector<double> c) : single(a), twice(b), list(std::move(c)) {}
  float single;
  double twice;
  std::vector<double> list;
};

struct Outer : Module {
  Outer(std::shared_ptr<Module> i, int k) : inner(std::move(i)), depth(k) {}
  std::shared_ptr<Module> inner;
  int depth;
};

// An optional entity parameter: null by default, as Python's `activation: Optional[Module] = None`.
struct Head : Module {
  Head(int k, std::shared_ptr<Module> act) : n(k), activation(std::move(act)) {}
  int n;
  std::shared_ptr<Module> activation;
};

struct Maybe : Module {
  explicit Maybe(std::optional<int> v) : value(v) {}
  std::optional<int> value;
};

void setup() {
  ts::register_class<ReLU()>();
  ts::register_class<Scale(double)>("factor"_a = 1);
  ts::register_class<MLP(int, int, int, double, std::shared_ptr<Module>)>(
      "input_size", "hidden_size", "output_size", "dropout"_a = 0.1,
      "activation"_a = [] { return std::shared_ptr<Module>(ts::create<ReLU>()); });
  ts::register_class<Excluding(int, double, std::string)>("x", "y", "z"_a = "z", ts::excluded_args{0},
                                                          ts::excluded_kwargs{"y"});
  ts::register_class<Floats(float, double, std::vector<double>)>("single", "twice",
                                                                 "list"_a = std::vector<double>{1, 2});
  ts::register_class<Outer(std::shared_ptr<Module>, int)>("inner", "depth"_a = 1);
}

struct Registered : ::testing::Test {
  void SetUp() override { setup(); }
};

std::string canonical_text(const auto& handle) {
  return ts::dumps(ts::getarguments(handle, IdentityStyle::canonical));
}

}  // namespace canonical_test

using namespace canonical_test;

TEST_F(Registered, CallStyleChangesPythonHashButNotCanonical) {
  const auto positional = ts::create<MLP>(784, 256, 10, "dropout"_a = 0.5);
  const auto keywords =
      ts::create<MLP>("input_size"_a = 784, "dropout"_a = 0.5, "hidden_size"_a = 256, "output_size"_a = 10);
  EXPECT_EQ(ts::gethash(positional), "bbe257edff6c804d8ee354406c739219");
  EXPECT_EQ(ts::gethash(keywords), "f87c68e21dd418d241454b303f505185");
  EXPECT_EQ(
      canonical_text(positional),
      R"({"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.5, "activation": "ReLU"})");
  EXPECT_EQ(canonical_text(keywords), canonical_text(positional));
  EXPECT_EQ(ts::gethash(positional, IdentityStyle::canonical), "af51a51a38f7ad81f9523360fafe7068");
  EXPECT_EQ(ts::gethash(keywords, IdentityStyle::canonical), "af51a51a38f7ad81f9523360fafe7068");
}

TEST_F(Registered, CanonicalHashIsMd5OfNameAndCanonicalArguments) {
  const auto mlp = ts::create<MLP>(1, 2, 3);
  EXPECT_EQ(ts::gethash(mlp, IdentityStyle::canonical),
            ts::identity_hash("MLP", ts::getarguments(mlp, IdentityStyle::canonical)));
  EXPECT_EQ(ts::gethash(mlp), ts::identity_hash("MLP", ts::getarguments(mlp)));
}

TEST_F(Registered, PassingADefaultExplicitlyChangesOnlyThePythonHash) {
  const auto implicit = ts::create<MLP>(784, 256, 10);
  const auto explicit_default = ts::create<MLP>(784, 256, 10, 0.1);
  const auto explicit_entity =
      ts::create<MLP>(784, 256, 10, 0.1, std::shared_ptr<Module>(ts::create<ReLU>()));
  EXPECT_EQ(ts::dumps(ts::getarguments(implicit)),
            R"({"input_size": 784, "hidden_size": 256, "output_size": 10})");
  EXPECT_NE(ts::gethash(implicit), ts::gethash(explicit_default));
  EXPECT_NE(ts::gethash(explicit_default), ts::gethash(explicit_entity));
  EXPECT_EQ(ts::gethash(implicit, IdentityStyle::canonical),
            ts::gethash(explicit_default, IdentityStyle::canonical));
  EXPECT_EQ(ts::gethash(implicit, IdentityStyle::canonical),
            ts::gethash(explicit_entity, IdentityStyle::canonical));
  EXPECT_EQ(
      canonical_text(implicit),
      R"({"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 0.1, "activation": "ReLU"})");
}

TEST_F(Registered, ValuesAreConvertedToTheirDeclaredTypes) {
  const auto mlp = ts::create<MLP>(784, 256, 10, 2);
  EXPECT_EQ(ts::dumps(ts::getarguments(mlp)),
            R"({"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 2})");
  EXPECT_EQ(
      canonical_text(mlp),
      R"({"input_size": 784, "hidden_size": 256, "output_size": 10, "dropout": 2.0, "activation": "ReLU"})");
  EXPECT_EQ(ts::gethash(mlp, IdentityStyle::canonical),
            ts::gethash(ts::create<MLP>(784, 256, 10, 2.0), IdentityStyle::canonical));
}

TEST_F(Registered, DefaultsAreInTheirDeclaredTypes) {
  // Scale's default is written as the int 1 for a float parameter.
  const auto scale = ts::create<Scale>();
  EXPECT_EQ(ts::dumps(ts::getarguments(scale)), "{}");
  EXPECT_EQ(canonical_text(scale), R"({"factor": 1.0})");
  EXPECT_EQ(canonical_text(ts::create<Scale>(1)), R"({"factor": 1.0})");
}

TEST_F(Registered, FloatsAndListsInCanonicalForm) {
  const auto floats = ts::create<Floats>(0.1f, 3, "list"_a = std::vector<int>{4, 5});
  EXPECT_EQ(ts::dumps(ts::getarguments(floats)), R"({"single": 0.1, "twice": 3, "list": [4, 5]})");
  EXPECT_EQ(canonical_text(floats), R"({"single": 0.1, "twice": 3.0, "list": [4.0, 5.0]})");
  EXPECT_EQ(canonical_text(ts::create<Floats>(0.5, 3.0)),
            R"({"single": 0.5, "twice": 3.0, "list": [1.0, 2.0]})");
}

TEST_F(Registered, ExcludedParametersAreAbsentWhateverTheCallStyle) {
  const auto positional = ts::create<Excluding>(1, 2.0, "3");
  const auto keywords = ts::create<Excluding>("x"_a = 1, "y"_a = 2.0, "z"_a = "3");
  EXPECT_EQ(ts::dumps(ts::getarguments(positional)), R"({"y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(keywords)), R"({"x": 1, "z": "3"})");
  EXPECT_EQ(canonical_text(positional), R"({"z": "3"})");
  EXPECT_EQ(canonical_text(keywords), R"({"z": "3"})");
  EXPECT_EQ(canonical_text(ts::create<Excluding>(1, 2.0)), R"({"z": "z"})");
}

TEST_F(Registered, NestedEntitiesAppearInCanonicalForm) {
  const auto scale = ts::create<Scale>(2);
  const auto outer = ts::create<Outer>(std::shared_ptr<Module>(scale));
  EXPECT_EQ(ts::dumps(ts::getarguments(outer)),
            R"({"inner": {"name": "Scale", "arguments": {"factor": 2}}})");
  EXPECT_EQ(canonical_text(outer),
            R"({"inner": {"name": "Scale", "arguments": {"factor": 2.0}}, "depth": 1})");
  // An inner entity with only defaults is a bare name in python style, but has arguments in canonical style.
  const auto defaults = ts::create<Outer>(std::shared_ptr<Module>(ts::create<Scale>()), 2);
  EXPECT_EQ(ts::dumps(ts::getarguments(defaults)), R"({"inner": "Scale", "depth": 2})");
  EXPECT_EQ(canonical_text(defaults),
            R"({"inner": {"name": "Scale", "arguments": {"factor": 1.0}}, "depth": 2})");
  // Nested two deep, built with different call styles.
  const auto a = ts::create<Outer>(std::shared_ptr<Module>(ts::create<MLP>(1, 2, 3, "dropout"_a = 0.5)));
  const auto b = ts::create<Outer>(
      "depth"_a = 1, "inner"_a = std::shared_ptr<Module>(ts::create<MLP>(
                         "output_size"_a = 3, "input_size"_a = 1, "hidden_size"_a = 2, "dropout"_a = 0.5)));
  EXPECT_NE(ts::gethash(a), ts::gethash(b));
  EXPECT_EQ(ts::gethash(a, IdentityStyle::canonical), ts::gethash(b, IdentityStyle::canonical));
  EXPECT_EQ(canonical_text(a),
            R"({"inner": {"name": "MLP", "arguments": {"input_size": 1, "hidden_size": 2, )"
            R"("output_size": 3, "dropout": 0.5, "activation": "ReLU"}}, "depth": 1})");
}

TEST_F(Registered, CanonicalFromConfigurationMatchesCanonicalFromCode) {
  ts::Registry<Module> modules;
  modules.add<MLP>();
  modules.add<ReLU>();
  const auto from_json = modules.create(
      "MLP", ts::parse_json(R"({"output_size": 10, "input_size": 784, "hidden_size": 256, "dropout": 1})"));
  const auto from_code = ts::create<MLP>(784, 256, 10, 1.0, std::shared_ptr<Module>(ts::create<ReLU>()));
  EXPECT_NE(ts::gethash(from_json), ts::gethash(from_code));
  EXPECT_EQ(ts::gethash(from_json, IdentityStyle::canonical),
            ts::gethash(from_code, IdentityStyle::canonical));
}

TEST_F(Registered, SethashDoesNotChangeTheCanonicalHash) {
  const auto mlp = ts::create<MLP>(784, 256, 10, "dropout"_a = 0.5);
  ts::sethash(mlp, "custom");
  EXPECT_EQ(ts::gethash(mlp), "custom");
  EXPECT_EQ(ts::gethash(mlp, IdentityStyle::canonical), "af51a51a38f7ad81f9523360fafe7068");
}

TEST_F(Registered, PythonStyleIsTheDefault) {
  const auto mlp =
      ts::create<MLP>("input_size"_a = 784, "dropout"_a = 0.5, "hidden_size"_a = 256, "output_size"_a = 10);
  EXPECT_EQ(ts::gethash(mlp), ts::gethash(mlp, IdentityStyle::python));
  EXPECT_EQ(&ts::getarguments(mlp), &ts::getarguments(mlp, IdentityStyle::python));
  EXPECT_NE(ts::gethash(mlp), ts::gethash(mlp, IdentityStyle::canonical));
  // Metadata stays python style.
  EXPECT_EQ(ts::getmetadata(mlp)["arguments"], ts::getarguments(mlp));
}

// An optional entity parameter whose default is an empty handle (Python: `activation: Module = None`).
// Python records nothing for a default that was not passed; canonical has nothing to name, so null.
TEST(Canonical, EmptyEntityDefaultDoesNotPreventCreation) {
  ts::register_class<ReLU()>();
  ts::register_class<Head(int, std::shared_ptr<Module>)>("n", "activation"_a = std::shared_ptr<Module>{});
  std::shared_ptr<Head> head;
  ASSERT_NO_THROW(head = ts::create<Head>(3));
  EXPECT_EQ(head->activation, nullptr);
  EXPECT_EQ(ts::dumps(ts::getarguments(head)), R"({"n": 3})");
  EXPECT_EQ(ts::dumps(ts::getarguments(head, IdentityStyle::canonical)), R"({"n": 3, "activation": null})");
  // Given one, it is recorded as usual.
  const auto with = ts::create<Head>(3, std::shared_ptr<Module>(ts::create<ReLU>()));
  EXPECT_EQ(ts::dumps(ts::getarguments(with)), R"({"n": 3, "activation": "ReLU"})");
}

// Passing Python's None for such a parameter records null.
TEST(Canonical, EmptyEntityArgumentIsRecordedAsNull) {
  ts::register_class<ReLU()>();
  ts::register_class<Head(int, std::shared_ptr<Module>)>("n", "activation"_a = std::shared_ptr<Module>{});
  std::shared_ptr<Head> head;
  ASSERT_NO_THROW(head = ts::create<Head>(3, std::shared_ptr<Module>{}));
  EXPECT_EQ(head->activation, nullptr);
  EXPECT_EQ(ts::dumps(ts::getarguments(head)), R"({"n": 3, "activation": null})");
  EXPECT_EQ(ts::dumps(ts::getarguments(head, IdentityStyle::canonical)), R"({"n": 3, "activation": null})");
}

TEST(Canonical, OptionalValueDefaultsToNull) {
  ts::register_class<Maybe(std::optional<int>)>("value"_a = std::optional<int>{});
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Maybe>(), IdentityStyle::canonical)), R"({"value": null})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Maybe>(4), IdentityStyle::canonical)), R"({"value": 4})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Maybe>(4))), R"({"value": 4})");
}

// Python records `None` passed for an Optional parameter as null; std::nullopt is the C++ spelling.
TEST(Canonical, NulloptArgumentIsRecordedAsNull) {
  ts::register_class<Maybe(std::optional<int>)>("value"_a = std::optional<int>{});
  std::shared_ptr<Maybe> maybe;
  ASSERT_NO_THROW(maybe = ts::create<Maybe>(std::nullopt));
  EXPECT_FALSE(maybe->value.has_value());
  EXPECT_EQ(ts::dumps(ts::getarguments(maybe)), R"({"value": null})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Maybe>(std::optional<int>{}))), R"({"value": null})");
}

}  // namespace
