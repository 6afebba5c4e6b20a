// Registry<Base> (the reference's Registry[T]) and the entity accessors (the reference's test_func and
// test_core). Expected hashes were computed with python3: hashlib.md5((name + json.dumps(args)).encode()).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
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

// The names below are unqualified names the tests look up ("Foo", "Model"); the enclosing namespace makes
// the types unique to this file.
namespace registry_test {

struct Base {
  virtual ~Base() = default;
};

struct Foo : Base {
  Foo(int a, double b, std::string c) : x(a), y(b), z(std::move(c)) {}
  int x;
  double y;
  std::string z;
};

struct Bar : Base {
  Bar(int a, double b, std::string c) : x(a), y(b), z(std::move(c)) {}
  int x;
  double y;
  std::string z;
};

struct Zeta : Base {
  explicit Zeta(int a) : n(a) {}
  int n;
};

struct Alpha : Base {
  explicit Alpha(int a) : n(a) {}
  int n;
};

// Conflicting definitions of one type.
struct Conf : Base {
  Conf(int a, int b) : first(a), second(b) {}
  int first, second;
};

// A second type that asks for a key another type has.
struct Impostor : Base {
  explicit Impostor(int a) : n(a) {}
  int n;
};

// Registered with torchsystem::register_class, then added to registries.
struct Shared : Base {
  explicit Shared(int a) : n(a) {}
  int n;
};

struct NeverRegistered : Base {
  explicit NeverRegistered(int a) : n(a) {}
  int n;
};

// include(): nested names.
struct Holder : Base {
  explicit Holder(std::shared_ptr<Base> i) : inner(std::move(i)) {}
  std::shared_ptr<Base> inner;
};
struct Leaf : Base {
  Leaf() = default;
};
struct OtherLeaf : Base {
  OtherLeaf() = default;
};
struct DeepLeaf : Base {
  DeepLeaf() = default;
};

// Registration errors: one type per case, so that a rejected definition cannot hide behind an accepted one.
template <int Tag>
struct Invalid : Base {
  Invalid(int a, int b) : first(a), second(b) {}
  int first, second;
};

struct Opaque {  // no value_traits: no JSON form
  int value = 0;
};
struct TakesOpaque : Base {
  TakesOpaque(Opaque o, int a) : opaque(o), n(a) {}
  Opaque opaque;
  int n;
};
struct TakesOpaqueExcluded : Base {
  TakesOpaqueExcluded(Opaque o, int a) : opaque(o), n(a) {}
  Opaque opaque;
  int n;
};

// The reference's test_func model: Model(x: int, y: float, z: Any, t: str = "5").
struct Model : Base {
  Model(int a, double b, Json c, std::string d) : x(a), y(b), z(std::move(c)), t(std::move(d)) {}
  int x;
  double y;
  Json z;
  std::string t;
};
struct NamedModel : Base {
  NamedModel(int a, double b, Json c, std::string d) : x(a), y(b), z(std::move(c)), t(std::move(d)) {}
  int x;
  double y;
  Json z;
  std::string t;
};
template <int Tag>
struct Variant : Base {
  Variant(int a, double b, Json c, std::string d) : x(a), y(b), z(std::move(c)), t(std::move(d)) {}
  int x;
  double y;
  Json z;
  std::string t;
};

// Entity parameters with a handle not made by the library.
struct Wrapper : Base {
  explicit Wrapper(std::shared_ptr<Base> i) : inner(std::move(i)) {}
  std::shared_ptr<Base> inner;
};

void register_model() {
  ts::register_class<Model(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5");
}

void register_reference(ts::Registry<Base>& registry) {
  registry.register_class<Foo(int, double, std::string)>("x", "y", "z");
  registry.register_class<Bar(int, double, std::string)>("x", "y", "z", ts::named("bar"),
                                                         ts::excluded_args{0}, ts::excluded_kwargs{"z"});
}

}  // namespace registry_test

using namespace registry_test;

// ---------------------------------------------------------------------------------------------------
// The reference's test_registry.

TEST(Registry, ReferenceGetBuildsRegisteredClasses) {
  ts::Registry<Base> registry;
  register_reference(registry);

  const std::shared_ptr<Base> foo = registry.get("Foo")(1, 2.0, "3");
  const auto* as_foo = dynamic_cast<const Foo*>(foo.get());
  ASSERT_NE(as_foo, nullptr);
  EXPECT_EQ(as_foo->x, 1);
  EXPECT_EQ(as_foo->y, 2.0);
  EXPECT_EQ(as_foo->z, "3");
  EXPECT_EQ(ts::getname(foo), "Foo");
  EXPECT_EQ(ts::dumps(ts::getarguments(foo)), R"({"x": 1, "y": 2.0, "z": "3"})");

  const std::shared_ptr<Base> bar = registry.get("bar")(1, 2.0, "3");
  const auto* as_bar = dynamic_cast<const Bar*>(bar.get());
  ASSERT_NE(as_bar, nullptr);
  EXPECT_EQ(as_bar->x, 1);
  EXPECT_EQ(as_bar->y, 2.0);
  EXPECT_EQ(as_bar->z, "3");
  EXPECT_EQ(ts::getname(bar), "bar");
  // Position 0 is excluded; z is excluded only when passed by keyword, and here it is passed by position.
  EXPECT_EQ(ts::dumps(ts::getarguments(bar)), R"({"y": 2.0, "z": "3"})");
}

TEST(Registry, ReferenceSignatures) {
  ts::Registry<Base> registry;
  register_reference(registry);
  EXPECT_EQ(ts::dumps(registry.signature("Foo")), R"({"x": "int", "y": "float", "z": "str"})");
  EXPECT_EQ(ts::dumps(registry.signature("bar")), R"({"y": "float"})");
  EXPECT_EQ(registry.info("bar").name(), "bar");
  EXPECT_TRUE(registry.info("bar").has_registered_name());
  EXPECT_FALSE(registry.info("Foo").has_registered_name());
}

TEST(Registry, KeysContainsAndSizeFollowRegistrationOrder) {
  ts::Registry<Base> registry;
  EXPECT_EQ(registry.size(), 0U);
  EXPECT_TRUE(registry.keys().empty());
  registry.register_class<Zeta(int)>("n");
  register_reference(registry);
  registry.register_class<Alpha(int)>("n");
  EXPECT_EQ(registry.keys(), (std::vector<std::string>{"Zeta", "Foo", "bar", "Alpha"}));
  EXPECT_EQ(registry.size(), 4U);
  EXPECT_TRUE(registry.contains("Zeta"));
  EXPECT_TRUE(registry.contains("bar"));
  EXPECT_FALSE(registry.contains("Bar"));  // registered under its name, not its C++ type name
  EXPECT_FALSE(registry.contains("zeta"));
  EXPECT_FALSE(registry.contains(""));
}

TEST(Registry, RegistriesAreIndependent) {
  ts::Registry<Base> first;
  ts::Registry<Base> second;
  first.register_class<Zeta(int)>("n");
  EXPECT_TRUE(first.contains("Zeta"));
  EXPECT_FALSE(second.contains("Zeta"));
  EXPECT_EQ(second.size(), 0U);
}

TEST(Registry, DescriptionNamesTheBase) {
  ts::Registry<Base> registry;
  EXPECT_EQ(registry.description(), "registry Base");
  ts::Registry<Base> custom("models");
  EXPECT_EQ(custom.description(), "models");
}

// ---------------------------------------------------------------------------------------------------
// Unknown names.

TEST(Registry, UnknownNameSuggestsCloseNames) {
  ts::Registry<Base> registry;
  register_reference(registry);
  const auto error = thrown<ts::UnknownNameError>([&] { registry.get("Fooo"); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->name(), "Fooo");
  ASSERT_FALSE(error->suggestions().empty());
  EXPECT_EQ(error->suggestions().front(), "Foo");
  EXPECT_TRUE(contains(error->what(), "\"Fooo\""));
  EXPECT_TRUE(contains(error->what(), "registry Base"));
  EXPECT_TRUE(contains(error->what(), "did you mean: Foo"));
}

TEST(Registry, UnknownNameOfAMegabyteIsSuggestedOnlyWhatItStartsWith) {
  ts::Registry<Base> registry;
  register_reference(registry);
  const std::string junk(1 << 20, 'q');
  const auto unrelated = thrown<ts::UnknownNameError>([&] { registry.get(junk); });
  ASSERT_TRUE(unrelated);
  EXPECT_TRUE(unrelated->suggestions().empty());
  const auto extended = thrown<ts::UnknownNameError>([&] { registry.get("Foo" + junk); });
  ASSERT_TRUE(extended);
  EXPECT_EQ(extended->suggestions(), std::vector<std::string>{"Foo"});
}

TEST(Registry, UnknownNameSuggestionsIgnoreCase) {
  ts::Registry<Base> registry;
  register_reference(registry);
  const auto error = thrown<ts::UnknownNameError>([&] { registry.get("foo"); });
  ASSERT_TRUE(error);
  ASSERT_FALSE(error->suggestions().empty());
  EXPECT_EQ(error->suggestions().front(), "Foo");
  EXPECT_TRUE(contains(error->what(), "did you mean: Foo"));
}

TEST(Registry, FarNameHasNoSuggestions) {
  ts::Registry<Base> registry;
  register_reference(registry);
  const auto error = thrown<ts::UnknownNameError>([&] { registry.get("TransformerEncoder"); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(error->suggestions().empty());
  EXPECT_FALSE(contains(error->what(), "did you mean"));
}

TEST(Registry, SignatureInfoAndCreateOfUnknownNameThrow) {
  ts::Registry<Base> registry;
  register_reference(registry);
  const auto signature = thrown<ts::UnknownNameError>([&] { registry.signature("Fooo"); });
  ASSERT_TRUE(signature);
  EXPECT_EQ(signature->suggestions(), std::vector<std::string>{"Foo"});
  const auto info = thrown<ts::UnknownNameError>([&] { registry.info("baz"); });
  ASSERT_TRUE(info);
  EXPECT_EQ(info->suggestions(), std::vector<std::string>{"bar"});
  const auto created = thrown<ts::UnknownNameError>([&] { registry.create("Fo", Json::object()); });
  ASSERT_TRUE(created);
  EXPECT_EQ(created->name(), "Fo");
  EXPECT_EQ(created->suggestions().front(), "Foo");
  const auto empty = thrown<ts::UnknownNameError>([&] { ts::Registry<Base>().get("Foo"); });
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->suggestions().empty());
}

// ---------------------------------------------------------------------------------------------------
// Registering again.

TEST(Registry, SameDefinitionTwiceIsIdempotent) {
  ts::Registry<Base> registry;
  const ts::ClassInfo& first = registry.register_class<Foo(int, double, std::string)>("x", "y", "z");
  const ts::ClassInfo& second = registry.register_class<Foo(int, double, std::string)>("x", "y", "z");
  const ts::ClassInfo& global = ts::register_class<Foo(int, double, std::string)>("x", "y", "z");
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first, &global);
  EXPECT_EQ(&first, &registry.info("Foo"));
  EXPECT_EQ(registry.keys(), std::vector<std::string>{"Foo"});
  EXPECT_EQ(registry.size(), 1U);
}

void register_conf(ts::Registry<Base>& registry) {
  registry.register_class<Conf(int, int)>("a", "b"_a = 1);
}

TEST(Registry, DifferentParameterNamesForSameTypeThrow) {
  ts::Registry<Base> registry;
  register_conf(registry);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "c"_a = 1), ts::RegistrationError);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("b", "a"_a = 1), ts::RegistrationError);
  EXPECT_THROW(registry.register_class<Conf(int, int)>("a", "c"_a = 1), ts::RegistrationError);
  EXPECT_EQ(registry.keys(), std::vector<std::string>{"Conf"});
  EXPECT_EQ(ts::dumps(registry.signature("Conf")), R"({"a": "int", "b": "int"})");
}

