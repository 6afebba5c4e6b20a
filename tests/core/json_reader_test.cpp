// The strict JSON reader. Where Python's json.loads is the reference for a behaviour (duplicate keys,
// number types), the expected text was obtained by running python3 by hand.
#include "torchsystem/json_reader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "test_support.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"

namespace torchsystem {
namespace {

using test_support::contains;

// The JsonError message of parse_json(text); fails the test when it parses or throws something else.
std::string json_error(const std::string& text) {
  try {
    parse_json(text);
  } catch (const JsonError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a JsonError: " << e.what();
    return "";
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 80);
  return "";
}

TEST(ParseJson, ReadsEveryValueType) {
  const Json value = parse_json(R"( {"n": null, "t": true, "f": false, "i": -5, "u": 7, "d": 2.5,
                                     "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "a": [], "o": {}} )");
  ASSERT_TRUE(value.is_object());
  EXPECT_TRUE(value["n"].is_null());
  EXPECT_EQ(value["t"], true);
  EXPECT_EQ(value["f"], false);
  EXPECT_TRUE(value["i"].is_number_integer());
  EXPECT_EQ(value["i"].get<std::int64_t>(), -5);
  EXPECT_EQ(value["u"].get<std::int64_t>(), 7);
  EXPECT_TRUE(value["d"].is_number_float());
  EXPECT_EQ(value["s"].get<std::string>(), "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(value["a"].is_array());
  EXPECT_TRUE(value["o"].is_object());
}

TEST(ParseJson, KeepsNumberTypesAsPythonDoes) {
  // python3: json.dumps(json.loads('[1, 1.0, -0, -0.0, 1e2, 1E-7, 1.5e300, 18446744073709551615,
  //                                  -9223372036854775808]'))
  EXPECT_EQ(
      dumps(parse_json("[1, 1.0, -0, -0.0, 1e2, 1E-7, 1.5e300, 18446744073709551615, -9223372036854775808]")),
      "[1, 1.0, 0, -0.0, 100.0, 1e-07, 1.5e+300, 18446744073709551615, -9223372036854775808]");
}

TEST(ParseJson, KeepsKeysInDocumentOrder) {
  EXPECT_EQ(dumps(parse_json(R"({"z": 1, "a": 2, "m": {"y": 1, "b": 2}})")),
            R"({"z": 1, "a": 2, "m": {"y": 1, "b": 2}})");
}

TEST(ParseJson, RepeatedKeyKeepsLastValueAtFirstPosition) {
  // python3: json.dumps(json.loads('{"a": [1], "b": 2, "a": {"c": 3}, "b": [4]}'))
  EXPECT_EQ(dumps(parse_json(R"({"a": [1], "b": 2, "a": {"c": 3}, "b": [4]})")),
            R"({"a": {"c": 3}, "b": [4]})");
  // python3: json.dumps(json.loads('{"a": 1, "b": {"x": 1, "x": 2}, "a": null}'))
  EXPECT_EQ(dumps(parse_json(R"({"a": 1, "b": {"x": 1, "x": 2}, "a": null})")),
            R"({"a": null, "b": {"x": 2}})");
}

TEST(ParseJson, RepeatedKeyInLargeObject) {
  // Past a handful of keys the reader switches to a hash index; the Python rule must still hold.
  std::string text = "{";
  std::string expected = "{";
  for (int i = 0; i < 100; ++i) {
    text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    expected += "\"k" + std::to_string(i) + "\": " + std::to_string(i == 5 ? -5 : i == 50 ? -50 : i) + ", ";
  }
  text += R"("k50": -50, "k5": 0, "k5": -5, "new": true})";
  expected += R"("new": true})";
  EXPECT_EQ(dumps(parse_json(text)), expected);
}

TEST(ParseJson, ReadsManyKeysInLinearTime) {
  // 100,000 distinct keys would take minutes with a linear key lookup per insertion.
  std::string text = "{";
  for (int i = 0; i < 100000; ++i)
    text += (i ? R"(, ")" : R"(")") + std::to_string(i) + R"(": )" + std::to_string(i);
  text += R"(, "99999": "last"})";
  const Json value = parse_json(text);
  ASSERT_EQ(value.size(), 100000U);
  EXPECT_EQ(value["99999"], "last");
  EXPECT_EQ(value.begin().key(), "0");
}

TEST(ParseJson, AcceptsWhitespaceAroundTheDocument) {
  EXPECT_EQ(parse_json(" \t\r\n[1]\n "), Json::array({1}));
  EXPECT_EQ(parse_json("\"s\""), Json("s"));
  EXPECT_EQ(parse_json("3"), Json(3));
}

TEST(ParseJson, RefusesIntegersOutsideSixtyFourBits) {
  EXPECT_EQ(parse_json("18446744073709551615").get<std::uint64_t>(),
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(parse_json("-9223372036854775808").get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());

  const std::string too_big = json_error(R"({"a": 18446744073709551616})");
  EXPECT_TRUE(
      contains(too_big, "JSON error at byte 6: integer 18446744073709551616 is outside the 64-bit range"));
  EXPECT_TRUE(
      contains(json_error("-9223372036854775809"), "at byte 0: integer -9223372036854775809 is outside"));
  EXPECT_TRUE(contains(json_error("[1, 123456789012345678901234567890]"), "at byte 4: integer 1234567890"));
  // The same literal twice: the offset must be the second one's, the one refused.
  EXPECT_TRUE(contains(json_error("[1e30, 100000000000000000000000000000]"), "at byte 7: integer"));
  // Floats of any size are floats, as in Python.
  EXPECT_EQ(dumps(parse_json("[123456789012345678901234567890.0, 1e30]")), "[1.2345678901234568e+29, 1e+30]");
}

TEST(ParseJson, RefusesNestingBeyondTheLimitWithoutRecursing) {
  const std::string deepest = std::string(max_nesting_depth, '[') + std::string(max_nesting_depth, ']');
  EXPECT_EQ(dumps(parse_json(deepest)), deepest);

  const std::size_t too_deep = max_nesting_depth + 1;
  EXPECT_TRUE(contains(json_error(std::string(too_deep, '[') + std::string(too_deep, ']')),
                       "at byte 1000: arrays and objects nested deeper than 1000 levels"));

  // 100,000 levels: refused when level 1001 opens, long before the text ends.
  EXPECT_TRUE(contains(json_error(std::string(100000, '[')), "nested deeper than 1000 levels"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_TRUE(contains(json_error(objects), "at byte 5000: arrays and objects nested deeper"));
}

TEST(ParseJson, RefusesInvalidUtf8) {
  for (const std::string text : {"\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                                 "\"\xe2\x82\"", "{\"\x80\": 1}", "[\xc3]"}) {
    const std::string message = json_error(text);
    EXPECT_TRUE(contains(message, "JSON error at byte ")) << message;
    // Messages quote the input; they must stay printable ASCII even when the input is not UTF-8.
    for (const char c : message) {
      EXPECT_TRUE(c >= 0x20 && c < 0x7F) << "unprintable byte in message: " << message;
    }
  }
  EXPECT_TRUE(contains(json_error("[\"ok\", \"\xff\"]"),
                       "at byte 8: syntax error while parsing value - invalid string: "
                       "ill-formed UTF-8 byte; last read: '\"\\xff'"));
}

TEST(ParseJson, RefusesMalformedText) {
  EXPECT_TRUE(contains(json_error(""),
                       "at byte 0 (end of input): syntax error while parsing value - unexpected end"));
  EXPECT_TRUE(contains(json_error("   "), "at byte 3 (end of input)"));
  EXPECT_TRUE(contains(json_error("[1, 2"), "at byte 5 (end of input)"));
  EXPECT_TRUE(contains(json_error(R"({"a" 1})"), "at byte 5: syntax error while parsing object separator"));
  EXPECT_TRUE(contains(json_error("[1,]"), "at byte 3"));
  EXPECT_TRUE(contains(json_error("{'a': 1}"), "at byte 1"));
  EXPECT_TRUE(contains(json_error("01"), "expected end of input"));
  EXPECT_TRUE(contains(json_error("\"a\nb\""), "control character U+000A (LF) must be escaped"));
  // Python's literals are accepted exactly as written: nothing else that starts like them.
  EXPECT_TRUE(contains(json_error(R"({"a": Nan})"), "invalid literal"));
  EXPECT_TRUE(contains(json_error("NaNa"), "at byte 3"));
  EXPECT_TRUE(contains(json_error("-Inf"), "at byte 1"));
  EXPECT_TRUE(contains(json_error("nan"), "invalid literal"));
  // A lone surrogate escape has no UTF-8 form, so it cannot be kept.
  EXPECT_TRUE(contains(json_error(R"("\ud800")"), "surrogate"));
  // Python reads 1e400 as inf; refusing it is safer than hashing a value nobody wrote.
  EXPECT_TRUE(contains(json_error("1e400"), "number overflow"));
}

// Python's json.loads reads NaN, Infinity and -Infinity, and json.dumps writes them, so a line made by
// Python may hold them. The expected hash was computed by python3:
//   hashlib.md5(('F' + json.dumps(json.loads(text))).encode()).hexdigest()
TEST(ParseJson, ReadsPythonsSpecialFloatLiterals) {
  const std::string text = R"({"a": NaN, "b": [Infinity, -Infinity], "c": "NaN", "d": "-Infinity"})";
  const Json value = parse_json(text);
  EXPECT_TRUE(std::isnan(value["a"].get<double>()));
  EXPECT_EQ(value["b"][0].get<double>(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(value["b"][1].get<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(value["c"], "NaN");
  EXPECT_EQ(value["d"], "-Infinity");
  EXPECT_EQ(dumps(value), text);
  EXPECT_EQ(identity_hash("F", parse_json(R"({"a": NaN, "b": [Infinity, -Infinity], "c": "NaN"})")),
            "3b05dda533c3597e063d63a75f917a67");
}

TEST(ParseJson, KeepsLiteralZerosThatLookLikeTheSubstitutes) {
  // The reader stands in underflowing numbers for Python's literals; the same digits written in the text
  // are still the number they say.
  const Json value = parse_json("[0e-999999990, NaN, -0e-999999991]");
  EXPECT_EQ(value[0].get<double>(), 0.0);
  EXPECT_TRUE(std::isnan(value[1].get<double>()));
  EXPECT_EQ(value[2].get<double>(), 0.0);
  EXPECT_TRUE(std::signbit(value[2].get<double>()));
}

TEST(ParseJson, RefusesTrailingText) {
  EXPECT_TRUE(contains(json_error("[1] x"), "at byte 4"));
  EXPECT_TRUE(contains(json_error("{} {}"), "expected end of input"));
  EXPECT_TRUE(contains(json_error("[1]]"), "expected end of input"));
}

TEST(ParseJson, ReportsLineAndColumnInMultiLineText) {
  EXPECT_TRUE(contains(json_error("{\n  \"a\": 1,\n  \"b\": tru\n}"), "at byte 22 (line 3, column 11)"));
}

TEST(ParseJson, ErrorIsAnError) {
  // Callers catch torchsystem::Error at their boundary.
  EXPECT_THROW(parse_json("["), Error);
}

}  // namespace
}  // namespace torchsystem
