// Identity text and hash against Python, the oracle.
//
// Expected strings written out below were produced by running python3 (json.dumps, repr, hashlib.md5)
// by hand; the vector files were produced by the Python reference (python-identity.jsonl) and by
// scripts/make_vectors.py (python-identity-extra.jsonl).
#include "torchsystem/identity.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem {
namespace {

using test_support::contains;

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// ---------------------------------------------------------------------------------------------------
// Python vectors, one CTest test per line.

struct VectorLine {
  std::string file;
  std::size_t number = 0;  // 1-based; 0 marks a file that could not be read
  std::string text;
};

// CTest shows the parameter in each test's name; the default would be a hex dump of the struct.
void PrintTo(const VectorLine& vector, std::ostream* out) {
  *out << vector.file << ":" << vector.number;
}

std::vector<VectorLine> load_vectors(const std::string& file) {
  const std::vector<std::string> lines = read_lines(std::filesystem::path(TORCHSYSTEM_TEST_DATA) / file);
  std::vector<VectorLine> vectors;
  for (std::size_t i = 0; i < lines.size(); ++i) vectors.push_back({file, i + 1, lines[i]});
  // A missing or empty file must fail loudly instead of instantiating no test at all.
  if (vectors.empty()) vectors.push_back({file, 0, ""});
  return vectors;
}

// NaN and infinities have no JSON spelling; make_vectors.py writes them as marker strings.
void restore_nonfinite(Json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "$NaN") {
      value = std::numeric_limits<double>::quiet_NaN();
    } else if (text == "$Infinity") {
      value = std::numeric_limits<double>::infinity();
    } else if (text == "$-Infinity") {
      value = -std::numeric_limits<double>::infinity();
    }
  } else if (value.is_structured()) {
    for (auto& element : value) restore_nonfinite(element);
  }
}

// Checks one vector line; returns an empty string when it matches Python, else what differs.
std::string check_vector(const std::string& text) {
  const Json line = parse_json(text);
  const auto& name = line.at("name").get_ref<const std::string&>();
  Json arguments = line.at("arguments");
  if (line.value("nonfinite_markers", false)) restore_nonfinite(arguments);
  const auto& expected_dumps = line.at("dumps").get_ref<const std::string&>();
  const auto& expected_hash = line.at("hash").get_ref<const std::string&>();
  std::string problems;
  const std::string rendered = dumps(arguments);
  if (rendered != expected_dumps) {
    problems += "dumps differs:\n  expected " + expected_dumps + "\n  actual   " + rendered + "\n";
  }
  const std::string hash = identity_hash(name, arguments);
  if (hash != expected_hash)
    problems += "hash differs: expected " + expected_hash + ", actual " + hash + "\n";
  if (identity_text(name, arguments) != name + expected_dumps) problems += "identity_text differs\n";
  return problems;
}

class PythonVector : public ::testing::TestWithParam<VectorLine> {};

TEST_P(PythonVector, MatchesPython) {
  const VectorLine& vector = GetParam();
  ASSERT_NE(vector.number, 0U) << "cannot read " << TORCHSYSTEM_TEST_DATA << "/" << vector.file;
  EXPECT_EQ(check_vector(vector.text), "") << vector.file << " line " << vector.number;
}

std::string line_name(const ::testing::TestParamInfo<VectorLine>& info) {
  return "line_" + std::to_string(info.param.number);
}

INSTANTIATE_TEST_SUITE_P(Reference, PythonVector, ::testing::ValuesIn(load_vectors("python-identity.jsonl")),
                         line_name);
INSTANTIATE_TEST_SUITE_P(Extra, PythonVector,
                         ::testing::ValuesIn(load_vectors("python-identity-extra.jsonl")), line_name);

TEST(PythonVectorFiles, HaveTheExpectedNumberOfLines) {
  // A truncated copy would silently drop cases from the parameterized tests above.
  EXPECT_EQ(read_lines(std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "python-identity.jsonl").size(), 400U);
  EXPECT_EQ(read_lines(std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "python-identity-extra.jsonl").size(),
            707U);
}

#ifdef TORCHSYSTEM_SHARED_VECTORS
// Built only where the shared vectors sit beside the checkout (CI has them; a bare clone does not): they
// may hold more cases than the committed copy.
TEST(PythonVectorFiles, SharedVectorsMatch) {
  const std::filesystem::path path =
      std::filesystem::path(TORCHSYSTEM_SHARED_VECTORS) / "python-identity.jsonl";
  const std::vector<std::string> lines = read_lines(path);
  ASSERT_FALSE(lines.empty()) << path << " is empty";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(check_vector(lines[i]), "") << path << " line " << i + 1;
  }
}
#endif