TEST(Registry, DifferentDefaultForSameTypeThrows) {
  ts::Registry<Base> registry;
  register_conf(registry);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"_a = 2), ts::RegistrationError);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"), ts::RegistrationError);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a"_a = 0, "b"_a = 1), ts::RegistrationError);
  // The definition in force is unchanged: b still defaults to 1.
  const auto conf = registry.get("Conf")(5);
  EXPECT_EQ(dynamic_cast<const Conf&>(*conf).second, 1);
}

TEST(Registry, DifferentNameForSameTypeThrows) {
  ts::Registry<Base> registry;
  register_conf(registry);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"_a = 1, ts::named("Other")), ts::RegistrationError);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"_a = 1, ts::named("Conf")), ts::RegistrationError)
      << "a registered name is part of the definition (it is recorded in the metadata)";
  EXPECT_EQ(registry.keys(), std::vector<std::string>{"Conf"});
}

TEST(Registry, DifferentExclusionsForSameTypeThrow) {
  ts::Registry<Base> registry;
  register_conf(registry);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"_a = 1, ts::excluded_args{0}),
               ts::RegistrationError);
  EXPECT_THROW(ts::register_class<Conf(int, int)>("a", "b"_a = 1, ts::excluded_kwargs{"b"}),
               ts::RegistrationError);
}

