// value_traits: how each C++ parameter type is named, recorded (to_json) and read back (from_json), and
// user-declared traits (an enum through string_enum, a struct with its own traits).
#include "torchsystem/value_traits.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "torchsystem/torchsystem.hpp"

namespace ts = torchsystem;
using namespace ts::literals;
using ts::Json;
using ts::value_traits;

namespace {

using test_support::contains;

// The reason of the ArgumentError from_json throws for `json`; fails when it converts.
template <class T>
std::string read_error(const Json& json) {
  try {
    (void)value_traits<T>::from_json(json);
  } catch (const ts::ArgumentError& error) {
    EXPECT_EQ(error.path(), "") << "from_json leaves the path to the caller";
    return error.reason();
  }
  ADD_FAILURE() << "converted " << ts::dumps(json);
  return "";
}

template <class T>
T round_trip(const T& value) {
  return value_traits<T>::from_json(value_traits<T>::to_json(value));
}

namespace value_traits_test {

enum class Reduction { mean, sum, none };

// A user type with its own traits and its own type name.
struct Point {
  int x = 0;
  int y = 0;
  bool operator==(const Point&) const = default;
};

struct Loss {
  Loss(Reduction r, Point p) : reduction(r), origin(p) {}
  Reduction reduction;
  Point origin;
};

}  // namespace value_traits_test

}  // namespace

template <>
struct torchsystem::value_traits<value_traits_test::Reduction>
    : torchsystem::string_enum<value_traits_test::Reduction> {
  static constexpr std::pair<value_traits_test::Reduction, std::string_view> names[] = {
      {value_traits_test::Reduction::mean, "mean"}, {value_traits_test::Reduction::sum, "sum"}};
};

template <>
struct torchsystem::value_traits<value_traits_test::Point> {
  static constexpr std::string_view name = "Point";
  static Json to_json(const value_traits_test::Point& point) { return Json::array({point.x, point.y}); }
  static value_traits_test::Point from_json(const Json& json) {
    if (!json.is_array() || json.size() != 2) ts::conversion_error("[x, y]", json);
    return {value_traits<int>::from_json(json[0]), value_traits<int>::from_json(json[1])};
  }
};

