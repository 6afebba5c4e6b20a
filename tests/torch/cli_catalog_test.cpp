// `torchsystem list`, `signature` and `create` on the catalog, run as a separate process.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace cli_catalog_test {

namespace ts = torchsystem;
using cli_runner::Cli;
using cli_runner::Outcome;

using CatalogCli = Cli;

TEST_F(CatalogCli, ListJsonIsEveryCatalogNameInOrder) {
  const Outcome result = run({"list", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  const auto& catalog = ts::torch_catalog();
  ts::Json expected = ts::Json::array();
  for (const auto* registry : {static_cast<const ts::RegistryBase*>(&catalog.modules),
                               static_cast<const ts::RegistryBase*>(&catalog.losses),
                               static_cast<const ts::RegistryBase*>(&catalog.optimizers)}) {
    for (const auto& key : registry->keys()) expected.push_back(key);
  }
  EXPECT_EQ(ts::parse_json(result.out), expected);
}

TEST_F(CatalogCli, ListShowsGroupsAndSignatures) {
  const Outcome result = run({"list"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("Modules ("), std::string::npos);
  EXPECT_NE(result.out.find("\n  Linear(in_features: int, out_features: int, bias: bool = true)\n"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("Losses ("), std::string::npos);
  EXPECT_NE(result.out.find("Optimizers ("), std::string::npos);
}

TEST_F(CatalogCli, SignatureJsonIsTheParametersInOrder) {
  const Outcome result = run({"signature", "Adam", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  const ts::Json signature = ts::parse_json(result.out);
  std::vector<std::string> names;
  for (const auto& [key, value] : signature.items()) names.push_back(key);
  ASSERT_GE(names.size(), 5U);
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 5),
            (std::vector<std::string>{"lr", "betas", "eps", "weight_decay", "amsgrad"}))
      << "params is left out of identity, so out of the signature";
  EXPECT_EQ(signature["lr"], "float");
}

TEST_F(CatalogCli, SignaturePlainShowsDefaults) {
  const Outcome result = run({"signature", "Linear"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(result.out, "Linear(in_features: int, out_features: int, bias: bool = true)\n");
}

TEST_F(CatalogCli, SignatureOfAnUnknownNameSuggests) {
  const Outcome result = run({"signature", "Lineer"});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.err,
            "torchsystem signature: unknown name \"Lineer\" in torchsystem; did you mean: Linear?\n");
}

TEST_F(CatalogCli, CreateFromStandardInputPrintsIdentity) {
  const std::string config = R"({"name": "Linear", "arguments": {"in_features": 4, "out_features": 2}})";
  const Outcome result = run({"create", "-"}, config);
  ASSERT_EQ(result.status, 0) << result.err;
  const ts::Json printed = ts::parse_json(result.out);
  EXPECT_EQ(printed["name"], "Linear");
  EXPECT_EQ(printed["arguments"], ts::parse_json(config)["arguments"]);
  EXPECT_EQ(printed["hash"], ts::identity_hash("Linear", printed["arguments"]));
  EXPECT_EQ(printed["parameters"], 4 * 2 + 2);
  EXPECT_EQ(printed["kind"], "module");
}

TEST_F(CatalogCli, CreateFromAFileBuildsLossesAndOptimizers) {
  cli_runner::write_file(path("adam.json"),
                         R"({"name": "Adam", "arguments": {"lr": 0.01, "betas": [0.8, 0.9]}})");
  const Outcome adam = run({"create", path("adam.json").string()});
  ASSERT_EQ(adam.status, 0) << adam.err;
  EXPECT_EQ(ts::parse_json(adam.out)["hash"],
            ts::identity_hash("Adam", ts::parse_json(R"({"lr": 0.01, "betas": [0.8, 0.9]})")));
  EXPECT_EQ(ts::parse_json(adam.out)["kind"], "optimizer");
  const Outcome loss = run({"create", "-"}, R"({"name": "CrossEntropyLoss"})");
  ASSERT_EQ(loss.status, 0) << loss.err;
  EXPECT_EQ(ts::parse_json(loss.out)["hash"], ts::identity_hash("CrossEntropyLoss", ts::Json::object()));
}

TEST_F(CatalogCli, CreateErrorsGiveThePathOfTheFault) {
  const Outcome bad_value =
      run({"create", "-"}, R"({"name": "Linear", "arguments": {"in_features": "four", "out_features": 2}})");
  EXPECT_EQ(bad_value.status, 1);
  EXPECT_EQ(bad_value.err, "torchsystem create: Linear.in_features: expected int, got \"four\"\n");
  EXPECT_EQ(bad_value.out, "");
  const Outcome unknown = run({"create", "-"}, R"({"name": "Linear", "arguments": {"in_feature": 4}})");
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("Linear.in_feature: unknown parameter; did you mean 'in_features'?"),
            std::string::npos)
      << unknown.err;
  const Outcome not_json = run({"create", "-"}, "{\"name\": ");
  EXPECT_EQ(not_json.status, 1);
  EXPECT_NE(not_json.err.find("torchsystem create: "), std::string::npos);
  const Outcome missing = run({"create", path("missing.json").string()});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("cannot open '" + path("missing.json").string() + "'"), std::string::npos);
}

TEST_F(CatalogCli, CommandLineMistakesExitWithTwo) {
  EXPECT_EQ(run({"create"}).status, 2);
  EXPECT_EQ(run({"create", "a", "b"}).status, 2);
  EXPECT_EQ(run({"signature"}).status, 2);
  EXPECT_EQ(run({"list", "extra"}).status, 2);
  EXPECT_EQ(run({"list", "--yaml"}).status, 2);
  EXPECT_EQ(run({"list", "--help"}).status, 0);
}

}  // namespace cli_catalog_test

namespace cli_catalog_test {

TEST_F(CatalogCli, DocsListingIsTheProgramsOutput) {
  const std::string doc = cli_runner::read_file(std::filesystem::path(TORCHSYSTEM_DOCS) / "catalog.md");
  const std::string begin = "<!-- torchsystem list -->\n```text\n";
  const std::string end = "```\n<!-- end torchsystem list -->";
  const auto from = doc.find(begin);
  const auto to = doc.find(end);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const Outcome result = run({"list"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(doc.substr(from + begin.size(), to - from - begin.size()), result.out)
      << "docs/catalog.md is out of date: paste `torchsystem list` between its markers";
}

}  // namespace cli_catalog_test
