// Plugins: a user's models in a shared library, known to the `torchsystem` program without rebuilding it.
//
// A plugin defines one entry point with C linkage, which registers its classes in the registry it is given:
//
//   #include "torchsystem/torch/plugin.hpp"
//
//   extern "C" void torchsystem_register_plugin(torchsystem::PluginRegistries& registries) {
//     registries.models.register_class<MLP(std::int64_t, std::int64_t, std::int64_t, double,
//                                          torch::nn::AnyModule)>(
//         "input_size", "hidden_size", "output_size", "dropout", "activation");
//   }
//
// and is loaded with `torchsystem --plugin PATH`, the TORCHSYSTEM_PLUGINS variable (colon-separated) or a
// training configuration's "plugins" list. The registries given include the catalog, so a plugin's model
// may take a catalog activation as an argument, and a plugin's name shadows a catalog name of its kind.
//
// ABI: a plugin is C++ loaded into the program, so it must be built with the same compiler and standard
// library, against the same LibTorch and the same torchsystem version as the program (docs/install.md).
// Libraries stay loaded until the process ends: registered classes point into their code.
#pragma once

#include <torch/nn/module.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "torchsystem/registry.hpp"
#include "torchsystem/torch/module.hpp"  // module holders as entities, for the classes plugins register

namespace torchsystem {

/// The registries a plugin registers its types in.
struct PluginRegistries {
  Registry<torch::nn::Module>& models;
};

/// The entry point a plugin defines, with C linkage: `extern "C" void torchsystem_register_plugin(...)`.
using PluginEntryPoint = void (*)(PluginRegistries& registries);
inline constexpr std::string_view plugin_entry_point = "torchsystem_register_plugin";

/// Where a plugin named without a path is looked for: `lib<name>.so` in each directory, in order.
struct PluginSearch {
  std::vector<std::filesystem::path> directories;
  /// Relative paths (anything with a '/', or ending in ".so") are taken from here.
  std::filesystem::path base = std::filesystem::current_path();
};

/// The library a plugin reference names: a path (relative to `search.base`) when it has a '/' or ends in
/// ".so", else `lib<name>.so` in the first of `search.directories` that has it. Throws PluginError naming
/// the reference and the places looked in.
std::filesystem::path resolve_plugin(std::string_view reference, const PluginSearch& search);

/// Loads the library at `path` (once per process: a second load of the same file does nothing and
/// returns false) and runs its entry point on `registries`. Throws PluginError naming the file when it
/// cannot be loaded, has no entry point, or its registration throws.
bool load_plugin(const std::filesystem::path& path, PluginRegistries& registries);

/// The entries of a colon-separated list (such as TORCHSYSTEM_PLUGINS), empty ones left out.
std::vector<std::string> split_plugin_list(std::string_view list);

}  // namespace torchsystem
