// Plugins: a user's models in a shared library, loaded by the `torchsystem` program (run as a process)
// and by load_plugin in-process.
#include "torchsystem/torch/plugin.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli_runner.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/catalog.hpp"

namespace plugin_test {

namespace ts = torchsystem;
namespace fs = std::filesystem;
using cli_runner::Cli;
using cli_runner::Outcome;

using PluginCli = Cli;

const std::string mlp_config =
    R"({"name": "MLP", "arguments": {"input_size": 784, "hidden_size": 256, "output_size": 10,
        "dropout": 0.5, "activation": "ReLU"}})";

TEST_F(PluginCli, WithoutThePluginMlpIsUnknown) {
  const Outcome result = run({"create", "-"}, mlp_config);
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find("MLP"), std::string::npos) << result.err;
}

TEST_F(PluginCli, CreateBuildsTheSeedsMlpWithThePluginByNameOrPath) {
  for (const std::string& plugin : {std::string("seed"), std::string(TORCHSYSTEM_SEED_PLUGIN)}) {
    const Outcome result = run({"create", "-", "--plugin", plugin}, mlp_config);
    ASSERT_EQ(result.status, 0) << result.err;
    const auto created = ts::parse_json(result.out);
    EXPECT_EQ(created["name"], "MLP");
    EXPECT_EQ(created["hash"], "af51a51a38f7ad81f9523360fafe7068");  // the seed's hash in Python
    EXPECT_EQ(created["parameters"], 784 * 256 + 256 + 256 * 10 + 10);
  }
}

TEST_F(PluginCli, ListAndSignatureShowThePluginsModelsFirst) {
  const Outcome listed = run({"list", "--plugin=seed"});
  ASSERT_EQ(listed.status, 0) << listed.err;
  EXPECT_EQ(listed.out.find("Models from plugins (2):\n  MLP(input_size: int, hidden_size: int"), 0U)
      << listed.out;
  EXPECT_NE(listed.out.find("\nModules ("), std::string::npos);
  const Outcome names = run({"list", "--json", "--plugin", "seed"});
  ASSERT_EQ(names.status, 0) << names.err;
  const auto json = ts::parse_json(names.out);
  ASSERT_GE(json.size(), 3U);
  EXPECT_EQ(json[0], "MLP");
  EXPECT_EQ(json[1], "GLU");
  EXPECT_EQ(json[2], ts::torch_catalog().modules.keys().front());
  const Outcome signature = run({"signature", "GLU", "--json", "--plugin", "seed"});
  ASSERT_EQ(signature.status, 0) << signature.err;
  EXPECT_EQ(ts::parse_json(signature.out),
            ts::parse_json(R"({"input_size": "int", "hidden_size": "int", "output_size": "int",
                              "dropout": "float", "activation": "Module"})"));
}

TEST_F(PluginCli, TheEnvironmentVariableLoadsPluginsForEveryCommand) {
  ASSERT_EQ(setenv("TORCHSYSTEM_PLUGINS", (":" + std::string(TORCHSYSTEM_SEED_PLUGIN) + ":").c_str(), 1), 0);
  const Outcome result = run({"create", "-"}, mlp_config);
  unsetenv("TORCHSYSTEM_PLUGINS");
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(ts::parse_json(result.out)["hash"], "af51a51a38f7ad81f9523360fafe7068");
}

TEST_F(PluginCli, APluginsNameShadowsTheCatalogs) {
  const Outcome result = run({"signature", "Linear", "--json", "--plugin", TORCHSYSTEM_CLASH_PLUGIN});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(ts::parse_json(result.out), ts::parse_json(R"({"width": "int"})"));
  const Outcome catalog = run({"signature", "Linear", "--json"});
  ASSERT_EQ(catalog.status, 0) << catalog.err;
  EXPECT_EQ(ts::parse_json(catalog.out),
            ts::parse_json(R"({"in_features": "int", "out_features": "int", "bias": "bool"})"));
}

