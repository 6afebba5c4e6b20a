// The companion program's registries and plugins (see program.hpp).
#include "program.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "command.hpp"

namespace torchsystem::cli {
namespace {

std::filesystem::path installed_plugin_directory() {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return {};
  return (self.parent_path() / TORCHSYSTEM_PLUGINS_FROM_COMPANION).lexically_normal();
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

Registry<torch::nn::Module>& program_models() {
  struct Models {
    Registry<torch::nn::Module> registry{"plugin models"};
    Models() { registry.include(torch_catalog().modules); }
  };
  static Models models;
  return models.registry;
}

PluginSearch plugin_search(const std::filesystem::path& base) {
  PluginSearch search;
  search.base = base;
  for (const auto& directory : split_plugin_list(environment("TORCHSYSTEM_PLUGIN_PATH")))
    search.directories.emplace_back(directory);
  if (auto installed = installed_plugin_directory(); !installed.empty())
    search.directories.push_back(std::move(installed));
  return search;
}

void load_plugins(std::span<const std::string> references, const PluginSearch& search) {
  PluginRegistries registries{program_models()};
  for (const auto& reference : references) load_plugin(resolve_plugin(reference, search), registries);
}

std::vector<std::string_view> take_plugin_options(std::span<const std::string_view> arguments) {
  std::vector<std::string> references = split_plugin_list(environment("TORCHSYSTEM_PLUGINS"));
  std::vector<std::string_view> rest;
  bool options_done = false;
  for (std::size_t index = 0; index < arguments.size(); ++index) {
    const std::string_view argument = arguments[index];
    if (options_done || argument == "--") {
      options_done = true;
      rest.push_back(argument);
    } else if (argument == "--plugin") {
      if (index + 1 == arguments.size()) throw UsageError("--plugin needs a PATH (or a plugin name)");
      references.emplace_back(arguments[++index]);
    } else if (argument.starts_with("--plugin=")) {
      references.emplace_back(argument.substr(9));
    } else {
      rest.push_back(argument);
    }
  }
  load_plugins(references, plugin_search());
  return rest;
}

}  // namespace torchsystem::cli