TEST(Registry, ConflictMessageDescribesBothDefinitions) {
  ts::Registry<Base> registry;
  register_conf(registry);
  const auto error =
      thrown<ts::RegistrationError>([] { ts::register_class<Conf(int, int)>("a", "b"_a = 2); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "Conf(a: int, b: int = 1)"));
  EXPECT_TRUE(contains(error->what(), "Conf(a: int, b: int = 2)"));
}

TEST(Registry, FailedRegistrationLeavesRegistryUnchanged) {
  ts::Registry<Base> setup;
  register_conf(setup);
  ts::Registry<Base> registry;
  EXPECT_THROW(registry.register_class<Conf(int, int)>("a", "b"_a = 3), ts::RegistrationError);
  EXPECT_EQ(registry.size(), 0U);
  EXPECT_FALSE(registry.contains("Conf"));
}

TEST(Registry, TwoTypesUnderOneKeyThrow) {
  ts::Registry<Base> registry;
  registry.register_class<Foo(int, double, std::string)>("x", "y", "z");
  const auto error =
      thrown<ts::RegistrationError>([&] { registry.register_class<Impostor(int)>("n", ts::named("Foo")); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "\"Foo\""));
  EXPECT_EQ(registry.keys(), std::vector<std::string>{"Foo"});
  EXPECT_EQ(registry.info("Foo").type(), std::type_index(typeid(Foo)));
  // The class itself was registered (globally); only the key is refused.
  EXPECT_EQ(ts::getname(ts::create<Impostor>(1)), "Foo");
  // add() under a key that is taken is refused too.
  EXPECT_THROW(registry.add<Impostor>("Foo"), ts::RegistrationError);
  // A type with the same name in another registry is fine.
  ts::Registry<Base> other;
  other.add<Impostor>();
  EXPECT_EQ(other.keys(), std::vector<std::string>{"Foo"});
}