// ---------------------------------------------------------------------------------------------------
// Float repr.

TEST(PythonFloatRepr, MatchesPythonAtLayoutBoundaries) {
  const std::pair<double, const char*> cases[] = {
      {1e16, "1e+16"},
      {1e-5, "1e-05"},
      {1e-4, "0.0001"},
      {1e15, "1000000000000000.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {1.2345678901234568e+16, "1.2345678901234568e+16"},
      {1.0000000000000002e+16, "1.0000000000000002e+16"},
      {99999999999999.98, "99999999999999.98"},
      {5e-324, "5e-324"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {-0.0, "-0.0"},
      {0.0, "0.0"},
      {1.5, "1.5"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {1e22, "1e+22"},
      {1e100, "1e+100"},
      {1e-100, "1e-100"},
      {123456789.0, "123456789.0"},
      {0.00012345, "0.00012345"},
      {1.2345e-5, "1.2345e-05"},
      {-1e-7, "-1e-07"},
      {9223372036854775808.0, "9.223372036854776e+18"},
      {1e-4 * 3, "0.00030000000000000003"},
      {0.001, "0.001"},
      {123.456, "123.456"},
  };
  for (const auto& [value, expected] : cases) EXPECT_EQ(python_float_repr(value), expected) << expected;
}

TEST(PythonFloatRepr, NonFiniteValuesUseJsonDumpsSpelling) {
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(PythonFloatRepr, RoundTripsRandomBitPatterns) {
  // Python's repr is the shortest text that reads back as the same double; check that property broadly.
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (int i = 0; i < 100000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double value = 0;
    std::memcpy(&value, &state, sizeof value);
    if (!std::isfinite(value)) continue;
    const std::string text = python_float_repr(value);
    ASSERT_EQ(std::strtod(text.c_str(), nullptr), value) << text;
    ASSERT_TRUE(text.find_first_of(".e") != std::string::npos) << text;
  }
}

// ---------------------------------------------------------------------------------------------------
// dumps.

TEST(Dumps, UsesPythonSeparatorsAndKeepsKeyOrder) {
  Json value = Json::object();
  value["z"] = 1;
  value["a"] = Json::array({1, Json::array({2, Json::object()}), Json::object({{"b", Json::array()}})});
  value["t"] = true;
  value["f"] = false;
  value["n"] = nullptr;
  EXPECT_EQ(dumps(value), R"({"z": 1, "a": [1, [2, {}], {"b": []}], "t": true, "f": false, "n": null})");
  EXPECT_EQ(dumps(Json::object()), "{}");
  EXPECT_EQ(dumps(Json::array()), "[]");
}

TEST(Dumps, IntegersAndFloatsStayDistinct) {
  EXPECT_EQ(dumps(Json::array({2, 2.0, -0.0})), "[2, 2.0, -0.0]");
  EXPECT_EQ(dumps(Json(std::numeric_limits<std::int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(dumps(Json(std::numeric_limits<std::int64_t>::max())), "9223372036854775807");
  EXPECT_EQ(dumps(Json(std::numeric_limits<std::uint64_t>::max())), "18446744073709551615");
}

TEST(Dumps, NonFiniteFloatsMatchPython) {
  // python3: json.dumps({"a": math.nan, "b": [math.inf, -math.inf]}) and md5("Special" + that)
  Json value = Json::object();
  value["a"] = std::numeric_limits<double>::quiet_NaN();
  value["b"] =
      Json::array({std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()});
  EXPECT_EQ(dumps(value), R"({"a": NaN, "b": [Infinity, -Infinity]})");
  EXPECT_EQ(identity_hash("Special", value), "698de293583230d3c0a0ed71de6866a4");
}

TEST(Dumps, EscapesLikeEnsureAscii) {
  // python3: json.dumps('\x00\x1f\x7f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\u2028/"\\é😀\b\f\n\r\t')
  const std::string text =
      std::string("\x00\x1f\x7f", 3) + "\u0080\u07ff\u0800\uffff\U00010000\U0010ffff\u2028/\"\\é😀\b\f\n\r\t";
  EXPECT_EQ(
      dumps(Json(text)),
      R"("\u0000\u001f\u007f\u0080\u07ff\u0800\uffff\ud800\udc00\udbff\udfff\u2028/\"\\\u00e9\ud83d\ude00\b\f\n\r\t")");
  EXPECT_EQ(dumps(Json::object({{"\xc3\xa9", "k"}})), R"({"\u00e9": "k"})");
}

TEST(Dumps, RefusesInvalidUtf8AndSaysWhere) {
  Json value = Json::object();
  value["a"] = Json::array({"ok", "x\xff"});
  const std::string message = message_of([&] { dumps(value); });
  EXPECT_TRUE(contains(message, "invalid UTF-8 in string at byte 1"));
  EXPECT_TRUE(contains(message, "value at /a/1"));
  EXPECT_THROW(dumps(value), IdentityError);

  Json bad_key = Json::object();
  bad_key["a"] = Json::object({{"ok", 1}, {"k\xed\xa0\x80", 2}});
  const std::string key_message = message_of([&] { dumps(bad_key); });
  EXPECT_TRUE(contains(key_message, "invalid UTF-8 in string at byte 1"));
  EXPECT_TRUE(contains(key_message, "key at /a/k\\xed\\xa0\\x80"));
  EXPECT_TRUE(contains(key_message, "surrogate"));

  EXPECT_TRUE(contains(message_of([] { dumps(Json("\xc3")); }), "top-level value"));
}

TEST(Dumps, LeavesTheBufferUnchangedOnError) {
  std::string out = "prefix";
  EXPECT_THROW(dumps_append(out, Json::array({1, "\x80"})), IdentityError);
  EXPECT_EQ(out, "prefix");
  dumps_append(out, Json::array({1}));
  EXPECT_EQ(out, "prefix[1]");
}

TEST(Dumps, RefusesBinaryAndDiscardedValues) {
  EXPECT_THROW(dumps(Json::binary({1, 2, 3})), IdentityError);
  EXPECT_THROW(dumps(Json::array({Json::binary({1})})), IdentityError);
  EXPECT_THROW(dumps(Json(Json::value_t::discarded)), IdentityError);
  EXPECT_TRUE(contains(message_of([] { dumps(Json::binary({1})); }), "binary"));
}

Json nested_arrays(std::size_t depth) {
  Json value = Json::array();
  for (std::size_t i = 1; i < depth; ++i) value = Json::array({std::move(value)});
  return value;
}

TEST(Dumps, AcceptsMaximumDepthAndRefusesOneMore) {
  const std::string rendered = dumps(nested_arrays(max_nesting_depth));
  EXPECT_EQ(rendered, std::string(max_nesting_depth, '[') + std::string(max_nesting_depth, ']'));
  EXPECT_THROW(dumps(nested_arrays(max_nesting_depth + 1)), IdentityError);
  EXPECT_TRUE(contains(message_of([] { dumps(nested_arrays(max_nesting_depth + 1)); }), "deeper than 1000"));

  Json objects = Json::object();
  for (std::size_t i = 1; i <= max_nesting_depth; ++i) objects = Json::object({{"k", std::move(objects)}});
  EXPECT_THROW(dumps(objects), IdentityError);  // 1001 levels of objects
}

// ---------------------------------------------------------------------------------------------------
// require_utf8.

TEST(RequireUtf8, AcceptsWellFormedText) {
  for (const char* text :
       {"", "ascii", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "\xf0\x9f\x98\x80"}) {
    EXPECT_NO_THROW(require_utf8(text, "name")) << text;
  }
  EXPECT_NO_THROW(require_utf8(std::string_view("a\0b", 3), "name"));
}

TEST(RequireUtf8, RefusesMalformedTextWithOffsetAndReason) {
  const struct {
    std::string text;
    std::string expected;
  } cases[] = {
      {"ab\xc0\x80", "invalid UTF-8 in name at byte 2: overlong encoding"},
      {"\xe0\x80\x80", "at byte 0: overlong encoding"},
      {"\xf0\x80\x80\x80", "at byte 0: overlong encoding"},
      {"x\xed\xa0\x80", "at byte 1: UTF-16 surrogate"},
      {"\xed\xbf\xbf", "at byte 0: UTF-16 surrogate"},
      {"\xf4\x90\x80\x80", "at byte 0: code point above U+10FFFF"},
      {"\xf5\x80\x80\x80", "at byte 0: byte that never occurs in UTF-8"},
      {"abc\xff", "at byte 3: byte that never occurs in UTF-8"},
      {"\xe2\x82", "at byte 0: sequence cut off by the end of the string"},
      {"ok\xf0\x9f\x98", "at byte 2: sequence cut off"},
      {"\x80", "at byte 0: continuation byte without a lead byte"},
      {"a\xc3"
       "a",
       "at byte 1: lead byte not followed by a continuation byte"},
      {"\xe2\x28\xa1", "at byte 0: lead byte not followed by a continuation byte"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_THROW(require_utf8(text, "name"), IdentityError);
    // A named copy for the lambda: clang 14 cannot capture structured bindings (C++20 allows it).
    const std::string_view input = text;
    EXPECT_TRUE(contains(message_of([&] { require_utf8(input, "name"); }), expected));
  }
}

// ---------------------------------------------------------------------------------------------------
// MD5 and the identity.

TEST(Md5Hex, MatchesTheRfc1321TestSuite) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5Hex, HashesEmbeddedNulBytes) {
  EXPECT_EQ(md5_hex(std::string_view("\0", 1)), "93b885adfe0da089cdf634904fd59f71");
}

TEST(Md5Hex, GivesTheSameAnswerOnEveryThread) {
  // Each thread reuses its own digest context; interleaved use must not mix states.
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (auto& result : results) {
    threads.emplace_back([&result] {
      std::string last;
      for (int i = 0; i < 2000; ++i) last = md5_hex(i % 2 == 0 ? "abc" : "message digest");
      result = md5_hex("abc") + last;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) {
    EXPECT_EQ(result, "900150983cd24fb0d6963f7d28e17f72f96b697d7cb7938d525a2f31aaf161d0");
  }
}

TEST(Identity, TextIsNameFollowedByDumps) {
  const Json arguments = parse_json(R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(identity_text("Model", arguments), R"(Model{"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(identity_hash("Model", arguments), "b12461be073bff9f5847f3f423767aa2");
  EXPECT_EQ(identity_hash("Model", Json::object()), "8c3c9e50fd2bfd47e24891bae2734ae3");
  EXPECT_EQ(identity_hash("", Json::object()), "99914b932bd37a50b983c5e7c90ae93b");
}

TEST(Identity, NameIsHashedAsUtf8NotEscaped) {
  // python3: hashlib.md5(("Étude" + json.dumps({"x": 1, "y": 2.0, "z": "3"})).encode()).hexdigest()
  const Json arguments = parse_json(R"({"x": 1, "y": 2.0, "z": "3"})");
  EXPECT_EQ(identity_text("\xc3\x89tude", arguments), "\xc3\x89tude{\"x\": 1, \"y\": 2.0, \"z\": \"3\"}");
}

TEST(Identity, RefusesNameThatIsNotUtf8) {
  EXPECT_THROW(identity_hash("Mod\xffl", Json::object()), IdentityError);
  EXPECT_TRUE(contains(message_of([] { identity_text("Mod\xffl", Json::object()); }),
                       "invalid UTF-8 in name at byte 3"));
}

TEST(Identity, HashIsUnaffectedByAnEarlierFailure) {
  // identity_hash reuses a per-thread buffer; a failed call must not leave text behind for the next one.
  EXPECT_THROW(identity_hash("Model", Json::array({"\xff"})), IdentityError);
  EXPECT_EQ(identity_hash("Model", parse_json(R"({"x": 1, "y": 2.0, "z": "3"})")),
            "b12461be073bff9f5847f3f423767aa2");
}

// The checkpoint store's readable sidecar: Python's json.dumps(value, indent=2), both texts below written
// by Python 3.11's json module from one value (nested empty containers, a float in exponent form, NaN,
// escapes and non-ASCII text).
TEST(DumpsIndented, IsPythonsJsonDumpsWithIndentTwo) {
  const Json value = parse_json(
      R"json({"format": "torchsystem-checkpoint/2", "model": {"name": "MLP", "hash": "af51", "arguments": {"sizes": [1, 2.5, []], "empty": {}, "text": "\u00e9\"\n", "none": null, "flag": true}}, "epoch": 3, "extra": {"history": [{"loss": 1e-07, "nan": NaN}], "list": []}})json");
  EXPECT_EQ(dumps_indented(value), R"json({
  "format": "torchsystem-checkpoint/2",
  "model": {
    "name": "MLP",
    "hash": "af51",
    "arguments": {
      "sizes": [
        1,
        2.5,
        []
      ],
      "empty": {},
      "text": "\u00e9\"\n",
      "none": null,
      "flag": true
    }
  },
  "epoch": 3,
  "extra": {
    "history": [
      {
        "loss": 1e-07,
        "nan": NaN
      }
    ],
    "list": []
  }
})json");
  EXPECT_EQ(dumps_indented(Json::object()), "{}");
  EXPECT_EQ(dumps_indented(Json::array()), "[]");
  EXPECT_EQ(dumps_indented(Json(1.5)), "1.5");
}

}  // namespace
}  // namespace torchsystem
