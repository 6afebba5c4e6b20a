// The `torchsystem` program, run as a separate process the way users and scripts run it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "test_support.hpp"
#include "torchsystem/json_reader.hpp"

namespace torchsystem {
namespace {

using cli_runner::Cli;
using cli_runner::Outcome;
using cli_runner::read_file;
using cli_runner::split_lines;
using cli_runner::write_file;
using test_support::contains;

const std::string model_arguments = R"({"x": 1, "y": 2.0, "z": "3"})";
const std::string model_hash = "b12461be073bff9f5847f3f423767aa2";

TEST_F(Cli, HashOfTheExampleModel) {
  const Outcome result = run({"hash", "Model", model_arguments});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, model_hash + "\n");
  EXPECT_EQ(result.err, "");
}

// Python writes NaN and Infinity literals in json.dumps output, so lines it made may hold them. The hash
// was computed by python3: md5(('Model' + json.dumps({'x': nan, 'y': [inf, -inf]})).encode()).
TEST_F(Cli, AcceptsPythonsSpecialFloatLiterals) {
  const Outcome result = run({"hash", "Model", R"({"x": NaN, "y": [Infinity, -Infinity]})"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "1873b6ca94f329f849713a96c0095b03\n");
}

TEST_F(Cli, ArgumentsDefaultToAnEmptyObject) {
  const Outcome without = run({"hash", "Model"});
  EXPECT_EQ(without.status, 0) << without.err;
  EXPECT_EQ(without.out, "8c3c9e50fd2bfd47e24891bae2734ae3\n");  // python3: md5(b"Model{}")
  EXPECT_EQ(run({"hash", "Model", "{}"}).out, without.out);
  EXPECT_EQ(run({"hash", "Model", " { } "}).out, without.out);
}

TEST_F(Cli, ShowPrintsTheIdentityTextAfterTheHash) {
  const Outcome result = run({"hash", "--show", "Model", model_arguments});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, model_hash + "\nModel{\"x\": 1, \"y\": 2.0, \"z\": \"3\"}\n");
  EXPECT_EQ(run({"hash", "Model", model_arguments, "--show"}).out, result.out);
  // The identity text is shown exactly: Python's rendering, not the input's spelling (python3:
  // hashlib.md5(("É" + json.dumps({"k": [1e16, "é"]})).encode()).hexdigest()).
  EXPECT_EQ(run({"hash", "--show", "\xc3\x89", R"({"k":[1e16,"\u00e9"]})"}).out,
            "adb43144a502ba7b4916078a5605a6a3\n\xc3\x89{\"k\": [1e+16, \"\\u00e9\"]}\n");
}

TEST_F(Cli, DoubleDashAllowsANameStartingWithADash) {
  const Outcome result = run({"hash", "--", "-x", "{}"});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "507dcc078fa07567e0c1227ab67ce1d8\n");  // python3: md5(b"-x{}")
}

TEST_F(Cli, JsonlReproducesEveryReferenceVector) {
  const std::filesystem::path vectors =
      std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "python-identity.jsonl";
  std::string expected;
  for (const std::string& line : split_lines(read_file(vectors))) {
    expected += parse_json(line).at("hash").get<std::string>() + "\n";
  }
  ASSERT_EQ(split_lines(expected).size(), 400U);

  const Outcome from_file = run({"hash", "--jsonl", vectors.string()});
  EXPECT_EQ(from_file.status, 0) << from_file.err;
  EXPECT_EQ(from_file.out, expected);

  const std::string content = read_file(vectors);
  EXPECT_EQ(run({"hash", "--jsonl"}, content).out, expected);
  EXPECT_EQ(run({"hash", "--jsonl", "-"}, content).out, expected);
}