TEST(Registry, AddUsesAClassRegisteredElsewhere) {
  const ts::ClassInfo& global = ts::register_class<Shared(int)>("n");
  ts::Registry<Base> registry;
  EXPECT_EQ(&registry.add<Shared>(), &global);
  EXPECT_EQ(&registry.add<Shared>("Alias"), &global);
  EXPECT_EQ(&registry.add<Shared>(), &global);  // adding again is idempotent
  EXPECT_EQ(registry.keys(), (std::vector<std::string>{"Shared", "Alias"}));
  const auto made = registry.get("Alias")(7);
  EXPECT_EQ(dynamic_cast<const Shared&>(*made).n, 7);
  EXPECT_EQ(ts::dumps(ts::getarguments(made)), R"({"n": 7})");
  EXPECT_EQ(ts::dumps(registry.signature("Alias")), R"({"n": "int"})");
}

TEST(Registry, AddOfAnUnregisteredClassThrows) {
  ts::Registry<Base> registry;
  const auto error = thrown<ts::RegistrationError>([&] { registry.add<NeverRegistered>(); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "NeverRegistered is not registered"));
  EXPECT_EQ(registry.size(), 0U);
}

// ---------------------------------------------------------------------------------------------------
// include().

TEST(Registry, IncludedRegistriesResolveNestedNames) {
  ts::Registry<Base> leaves;
  leaves.register_class<Leaf()>();
  ts::Registry<Base> holders;
  holders.register_class<Holder(std::shared_ptr<Base>)>("inner");

  const auto before = thrown<ts::ArgumentError>([&] { holders.create("Holder", Json{{"inner", "Leaf"}}); });
  ASSERT_TRUE(before);
  EXPECT_EQ(before->path(), "Holder.inner");
  EXPECT_TRUE(contains(before->reason(), "unknown name \"Leaf\""));

  holders.include(leaves);
  const auto holder = holders.create("Holder", Json{{"inner", "Leaf"}});
  const auto& built = dynamic_cast<const Holder&>(*holder);
  ASSERT_NE(built.inner, nullptr);
  EXPECT_NE(dynamic_cast<const Leaf*>(built.inner.get()), nullptr);
  EXPECT_EQ(ts::dumps(ts::getarguments(holder)), R"({"inner": "Leaf"})");
  // Included names are for nesting only: they are not keys of the including registry.
  EXPECT_FALSE(holders.contains("Leaf"));
  EXPECT_EQ(holders.keys(), std::vector<std::string>{"Holder"});
  // get() accepts a registered name for an entity parameter too.
  const auto got = holders.get("Holder")("Leaf");
  EXPECT_EQ(ts::dumps(ts::getarguments(got)), R"({"inner": "Leaf"})");
}

TEST(Registry, IncludedRegistriesAreSearchedTransitively) {
  ts::Registry<Base> deepest;
  deepest.register_class<DeepLeaf()>();
  ts::Registry<Base> middle;
  middle.include(deepest);
  ts::Registry<Base> top;
  top.register_class<Holder(std::shared_ptr<Base>)>("inner");
  top.include(middle);
  const auto holder = top.create("Holder", Json{{"inner", "DeepLeaf"}});
  EXPECT_NE(dynamic_cast<const DeepLeaf*>(dynamic_cast<const Holder&>(*holder).inner.get()), nullptr);
}