TEST_F(PluginCli, AMissingLibraryIsAClearErrorNamingIt) {
  const Outcome by_path = run({"list", "--plugin", "/nonexistent/libmodels.so"});
  EXPECT_EQ(by_path.status, 1);
  EXPECT_NE(by_path.err.find("plugin '/nonexistent/libmodels.so': no such file"), std::string::npos)
      << by_path.err;
  const Outcome by_name = run({"list", "--plugin", "nosuchplugin"});
  EXPECT_EQ(by_name.status, 1);
  EXPECT_NE(by_name.err.find("plugin 'nosuchplugin': no libnosuchplugin.so in '"), std::string::npos)
      << by_name.err;
  const Outcome no_value = run({"list", "--plugin"});
  EXPECT_EQ(no_value.status, 2);
  EXPECT_NE(no_value.err.find("--plugin needs a PATH"), std::string::npos) << no_value.err;
}

TEST_F(PluginCli, ALibraryThatIsNotAPluginOrNotALibraryIsAClearError) {
  const Outcome no_entry = run({"list", "--plugin", TORCHSYSTEM_NO_ENTRY_PLUGIN});
  EXPECT_EQ(no_entry.status, 1);
  EXPECT_NE(no_entry.err.find("has no entry point; expected extern \"C\" void torchsystem_register_plugin"),
            std::string::npos)
      << no_entry.err;
  EXPECT_NE(no_entry.err.find(TORCHSYSTEM_NO_ENTRY_PLUGIN), std::string::npos) << no_entry.err;

  cli_runner::write_file(path("libjunk.so"), "not an ELF file");
  const Outcome junk = run({"list", "--plugin", path("libjunk.so").string()});
  EXPECT_EQ(junk.status, 1);
  EXPECT_NE(junk.err.find("libjunk.so': cannot be loaded: "), std::string::npos) << junk.err;
}

TEST_F(PluginCli, ARegistrationThatThrowsIsAClearErrorNamingTheFile) {
  const Outcome result = run({"list", "--plugin", TORCHSYSTEM_CONFLICT_PLUGIN});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.err.find(std::string(TORCHSYSTEM_CONFLICT_PLUGIN) + "': registration failed: "),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("already has \"Twin\""), std::string::npos) << result.err;
}

TEST_F(PluginCli, TheSamePluginFromTwoFilesRegistersItsClassesOnce) {
  // A copy of a plugin holds the same C++ types, which the registry already has: nothing clashes.
  fs::copy_file(TORCHSYSTEM_CLASH_PLUGIN, path("libclash-copy.so"));
  const Outcome result = run({"signature", "Linear", "--json", "--plugin", TORCHSYSTEM_CLASH_PLUGIN,
                              "--plugin", path("libclash-copy.so").string()});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_EQ(ts::parse_json(result.out), ts::parse_json(R"({"width": "int"})"));
}

TEST_F(PluginCli, TheSameLibraryTwiceLoadsOnce) {
  const Outcome result =
      run({"create", "-", "--plugin", "seed", "--plugin", TORCHSYSTEM_SEED_PLUGIN}, mlp_config);
  ASSERT_EQ(result.status, 0) << result.err;
}

TEST(Plugin, ResolvesNamesInOrderAndPathsFromTheBase) {
  const fs::path plugin(TORCHSYSTEM_SEED_PLUGIN);
  ts::PluginSearch search;
  search.directories = {"/nonexistent", plugin.parent_path()};
  EXPECT_EQ(ts::resolve_plugin("seed", search), plugin.parent_path() / "libseed.so");
  search.base = plugin.parent_path().parent_path();
  EXPECT_EQ(ts::resolve_plugin("plugins/libseed.so", search), search.base / "plugins/libseed.so");
  EXPECT_THROW(ts::resolve_plugin("", search), ts::PluginError);
  try {
    ts::resolve_plugin("missing", search);
    FAIL() << "no error";
  } catch (const ts::PluginError& error) {
    EXPECT_EQ(error.path(), "'missing'");
    EXPECT_NE(std::string(error.what()).find("'/nonexistent', '" + plugin.parent_path().string() + "'"),
              std::string::npos)
        << error.what();
  }
}

TEST(Plugin, SplitsColonSeparatedListsSkippingEmptyEntries) {
  EXPECT_EQ(ts::split_plugin_list("a:b::c:"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ts::split_plugin_list("").empty());
  EXPECT_TRUE(ts::split_plugin_list(":::").empty());
}

}  // namespace plugin_test