TEST_F(Cli, JsonlReportsBadLinesInPlace) {
  const std::string good = R"({"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}})";
  const std::vector<std::pair<std::string, std::string>> lines = {
      {good, model_hash},
      {"", "error: empty line"},
      {R"({"name": "Model", "arguments": )", "error: JSON error at byte 31 (end of input)"},
      {"[1, 2]", "error: expected a JSON object with a \"name\", got an array"},
      {R"({"arguments": {}})", "error: missing \"name\""},
      {R"({"name": 5})", "error: \"name\" must be a string, got an integer"},
      {R"({"name": "M", "arguments": [1]})", "error: \"arguments\" must be a JSON object, got an array"},
      {R"({"name": "M", "arguments": null})", "error: \"arguments\" must be a JSON object, got null"},
      {R"({"name": "M", "arguments": {"v": 99999999999999999999}})",
       "error: JSON error at byte 33: integer 9999"},
      {"{\"name\": \"M\xff\"}",
       "error: JSON error at byte 11: syntax error while parsing value - invalid string: "
       "ill-formed UTF-8 byte"},
      {R"({"name": "M", "arguments": )" + std::string(5000, '['),
       "error: JSON error at byte 1026: arrays and "
       "objects nested deeper than 1000 levels"},
      {R"({"name": "Model"})", "8c3c9e50fd2bfd47e24891bae2734ae3"},
      {R"({"name": "Model", "arguments": {}, "dumps": "ignored", "hash": 1})",
       "8c3c9e50fd2bfd47e24891bae2734ae3"},
      {good, model_hash},
  };
  std::string input;
  for (const auto& [line, expected] : lines) input += line + "\n";

  const Outcome result = run({"hash", "--jsonl"}, input);
  EXPECT_EQ(result.status, 1);
  const std::vector<std::string> out = split_lines(result.out);
  ASSERT_EQ(out.size(), lines.size()) << result.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].second.rfind("error: ", 0) == 0) {
      EXPECT_EQ(out[i].rfind(lines[i].second, 0), 0U) << "line " << i + 1 << ": " << out[i];
    } else {
      EXPECT_EQ(out[i], lines[i].second) << "line " << i + 1;
    }
  }
  EXPECT_TRUE(contains(result.err, "10 of 14 lines of standard input could not be hashed (first: line 2)"));
}

TEST_F(Cli, JsonlAcceptsCrlfAndALastLineWithoutNewline) {
  const std::string line = R"({"name": "Model", "arguments": {"x": 1, "y": 2.0, "z": "3"}})";
  const Outcome result = run({"hash", "--jsonl"}, line + "\r\n" + R"({"name": "Model"})" + "\r\n" + line);
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, model_hash + "\n8c3c9e50fd2bfd47e24891bae2734ae3\n" + model_hash + "\n");
  // Only the line break is removed: a CRLF blank line is an empty line, and a CR inside a line is kept.
  const Outcome blank = run({"hash", "--jsonl"}, line + "\r\n\r\n");
  EXPECT_EQ(blank.out, model_hash + "\nerror: empty line; expected a JSON object with a \"name\"\n");
  EXPECT_EQ(blank.status, 1);
  EXPECT_TRUE(
      contains(run({"hash", "--jsonl"}, "{\"name\": \"a\rb\"}\r\n").out,
               "error: JSON error at byte 11: syntax error while parsing value - invalid string: control "
               "character U+000D (CR) must be escaped"));
}