TEST(Registry, OwnEntriesComeBeforeIncludedOnes) {
  ts::register_class<Leaf()>();
  ts::register_class<OtherLeaf()>();
  ts::Registry<Base> included;
  included.add<Leaf>("Act");
  ts::Registry<Base> own;
  own.register_class<Holder(std::shared_ptr<Base>)>("inner");
  own.add<OtherLeaf>("Act");
  own.include(included);
  const auto holder = own.create("Holder", Json{{"inner", "Act"}});
  EXPECT_NE(dynamic_cast<const OtherLeaf*>(dynamic_cast<const Holder&>(*holder).inner.get()), nullptr);
}

TEST(Registry, IncludingItselfThrows) {
  ts::Registry<Base> registry;
  EXPECT_THROW(registry.include(registry), ts::RegistrationError);
}

TEST(Registry, IncludeCycleThrowsAndLookupsStillEnd) {
  ts::Registry<Base> a;
  ts::Registry<Base> b;
  ts::Registry<Base> c;
  a.register_class<Holder(std::shared_ptr<Base>)>("inner");
  a.include(b);
  b.include(c);
  EXPECT_THROW(c.include(a), ts::RegistrationError);
  EXPECT_THROW(b.include(a), ts::RegistrationError);
  a.include(c);  // a diamond is not a cycle
  // An unknown nested name is looked up through all of them and reported, not searched forever.
  const auto error = thrown<ts::ArgumentError>([&] { a.create("Holder", Json{{"inner", "Nowhere"}}); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "Holder.inner");
  EXPECT_TRUE(contains(error->reason(), "unknown name \"Nowhere\""));
}

TEST(Registry, UnknownNestedNameSuggestsNamesFromIncludedRegistries) {
  ts::Registry<Base> leaves;
  leaves.register_class<Leaf()>();
  ts::Registry<Base> holders;
  holders.register_class<Holder(std::shared_ptr<Base>)>("inner");
  holders.include(leaves);
  const auto error = thrown<ts::ArgumentError>([&] { holders.create("Holder", Json{{"inner", "Leav"}}); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->reason(), "did you mean: Leaf"));
}

TEST(Registry, UnknownNameCarriesItsPathAndSuggestionsAtAnyDepth) {
  ts::Registry<Base> registry("registry Base");
  registry.register_class<Leaf()>();
  registry.register_class<Holder(std::shared_ptr<Base>)>("inner");

  const auto top = thrown<ts::UnknownNameError>([&] { registry.create(Json{{"name", "Leav"}}); });
  ASSERT_TRUE(top);
  EXPECT_EQ(top->path(), "");
  EXPECT_EQ(top->name(), "Leav");
  EXPECT_EQ(top->suggestions(), std::vector<std::string>{"Leaf"});

  const Json nested = {{"name", "Holder"}, {"arguments", {{"inner", "Leav"}}}};
  const auto one = thrown<ts::UnknownNameError>([&] { registry.create(nested); });
  ASSERT_TRUE(one);
  EXPECT_EQ(one->path(), "Holder.inner");
  EXPECT_EQ(one->name(), "Leav");
  EXPECT_EQ(one->where(), "registry Base");
  EXPECT_EQ(one->suggestions(), std::vector<std::string>{"Leaf"});
  EXPECT_STREQ(one->what(), R"(Holder.inner: unknown name "Leav" in registry Base; did you mean: Leaf?)");

  const Json deeper = {{"name", "Holder"},
                       {"arguments", {{"inner", {{"name", "Holder"}, {"arguments", {{"inner", "Holdr"}}}}}}}};
  const auto two = thrown<ts::UnknownNameError>([&] { registry.create(deeper); });
  ASSERT_TRUE(two);
  EXPECT_EQ(two->path(), "Holder.inner -> Holder.inner");
  EXPECT_EQ(two->name(), "Holdr");
  EXPECT_EQ(two->suggestions(), std::vector<std::string>{"Holder"});
}

// ---------------------------------------------------------------------------------------------------
// Registration errors.

TEST(RegistrationErrors, ExcludedPositionPastTheLastParameter) {
  const auto error = thrown<ts::RegistrationError>(
      [] { ts::register_class<Invalid<1>(int, int)>("a", "b", ts::excluded_args{2}); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "excluded position 2"));
}

TEST(RegistrationErrors, ExcludedKeywordThatIsNotAParameter) {
  const auto error = thrown<ts::RegistrationError>(
      [] { ts::register_class<Invalid<2>(int, int)>("a", "b", ts::excluded_kwargs{"c"}); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "'c'"));
}

TEST(RegistrationErrors, DuplicateParameterNames) {
  const auto error =
      thrown<ts::RegistrationError>([] { ts::register_class<Invalid<3>(int, int)>("a", "a"); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "'a' is declared twice"));
}

TEST(RegistrationErrors, EmptyParameterName) {
  EXPECT_THROW((ts::register_class<Invalid<4>(int, int)>("a", "")), ts::RegistrationError);
  EXPECT_THROW((ts::register_class<Invalid<4>(int, int)>("", "b"_a = 1)), ts::RegistrationError);
}

TEST(RegistrationErrors, EmptyRegisteredName) {
  const auto error = thrown<ts::RegistrationError>(
      [] { ts::register_class<Invalid<5>(int, int)>("a", "b", ts::named("")); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "name is empty"));
}

TEST(RegistrationErrors, RequiredParameterAfterOneWithADefault) {
  const auto error =
      thrown<ts::RegistrationError>([] { ts::register_class<Invalid<6>(int, int)>("a"_a = 1, "b"); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "'b'"));
}

TEST(RegistrationErrors, ParameterWithoutJsonFormMustBeExcluded) {
  const auto error =
      thrown<ts::RegistrationError>([] { ts::register_class<TakesOpaque(Opaque, int)>("o", "n"); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "'o'"));
  EXPECT_TRUE(contains(error->what(), "no identity form"));
  // Excluded (by position or by name), it is accepted and never recorded.
  EXPECT_NO_THROW((ts::register_class<TakesOpaqueExcluded(Opaque, int)>("o", "n", ts::excluded_args{0})));
  const auto made = ts::create<TakesOpaqueExcluded>(Opaque{4}, 2);
  EXPECT_EQ(made->opaque.value, 4);
  EXPECT_EQ(ts::dumps(ts::getarguments(made)), R"({"n": 2})");
  EXPECT_EQ(ts::dumps(ts::getclass(made).signature()), R"({"n": "int"})");
}

TEST(RegistrationErrors, RejectedRegistrationLeavesTheTypeUnregistered) {
  ts::Registry<Base> registry;
  EXPECT_THROW((registry.register_class<Invalid<7>(int, int)>("a", "a")), ts::RegistrationError);
  EXPECT_EQ(registry.size(), 0U);
  EXPECT_THROW(ts::create<Invalid<7>>(1, 2), ts::RegistrationError);
  // A correct definition afterwards is accepted: the rejected one left nothing behind.
  registry.register_class<Invalid<7>(int, int)>("a", "b");
  EXPECT_EQ(ts::dumps(ts::getarguments(registry.get("Invalid<7>")(1, 2))), R"({"a": 1, "b": 2})");
}

// ---------------------------------------------------------------------------------------------------
// Accessors: the reference's test_func and test_core.

TEST(Accessors, PlainRegistrationRecordsPassedArguments) {
  register_model();
  const auto model = ts::create<Model>(1, 2.0, "3");
  EXPECT_EQ(ts::getname(model), "Model");
  EXPECT_EQ(ts::dumps(ts::getarguments(model)), R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::gethash(model), "b12461be073bff9f5847f3f423767aa2");
  EXPECT_EQ(model->x, 1);
  EXPECT_EQ(model->y, 2.0);
  EXPECT_EQ(model->z, Json("3"));
  EXPECT_EQ(model->t, "5");
  EXPECT_EQ(&ts::getclass(model),
            &ts::register_class<Model(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5"));
}

TEST(Accessors, RegisteredNameIsTheEntityName) {
  ts::register_class<NamedModel(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5",
                                                                 ts::named("Criterion"));
  const auto model = ts::create<NamedModel>(1, 2.0, "3");
  EXPECT_EQ(ts::getname(model), "Criterion");
  EXPECT_EQ(ts::dumps(ts::getarguments(model)), R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::gethash(model), "800ba245d3d75e5dc565176dc06e389a");
  EXPECT_EQ(ts::dumps(ts::getmetadata(model)),
            R"({"name": "Criterion", "arguments": {"x": 1, "y": 2.0, "z": "3"}})");
}

TEST(Accessors, ExcludedFirstPositionIsNotRecorded) {
  ts::register_class<Variant<0>(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5",
                                                                 ts::excluded_args{0});
  const auto model = ts::create<Variant<0>>(1, 2.0, "3");
  EXPECT_EQ(ts::dumps(ts::getarguments(model)), R"({"y": 2.0, "z": "3"})");
  EXPECT_EQ(model->x, 1);
}

TEST(Accessors, MetadataAfterSetnameAndSethash) {
  register_model();
  const auto model = ts::create<Model>(1, 2.0, "3");
  EXPECT_EQ(ts::dumps(ts::getmetadata(model)), R"({"arguments": {"x": 1, "y": 2.0, "z": "3"}})");
  ts::setname(model);
  EXPECT_EQ(ts::dumps(ts::getmetadata(model)),
            R"({"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}})");
  ts::sethash(model);
  EXPECT_EQ(ts::dumps(ts::getmetadata(model)),
            R"({"hash": "b12461be073bff9f5847f3f423767aa2", "name": "Model", )"
            R"("arguments": {"x": 1, "y": 2.0, "z": "3"}})");
  EXPECT_EQ(ts::gethash(model), "b12461be073bff9f5847f3f423767aa2");
}

TEST(Accessors, SethashBeforeSetnameStillOrdersHashFirst) {
  register_model();
  const auto model = ts::create<Model>(1, 2.0, "3");
  ts::sethash(model);
  ts::setname(model);
  const Json metadata = ts::getmetadata(model);
  std::vector<std::string> keys;
  for (auto item = metadata.begin(); item != metadata.end(); ++item) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"hash", "name", "arguments"}));
}