namespace {

using namespace value_traits_test;

// ---------------------------------------------------------------------------------------------------
// Type names.

TEST(ValueTraits, TypeNamesArePythonNames) {
  EXPECT_EQ(value_traits<bool>::name, "bool");
  EXPECT_EQ(value_traits<int>::name, "int");
  EXPECT_EQ(value_traits<std::uint8_t>::name, "int");
  EXPECT_EQ(value_traits<std::int64_t>::name, "int");
  EXPECT_EQ(value_traits<float>::name, "float");
  EXPECT_EQ(value_traits<double>::name, "float");
  EXPECT_EQ(value_traits<std::string>::name, "str");
  EXPECT_EQ(value_traits<std::vector<int>>::name, "list");
  EXPECT_EQ((value_traits<std::map<std::string, double>>::name), "dict");
  EXPECT_EQ((value_traits<std::unordered_map<std::string, int>>::name), "dict");
  EXPECT_EQ(value_traits<std::optional<int>>::name, "Optional");
  EXPECT_EQ(value_traits<Json>::name, "Any");
}

// ---------------------------------------------------------------------------------------------------
// bool.

TEST(ValueTraits, Bool) {
  EXPECT_EQ(value_traits<bool>::to_json(true), Json(true));
  EXPECT_TRUE(round_trip(true));
  EXPECT_FALSE(round_trip(false));
  EXPECT_EQ(read_error<bool>(1), "expected bool, got 1");
  EXPECT_EQ(read_error<bool>("true"), R"(expected bool, got "true")");
  EXPECT_EQ(read_error<bool>(nullptr), "expected bool, got null");
}

// ---------------------------------------------------------------------------------------------------
// Integers.

TEST(ValueTraits, IntRoundTripsAndRejectsOtherKinds) {
  EXPECT_EQ(round_trip(-7), -7);
  EXPECT_EQ(ts::dumps(value_traits<int>::to_json(-7)), "-7");
  EXPECT_EQ(value_traits<int>::from_json(ts::parse_json("42")), 42);
  EXPECT_EQ(read_error<int>(1.5), "expected int, got 1.5");
  EXPECT_EQ(read_error<int>(2.0), "expected int, got 2.0");
  EXPECT_EQ(read_error<int>(true), "expected int, got true");
  EXPECT_EQ(read_error<int>("1"), R"(expected int, got "1")");
  EXPECT_EQ(read_error<int>(nullptr), "expected int, got null");
}

TEST(ValueTraits, IntRange) {
  EXPECT_EQ(value_traits<int>::from_json(std::numeric_limits<int>::max()), std::numeric_limits<int>::max());
  EXPECT_EQ(value_traits<int>::from_json(std::numeric_limits<int>::min()), std::numeric_limits<int>::min());
  EXPECT_TRUE(contains(read_error<int>(3000000000LL), "range"));
  EXPECT_TRUE(contains(read_error<int>(ts::parse_json("3000000000")), "got 3000000000"));
  EXPECT_TRUE(contains(read_error<int>(ts::parse_json("-2147483649")), "range"));
}

TEST(ValueTraits, Int8AndUint8Ranges) {
  EXPECT_EQ(value_traits<std::int8_t>::from_json(127), 127);
  EXPECT_EQ(value_traits<std::int8_t>::from_json(-128), -128);
  EXPECT_TRUE(contains(read_error<std::int8_t>(128), "range"));
  EXPECT_TRUE(contains(read_error<std::int8_t>(-129), "range"));
  EXPECT_TRUE(contains(read_error<std::int8_t>(ts::parse_json("128")), "got 128"));
  EXPECT_EQ(value_traits<std::uint8_t>::from_json(255), 255);
  EXPECT_EQ(value_traits<std::uint8_t>::from_json(ts::parse_json("255")), 255);
  EXPECT_EQ(value_traits<std::uint8_t>::from_json(0), 0);
  EXPECT_TRUE(contains(read_error<std::uint8_t>(256), "range"));
  EXPECT_TRUE(contains(read_error<std::uint8_t>(-1), "got -1"));
  // Recorded as numbers, not as characters.
  EXPECT_EQ(ts::dumps(value_traits<std::int8_t>::to_json(-5)), "-5");
  EXPECT_EQ(ts::dumps(value_traits<std::uint8_t>::to_json(200)), "200");
}

TEST(ValueTraits, Int64AndUint64Extremes) {
  constexpr auto int64_min = std::numeric_limits<std::int64_t>::min();
  constexpr auto int64_max = std::numeric_limits<std::int64_t>::max();
  constexpr auto uint64_max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(round_trip(int64_min), int64_min);
  EXPECT_EQ(round_trip(int64_max), int64_max);
  EXPECT_EQ(round_trip(uint64_max), uint64_max);
  EXPECT_EQ(ts::dumps(value_traits<std::uint64_t>::to_json(uint64_max)), "18446744073709551615");
  EXPECT_EQ(ts::dumps(value_traits<std::int64_t>::to_json(int64_min)), "-9223372036854775808");
  EXPECT_EQ(value_traits<std::uint64_t>::from_json(ts::parse_json("18446744073709551615")), uint64_max);
  EXPECT_TRUE(contains(read_error<std::int64_t>(ts::parse_json("9223372036854775808")), "range"));
  EXPECT_TRUE(contains(read_error<std::uint64_t>(ts::parse_json("-1")), "range"));
  EXPECT_TRUE(contains(read_error<std::uint32_t>(ts::parse_json("4294967296")), "range"));
  EXPECT_EQ(value_traits<std::uint32_t>::from_json(ts::parse_json("4294967295")), 4294967295U);
}

// ---------------------------------------------------------------------------------------------------
// Floating point.

TEST(ValueTraits, FloatRecordsItsShortestDecimal) {
  EXPECT_EQ(ts::dumps(value_traits<float>::to_json(0.1f)), "0.1");
  EXPECT_EQ(value_traits<float>::to_json(0.1f), Json(0.1));
  EXPECT_EQ(ts::dumps(value_traits<float>::to_json(1.0f / 3.0f)), "0.33333334");
  EXPECT_EQ(ts::dumps(value_traits<float>::to_json(16777216.0f)), "16777216.0");
  EXPECT_EQ(ts::float_identity(0.1f), 0.1);
  EXPECT_EQ(ts::float_identity(-2.5f), -2.5);
  EXPECT_EQ(round_trip(0.1f), 0.1f);
  EXPECT_EQ(ts::dumps(value_traits<double>::to_json(0.1)), "0.1");
  EXPECT_EQ(ts::dumps(value_traits<double>::to_json(2.0)), "2.0");
  EXPECT_EQ(round_trip(0.30000000000000004), 0.30000000000000004);
}

TEST(ValueTraits, FloatAcceptsIntegersAndRejectsOtherKinds) {
  EXPECT_EQ(value_traits<double>::from_json(2), 2.0);
  EXPECT_EQ(value_traits<float>::from_json(ts::parse_json("3")), 3.0f);
  EXPECT_EQ(value_traits<double>::from_json(ts::parse_json("18446744073709551615")), 18446744073709551615.0);
  EXPECT_EQ(read_error<double>(true), "expected float, got true");
  EXPECT_EQ(read_error<double>("0.5"), R"(expected float, got "0.5")");
  EXPECT_EQ(read_error<float>(nullptr), "expected float, got null");
}

// ---------------------------------------------------------------------------------------------------
// Strings and Any.

TEST(ValueTraits, String) {
  EXPECT_EQ(round_trip(std::string("héllo \"q\"")), "héllo \"q\"");
  EXPECT_EQ(round_trip(std::string()), "");
  EXPECT_EQ(value_traits<std::string_view>::to_json("abc"), Json("abc"));
  EXPECT_EQ(value_traits<const char*>::to_json("abc"), Json("abc"));
  EXPECT_EQ(read_error<std::string>(1), "expected str, got 1");
  EXPECT_EQ(read_error<std::string>(Json::array({"a"})), R"(expected str, got ["a"])");
}

TEST(ValueTraits, AnyIsTheJsonItself) {
  const Json value = ts::parse_json(R"({"b": [1, 2.5, null], "a": "x"})");
  EXPECT_EQ(value_traits<Json>::from_json(value), value);
  EXPECT_EQ(ts::dumps(value_traits<Json>::to_json(value)), R"({"b": [1, 2.5, null], "a": "x"})");
}

// ---------------------------------------------------------------------------------------------------
// Containers.

TEST(ValueTraits, VectorOfInt) {
  const std::vector<int> values{1, -2, 3};
  EXPECT_EQ(ts::dumps(value_traits<std::vector<int>>::to_json(values)), "[1, -2, 3]");
  EXPECT_EQ(round_trip(values), values);
  EXPECT_EQ(round_trip(std::vector<int>{}), std::vector<int>{});
  EXPECT_EQ(ts::dumps(value_traits<std::vector<int>>::to_json({})), "[]");
  EXPECT_EQ(read_error<std::vector<int>>(ts::parse_json(R"([1, 2, "x"])")), R"([2]: expected int, got "x")");
  EXPECT_EQ(read_error<std::vector<int>>(ts::parse_json(R"([1.5])")), "[0]: expected int, got 1.5");
  EXPECT_TRUE(contains(read_error<std::vector<std::int8_t>>(ts::parse_json("[1, 300]")), "[1]: "));
  EXPECT_EQ(read_error<std::vector<int>>(ts::parse_json(R"({"a": 1})")), R"(expected list, got {"a": 1})");
  EXPECT_EQ(read_error<std::vector<int>>(1), "expected list, got 1");
}

TEST(ValueTraits, VectorOfFloatAndBool) {
  EXPECT_EQ(ts::dumps(value_traits<std::vector<float>>::to_json({0.1f, 0.2f})), "[0.1, 0.2]");
  EXPECT_EQ(round_trip(std::vector<bool>{true, false, true}), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(ts::dumps(value_traits<std::vector<bool>>::to_json({true, false})), "[true, false]");
  EXPECT_EQ(value_traits<std::vector<double>>::from_json(ts::parse_json("[1, 2.5]")),
            (std::vector<double>{1, 2.5}));
}

TEST(ValueTraits, NestedVectors) {
  const std::vector<std::vector<int>> grid{{1, 2}, {}, {3}};
  EXPECT_EQ(ts::dumps(value_traits<std::vector<std::vector<int>>>::to_json(grid)), "[[1, 2], [], [3]]");
  EXPECT_EQ(round_trip(grid), grid);
  const std::string reason = read_error<std::vector<std::vector<int>>>(ts::parse_json(R"([[1], [2, "x"]])"));
  // Both indices are reported, outer first.
  const auto outer = reason.find("[1]");
  const auto inner = reason.find("[1]", outer + 1);
  EXPECT_NE(outer, std::string::npos) << reason;
  EXPECT_NE(inner, std::string::npos) << reason;
  EXPECT_TRUE(reason.ends_with(R"(expected int, got "x")")) << reason;
  EXPECT_TRUE(contains(read_error<std::vector<std::vector<int>>>(ts::parse_json("[[1], 2]")),
                       "[1]: expected list, got 2"));
}

TEST(ValueTraits, MapOfStringToDouble) {
  const std::map<std::string, double> weights{{"b", 2.0}, {"a", 0.5}};
  EXPECT_EQ(ts::dumps(value_traits<std::map<std::string, double>>::to_json(weights)),
            R"({"a": 0.5, "b": 2.0})");
  EXPECT_EQ(round_trip(weights), weights);
  EXPECT_EQ((value_traits<std::map<std::string, double>>::from_json(ts::parse_json(R"({"x": 1})"))),
            (std::map<std::string, double>{{"x", 1.0}}));
  using Weights = std::map<std::string, double>;
  EXPECT_EQ(read_error<Weights>(ts::parse_json(R"({"a": 1, "b": "c"})")),
            R"(["b"]: expected float, got "c")");
  EXPECT_EQ(read_error<Weights>(ts::parse_json("[1]")), "expected dict, got [1]");
}

// Equal maps are equal values: their identity must not depend on the hash table's bucket layout.
TEST(ValueTraits, UnorderedMapIdentityDoesNotDependOnBucketLayout) {
  using Map = std::unordered_map<std::string, int>;
  Map small;
  Map large;
  large.reserve(4096);
  for (int i = 0; i < 64; ++i) small.emplace("k" + std::to_string(i), i);
  for (int i = 63; i >= 0; --i) large.emplace("k" + std::to_string(i), i);
  ASSERT_EQ(small, large);
  EXPECT_EQ(ts::dumps(value_traits<Map>::to_json(small)), ts::dumps(value_traits<Map>::to_json(large)));
  EXPECT_EQ(round_trip(small), small);
}

// A double outside float's range has no float value (converting it is undefined behaviour in C++); it is
// reported like an int outside its type's range.
TEST(ValueTraits, DoubleOutOfRangeForFloatIsAnError) {
  EXPECT_EQ(value_traits<float>::from_json(3.0e38), 3.0e38f);
  EXPECT_TRUE(contains(read_error<float>(1e300), "got 1e+300"));
  EXPECT_TRUE(contains(read_error<float>(-1e39), "got -1e+39"));
}

TEST(ValueTraits, Optional) {
  EXPECT_EQ(value_traits<std::optional<int>>::to_json(std::nullopt), Json(nullptr));
  EXPECT_EQ(value_traits<std::optional<int>>::to_json(5), Json(5));
  EXPECT_EQ(round_trip(std::optional<int>{}), std::nullopt);
  EXPECT_EQ(round_trip(std::optional<int>{0}), 0);
  EXPECT_EQ(value_traits<std::optional<int>>::from_json(nullptr), std::nullopt);
  EXPECT_EQ(read_error<std::optional<int>>("x"), R"(expected int, got "x")");
  EXPECT_EQ(round_trip(std::optional<std::vector<int>>{std::vector<int>{1}}), std::vector<int>{1});
}

// ---------------------------------------------------------------------------------------------------
// describe_json and conversion_error.

TEST(ValueTraits, DescribeJsonShowsShortValuesWhole) {
  EXPECT_EQ(ts::describe_json("abc"), R"("abc")");
  EXPECT_EQ(ts::describe_json(2.5), "2.5");
  EXPECT_EQ(ts::describe_json(2.0), "2.0");
  EXPECT_EQ(ts::describe_json(nullptr), "null");
  EXPECT_EQ(ts::describe_json(Json::array({1, 2})), "[1, 2]");
  EXPECT_EQ(ts::describe_json(Json::object()), "{}");
  EXPECT_EQ(ts::describe_json("é"), R"("\u00e9")");
}

TEST(ValueTraits, DescribeJsonTruncatesLongValues) {
  const std::string exactly(58, 'a');  // 60 characters with its quotes: kept whole
  EXPECT_EQ(ts::describe_json(exactly), "\"" + exactly + "\"");
  const std::string longer(59, 'a');
  const std::string described = ts::describe_json(longer);
  EXPECT_EQ(described.size(), 60U);
  EXPECT_EQ(described, "\"" + std::string(56, 'a') + "...");
  Json big = Json::array();
  for (int i = 0; i < 1000; ++i) big.push_back(i);
  const std::string list = ts::describe_json(big);
  EXPECT_EQ(list.size(), 60U);
  EXPECT_TRUE(list.starts_with("[0, 1, 2, 3")) << list;
  EXPECT_TRUE(list.ends_with("...")) << list;
}

TEST(ValueTraits, DescribeJsonOfUnprintableValue) {
  const std::string described = ts::describe_json(std::string("\xff"));
  EXPECT_FALSE(described.empty());
  EXPECT_TRUE(contains(described, "string")) << described;
}

TEST(ValueTraits, ConversionErrorHasAnEmptyPath) {
  try {
    ts::conversion_error("thing", Json(3));
    FAIL() << "conversion_error returned";
  } catch (const ts::ArgumentError& error) {
    EXPECT_EQ(error.path(), "");
    EXPECT_EQ(error.reason(), "expected thing, got 3");
    EXPECT_STREQ(error.what(), "expected thing, got 3");
  }
}

// ---------------------------------------------------------------------------------------------------
// User types.

TEST(UserValueTraits, EnumTravelsAsItsName) {
  EXPECT_EQ(value_traits<Reduction>::to_json(Reduction::sum), Json("sum"));
  EXPECT_EQ(value_traits<Reduction>::from_json("mean"), Reduction::mean);
  EXPECT_EQ(round_trip(Reduction::sum), Reduction::sum);
  EXPECT_EQ(read_error<Reduction>("avg"), R"(expected one of "mean", "sum", got "avg")");
  EXPECT_EQ(read_error<Reduction>(0), R"(expected one of "mean", "sum", got 0)");
  EXPECT_THROW(value_traits<Reduction>::to_json(Reduction::none), ts::ArgumentError);
}

TEST(UserValueTraits, DeclaredTypesWorkAsParameters) {
  ts::register_class<Loss(Reduction, Point)>("reduction"_a = Reduction::mean, "origin"_a = Point{});
  ts::Registry<Loss> losses;
  losses.add<Loss>();
  EXPECT_EQ(ts::dumps(losses.signature("Loss")), R"({"reduction": "str", "origin": "Point"})");
  EXPECT_EQ(ts::getclass(ts::create<Loss>()).describe(),
            R"(Loss(reduction: str = "mean", origin: Point = [0, 0]))");

  const auto loss = ts::create<Loss>(Reduction::sum, Point{1, 2});
  EXPECT_EQ(ts::dumps(ts::getarguments(loss)), R"({"reduction": "sum", "origin": [1, 2]})");
  EXPECT_EQ(ts::dumps(ts::getarguments(loss, ts::IdentityStyle::canonical)),
            R"({"reduction": "sum", "origin": [1, 2]})");

  const auto from_json = losses.create("Loss", ts::parse_json(R"({"reduction": "sum", "origin": [3, 4]})"));
  EXPECT_EQ(from_json->reduction, Reduction::sum);
  EXPECT_EQ(from_json->origin, (Point{3, 4}));
  EXPECT_EQ(ts::dumps(ts::getarguments(ts::create<Loss>(), ts::IdentityStyle::canonical)),
            R"({"reduction": "mean", "origin": [0, 0]})");
}

TEST(UserValueTraits, UnknownEnumNameIsAClearError) {
  ts::register_class<Loss(Reduction, Point)>("reduction"_a = Reduction::mean, "origin"_a = Point{});
  ts::Registry<Loss> losses;
  losses.add<Loss>();
  try {
    losses.create("Loss", Json{{"reduction", "avg"}});
    FAIL() << "accepted an unknown enumerator";
  } catch (const ts::ArgumentError& error) {
    EXPECT_STREQ(error.what(), R"(Loss.reduction: expected one of "mean", "sum", got "avg")");
  }
  try {
    losses.create("Loss", Json{{"origin", Json::array({1})}});
    FAIL() << "accepted a bad point";
  } catch (const ts::ArgumentError& error) {
    EXPECT_STREQ(error.what(), "Loss.origin: expected [x, y], got [1]");
  }
  try {
    losses.create("Loss", ts::parse_json(R"({"origin": [1, "y"]})"));
    FAIL() << "accepted a bad point";
  } catch (const ts::ArgumentError& error) {
    EXPECT_STREQ(error.what(), R"(Loss.origin: expected int, got "y")");
  }
}

}  // namespace