TEST_F(Cli, JsonlOfEmptyInputPrintsNothing) {
  const Outcome result = run({"hash", "--jsonl"}, "");
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST_F(Cli, JsonlHandlesOneHundredThousandLines) {
  // Lines cycle through the reference vectors; the file spans many read blocks, so lines cross block
  // boundaries.
  const std::vector<std::string> vectors =
      split_lines(read_file(std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "python-identity.jsonl"));
  ASSERT_EQ(vectors.size(), 400U);
  std::vector<std::string> inputs;
  std::vector<std::string> hashes;
  for (const std::string& vector : vectors) {
    const Json line = parse_json(vector);
    Json input = Json::object();
    input["name"] = line.at("name");
    input["arguments"] = line.at("arguments");
    inputs.push_back(input.dump());
    hashes.push_back(line.at("hash").get<std::string>());
  }
  std::string content;
  std::string expected;
  for (std::size_t i = 0; i < 100000; ++i) {
    content += inputs[i % inputs.size()] + "\n";
    expected += hashes[i % hashes.size()] + "\n";
  }
  write_file(path("big.jsonl"), content);

  const Outcome result = run({"hash", "--jsonl", path("big.jsonl").string()});
  EXPECT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(split_lines(result.out).size(), 100000U);
  EXPECT_TRUE(result.out == expected) << "output differs from the expected hashes";
}

TEST_F(Cli, BadArgumentsAreRefusedWithAMessage) {
  const struct {
    std::vector<std::string> arguments;
    std::string message;
  } cases[] = {
      {{"hash", "Model", "{\"x\": "}, "cannot read ARGUMENTS_JSON: JSON error at byte 6 (end of input)"},
      {{"hash", "Model", "[1, 2]"},
       "ARGUMENTS_JSON must be a JSON object such as '{\"x\": 1}', got an array"},
      {{"hash", "Model", "3"}, "ARGUMENTS_JSON must be a JSON object such as '{\"x\": 1}', got an integer"},
      {{"hash", "Model", R"({"x": 123456789012345678901})"},
       "cannot read ARGUMENTS_JSON: JSON error at byte 6: integer 123456789012345678901 is outside the "
       "64-bit"},
      {{"hash", "Model", "{\"x\": \"\xc0\x80\"}"},
       "cannot read ARGUMENTS_JSON: JSON error at byte 7: syntax error while parsing value - invalid string: "
       "ill-formed UTF-8"},
      {{"hash", "Mod\xe9l", "{}"}, "invalid UTF-8 in name at byte 3"},
      {{"hash", "Model", std::string(100000, '[')},
       "cannot read ARGUMENTS_JSON: JSON error at byte 1000: arrays and objects nested deeper than 1000 "
       "levels"},
      {{"hash", "Model", R"({"x": Nan})"},
       "cannot read ARGUMENTS_JSON: JSON error at byte 6: syntax error while parsing value - invalid "
       "literal"},
  };
  for (const auto& [arguments, message] : cases) {
    const Outcome result = run(arguments);
    EXPECT_EQ(result.status, 1) << arguments.back().substr(0, 40);
    EXPECT_EQ(result.out, "");
    EXPECT_TRUE(contains(result.err, "torchsystem hash: " + message));
  }
}

TEST_F(Cli, BadJsonlFilesAreRefusedWithAMessage) {
  const Outcome missing = run({"hash", "--jsonl", path("missing.jsonl").string()});
  EXPECT_EQ(missing.status, 1);
  EXPECT_TRUE(contains(missing.err, "cannot open '" + path("missing.jsonl").string() + "': No such file"));

  const Outcome directory = run({"hash", "--jsonl", dir_.string()});
  EXPECT_EQ(directory.status, 1);
  EXPECT_TRUE(contains(directory.err, "cannot read '" + dir_.string() + "'"));

  // One line nested 100,000 deep, one with invalid UTF-8 and a valid line after them.
  write_file(path("bad.jsonl"),
             std::string(100000, '[') + "\n{\"name\": \"\xed\xa0\x80\"}\n{\"name\": \"Model\"}\n");
  const Outcome bad = run({"hash", "--jsonl", path("bad.jsonl").string()});
  EXPECT_EQ(bad.status, 1);
  const std::vector<std::string> out = split_lines(bad.out);
  ASSERT_EQ(out.size(), 3U) << bad.out;
  EXPECT_TRUE(
      contains(out[0], "error: JSON error at byte 1000: arrays and objects nested deeper than 1000 levels"));
  EXPECT_TRUE(contains(out[1],
                       "error: JSON error at byte 11: syntax error while parsing value - invalid string: "
                       "ill-formed UTF-8 byte; last read: '\"\\xed\\xa0'"));
  EXPECT_EQ(out[2], "8c3c9e50fd2bfd47e24891bae2734ae3");
  EXPECT_TRUE(contains(bad.err, "2 of 3 lines of '" + path("bad.jsonl").string() + "' could not be hashed"));
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
  const struct {
    std::vector<std::string> arguments;
    std::string message;
  } cases[] = {
      {{}, "torchsystem: no command given"},
      {{"frobnicate"}, "torchsystem: unknown command 'frobnicate'"},
      {{"hash"}, "torchsystem hash: missing NAME"},
      {{"hash", "--bogus", "Model"}, "torchsystem hash: unknown option '--bogus'"},
      {{"hash", "Model", "{}", "{}"}, "torchsystem hash: too many arguments"},
      {{"hash", "--jsonl", "--show"}, "torchsystem hash: --show cannot be combined with --jsonl"},
      {{"hash", "--jsonl", "a", "b"}, "torchsystem hash: --jsonl takes at most one FILE"},
  };
  for (const auto& [arguments, message] : cases) {
    const Outcome result = run(arguments);
    EXPECT_EQ(result.status, 2) << message;
    EXPECT_EQ(result.out, "");
    EXPECT_TRUE(contains(result.err, message));
  }
  EXPECT_TRUE(contains(run({}).err, "usage: torchsystem <command>"));
  EXPECT_TRUE(contains(run({"hash"}).err, "run 'torchsystem hash --help'"));
}

TEST_F(Cli, HelpListsCommandsAndOptions) {
  for (const std::string option : {"--help", "-h"}) {
    const Outcome program = run({option});
    EXPECT_EQ(program.status, 0);
    EXPECT_TRUE(contains(program.out, "usage: torchsystem <command>"));
    EXPECT_TRUE(contains(program.out, "  hash         print the identity hash"));

    const Outcome hash = run({"hash", option});
    EXPECT_EQ(hash.status, 0);
    EXPECT_TRUE(contains(hash.out, "usage: torchsystem hash [--show] [--] NAME [ARGUMENTS_JSON]"));
    EXPECT_TRUE(contains(hash.out, "--jsonl [FILE]"));
    EXPECT_TRUE(contains(hash.out, "--show"));
    EXPECT_EQ(hash.err, "");
  }
}

}  // namespace
}  // namespace torchsystem