TEST(Accessors, SetnameChangesTheHash) {
  register_model();
  const auto model = ts::create<Model>(1, 2.0, "3");
  ts::setname(model, "Other");
  EXPECT_EQ(ts::getname(model), "Other");
  EXPECT_EQ(ts::gethash(model), "0c3f708accea43d8824f99a05be48618");
  ts::setname(model, std::string("Model"));
  EXPECT_EQ(ts::gethash(model), "b12461be073bff9f5847f3f423767aa2");
  // An empty name fixes the current one, as the reference's `name or getname(obj)` does.
  ts::setname(model, "");
  EXPECT_EQ(ts::getname(model), "Model");
}

TEST(Accessors, SethashOverridesTheHash) {
  register_model();
  const auto model = ts::create<Model>(1, 2.0, "3");
  ts::sethash(model, "custom");
  EXPECT_EQ(ts::gethash(model), "custom");
  ts::setname(model, "Other");
  EXPECT_EQ(ts::gethash(model), "custom") << "a hash set by sethash is kept when the name changes";
  EXPECT_EQ(ts::dumps(ts::getmetadata(model)),
            R"({"hash": "custom", "name": "Other", "arguments": {"x": 1, "y": 2.0, "z": "3"}})");
}

TEST(Accessors, ObjectsDoNotShareMetadata) {
  register_model();
  const auto first = ts::create<Model>(1, 2.0, "3");
  const auto second = ts::create<Model>(1, 2.0, "3");
  ts::setname(first, "Other");
  ts::sethash(first, "custom");
  EXPECT_EQ(ts::getname(second), "Model");
  EXPECT_EQ(ts::gethash(second), "b12461be073bff9f5847f3f423767aa2");
}

