// The main job (examples/reference.cpp) prints the reference's published identities.
#include <gtest/gtest.h>

#include "example_output.hpp"

namespace {

using example_output::ExampleOutput;

constexpr const char* reference_program = TORCHSYSTEM_REFERENCE_EXAMPLE;
constexpr const char* tour_program = TORCHSYSTEM_TOUR_EXAMPLE;
using ReferenceExample = ExampleOutput<reference_program>;
using TourExample = ExampleOutput<tour_program>;

// The reference's published values: its README and its test suite.
TEST_F(ReferenceExample, PrintsModelHash) {
  EXPECT_TRUE(
      prints("Model(1, 2.0, \"3\")\n  hash      b12461be073bff9f5847f3f423767aa2\n"
             "  arguments {\"x\": 1, \"y\": 2.0, \"z\": \"3\"}\n"))
      << output_;
}

TEST_F(ReferenceExample, PrintsPerceptronHash) {
  EXPECT_TRUE(
      prints("  hash      a8657a4057c4f7b3237aec904970630d\n"
             "  arguments {\"input_size\": 10, \"output_size\": 1}\n"))
      << output_;
}

TEST_F(ReferenceExample, PrintsNestedArguments) {
  EXPECT_TRUE(
      prints("  arguments {\"module\": {\"name\": \"Module\", \"arguments\": {\"x\": 1, \"y\": 2.0, \"z\": "
             "\"3\", \"t\": \"4\"}}}\n"))
      << output_;
  EXPECT_TRUE(prints("  arguments {\"module\": \"Dummy\"}\n")) << output_;
}

TEST_F(ReferenceExample, PrintsRegistryKeysAndSignatures) {
  EXPECT_TRUE(prints("registry keys [\"Foo\", \"bar\"]\n")) << output_;
  EXPECT_TRUE(prints("signature(Foo) {\"x\": \"int\", \"y\": \"float\", \"z\": \"str\"}\n")) << output_;
  EXPECT_TRUE(prints("signature(bar) {\"y\": \"float\"}\n")) << output_;
}

TEST_F(ReferenceExample, RebuildsFromConfigurationWithTheSameHash) {
  EXPECT_TRUE(prints("(same)")) << output_;
  EXPECT_FALSE(prints("(DIFFERENT)")) << output_;
}

}  // namespace

namespace {

// examples/tour.cpp runs the snippets of README.md and docs/registry.md.

TEST_F(TourExample, ReproducesTheSeedHashInCodeAndFromConfiguration) {
  EXPECT_TRUE(
      prints("MLP hash af51a51a38f7ad81f9523360fafe7068\nfrom config af51a51a38f7ad81f9523360fafe7068\n"))
      << output_;
}

TEST_F(TourExample, ReportsConfigurationErrorsWithTheirPath) {
  EXPECT_TRUE(prints("error: MLP.activation -> GLU.hidden_size: expected int, got \"abc\"\n")) << output_;
  EXPECT_TRUE(prints("error: MLP.hiden_size: unknown parameter; did you mean 'hidden_size'?")) << output_;
  EXPECT_TRUE(prints("error: MLP.activation: unknown name \"Relu\" in registry Layer; did you mean: ReLU?\n"))
      << output_;
  EXPECT_TRUE(prints("error: Loss.reduction: expected one of \"mean\", \"sum\", got \"none\"\n")) << output_;
  EXPECT_TRUE(prints("error: unknown name \"Mlp\" in registry Layer; did you mean: MLP?\n")) << output_;
}

TEST_F(TourExample, ShowsSignaturesAndMetadataAsTheReference) {
  EXPECT_TRUE(
      prints("signature(MLP) {\"input_size\": \"int\", \"hidden_size\": \"int\", \"output_size\": \"int\", "
             "\"dropout\": \"float\", \"activation\": \"Layer\"}\n"))
      << output_;
  EXPECT_TRUE(prints("getmetadata {\"arguments\": {\"x\": 1, \"y\": 2.0, \"z\": \"3\"}}\n")) << output_;
  EXPECT_TRUE(
      prints("{\"hash\": \"b12461be073bff9f5847f3f423767aa2\", \"name\": \"Model\", \"arguments\": "
             "{\"x\": 1, \"y\": 2.0, \"z\": \"3\"}}\n"))
      << output_;
}

TEST_F(TourExample, CanonicalIdentityIgnoresCallStyle) {
  EXPECT_TRUE(prints("python hashes differ: 1\ncanonical hashes equal: 1\n")) << output_;
}

}  // namespace
