// The companion program's registries and its plugins: what `train`, `list`, `signature` and `create` know.
//
// The registries are the catalog's, plus `models`, which plugins register in (and which includes the
// catalog's modules, so a plugin's model may take a built-in activation). Plugins come from
// TORCHSYSTEM_PLUGINS, then `--plugin` options, then (for `train`) the configuration's "plugins".
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torchsystem/registry.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/plugin.hpp"

namespace torchsystem::cli {

/// The models plugins registered; they include the catalog's modules for nested names.
Registry<torch::nn::Module>& program_models();

/// Where plugins named without a path are looked for: TORCHSYSTEM_PLUGIN_PATH's directories, then the
/// plugin directory installed with the program; relative paths are taken from `base`.
PluginSearch plugin_search(const std::filesystem::path& base = std::filesystem::current_path());

/// Loads each plugin `references` names (see resolve_plugin) into program_models().
void load_plugins(std::span<const std::string> references, const PluginSearch& search);

/// Takes the `--plugin PATH` and `--plugin=PATH` options out of `arguments` (up to a `--`), loads the
/// plugins TORCHSYSTEM_PLUGINS lists and then those, and returns the remaining arguments.
std::vector<std::string_view> take_plugin_options(std::span<const std::string_view> arguments);

}  // namespace torchsystem::cli