TEST(Accessors, ReferenceExclusionByPositionAndByKeyword) {
  // excluded_args=[0], excluded_kwargs={"t"}
  ts::register_class<Variant<1>(int, double, Json, std::string)>(
      "x", "y", "z", "t"_a = "5", ts::excluded_args{0}, ts::excluded_kwargs{"t"});
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<1>>(1, 2.0, "3"))), R"({"y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<1>>(1, 2.0, "3", "t"_a = "6"))),
            R"({"y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<1>>(1, 2.0, "3", "6"))),
            R"({"y": 2.0, "z": "3", "t": "6"})")
      << "t is excluded by keyword only; passed by position it is recorded";

  // excluded_args=[1], excluded_kwargs={"y"}
  ts::register_class<Variant<2>(int, double, Json, std::string)>(
      "x", "y", "z", "t"_a = "5", ts::excluded_args{1}, ts::excluded_kwargs{"y"});
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<2>>(1, 2.0, "3"))), R"({"x": 1, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<2>>(1, "y"_a = 2.0, "z"_a = "3"))),
            R"({"x": 1, "z": "3"})");
}

TEST(Accessors, ExclusionByKeywordDoesNotApplyToPositionalArguments) {
  ts::register_class<Variant<3>(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5",
                                                                 ts::excluded_kwargs{"y"});
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<3>>(1, 2.0, "3"))),
            R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<3>>(1, "y"_a = 2.0, "z"_a = "3"))),
            R"({"x": 1, "z": "3"})");
}

TEST(Accessors, ExclusionByPositionDoesNotApplyToKeywordArguments) {
  ts::register_class<Variant<4>(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5",
                                                                 ts::excluded_args{1});
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<4>>(1, 2.0, "3"))), R"({"x": 1, "z": "3"})");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Variant<4>>(1, "z"_a = "3", "y"_a = 2.0))),
            R"({"x": 1, "z": "3", "y": 2.0})");
}

TEST(Accessors, ObjectNotCreatedByTheLibraryHasNoIdentity) {
  register_model();
  const auto plain = std::make_shared<Model>(1, 2.0, Json("3"), "5");
  EXPECT_FALSE(ts::is_entity(plain));
  EXPECT_THROW(ts::gethash(plain), ts::NotAnEntityError);
  EXPECT_THROW(ts::getarguments(plain), ts::NotAnEntityError);
  EXPECT_THROW(ts::getname(plain), ts::NotAnEntityError);
  EXPECT_THROW(ts::getmetadata(plain), ts::NotAnEntityError);
  EXPECT_THROW(ts::setname(plain, "x"), ts::NotAnEntityError);
  EXPECT_THROW(ts::sethash(plain, "x"), ts::NotAnEntityError);
  const auto error = thrown<ts::NotAnEntityError>([&] { ts::gethash(plain); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "Model"));
  EXPECT_TRUE(ts::is_entity(ts::create<Model>(1, 2.0, "3")));
}

TEST(Accessors, EmptyHandleHasNoIdentity) {
  const std::shared_ptr<Model> empty;
  EXPECT_FALSE(ts::is_entity(empty));
  EXPECT_THROW(ts::gethash(empty), ts::NotAnEntityError);
  EXPECT_THROW(ts::getmetadata(empty), ts::NotAnEntityError);
  EXPECT_THROW(ts::getarguments(empty, ts::IdentityStyle::canonical), ts::NotAnEntityError);
}

TEST(Accessors, CreateOfAnUnregisteredClassThrows) {
  const auto error = thrown<ts::RegistrationError>([] { ts::create<NeverRegistered>(1); });
  ASSERT_TRUE(error);
  EXPECT_TRUE(contains(error->what(), "NeverRegistered is not registered"));
}

TEST(Accessors, NonLibraryObjectAsEntityArgumentNamesTheParameter) {
  ts::register_class<Wrapper(std::shared_ptr<Base>)>("inner");
  const auto error = thrown<ts::ArgumentError>(
      [] { ts::create<Wrapper>(std::static_pointer_cast<Base>(std::make_shared<Zeta>(1))); });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->path(), "Wrapper.inner");
  EXPECT_TRUE(contains(error->reason(), "not created through torchsystem"));
  // By keyword as well.
  const auto keyword = thrown<ts::ArgumentError>(
      [] { ts::create<Wrapper>("inner"_a = std::static_pointer_cast<Base>(std::make_shared<Zeta>(1))); });
  ASSERT_TRUE(keyword);
  EXPECT_EQ(keyword->path(), "Wrapper.inner");
}

TEST(Accessors, EntityArgumentIsRecordedByIdentity) {
  ts::register_class<Wrapper(std::shared_ptr<Base>)>("inner");
  ts::register_class<Zeta(int)>("n");
  register_model();
  ts::register_class<Leaf()>();
  const auto leaf = ts::create<Leaf>();
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Wrapper>(std::shared_ptr<Base>(leaf)))),
            R"({"inner": "Leaf"})");
  const auto zeta = ts::create<Zeta>(3);
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Wrapper>(std::shared_ptr<Base>(zeta)))),
            R"({"inner": {"name": "Zeta", "arguments": {"n": 3}}})");
  // The nested identity uses the name the inner entity has now.
  ts::setname(zeta, "Renamed");
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Wrapper>(std::shared_ptr<Base>(zeta)))),
            R"({"inner": {"name": "Renamed", "arguments": {"n": 3}}})");
}

TEST(Accessors, ClassInfoDescribesTheDefinition) {
  register_model();
  const ts::ClassInfo& info =
      ts::register_class<Model(int, double, Json, std::string)>("x", "y", "z", "t"_a = "5");
  EXPECT_EQ(info.describe(), R"(Model(x: int, y: float, z: Any, t: str = "5"))");
  EXPECT_EQ(ts::dumps(info.signature()), R"({"x": "int", "y": "float", "z": "Any", "t": "str"})");
  ASSERT_EQ(info.parameters().size(), 4U);
  EXPECT_TRUE(info.parameters()[3].has_default);
  EXPECT_EQ(info.parameters()[3].default_json, Json("5"));
  EXPECT_FALSE(info.parameters()[0].has_default);
}

}  // namespace
