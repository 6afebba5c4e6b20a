// Loading plugins (see torchsystem/torch/plugin.hpp).
#include "torchsystem/torch/plugin.hpp"

#include <dlfcn.h>

#include <exception>
#include <mutex>
#include <set>
#include <string>
#include <system_error>

#include "torchsystem/error.hpp"

namespace torchsystem {
namespace {

bool names_a_path(std::string_view reference) {
  return reference.find('/') != std::string_view::npos || reference.ends_with(".so") ||
         reference.find(".so.") != std::string_view::npos;
}

// Built with append: g++ 12 warns falsely on `"literal" + std::string` at -O2 (GCC bug 105329).
std::string quoted(std::string_view text) {
  std::string result;
  result.append("'").append(text).append("'");
  return result;
}
std::string quoted(const std::filesystem::path& path) {
  return quoted(std::string_view(path.native()));
}

// The files loaded so far, by canonical path: loading one twice would register its classes twice.
struct Loaded {
  std::mutex mutex;
  std::set<std::filesystem::path> files;
};
Loaded& loaded() {
  static Loaded instance;
  return instance;
}

}  // namespace

std::filesystem::path resolve_plugin(std::string_view reference, const PluginSearch& search) {
  if (reference.empty())
    throw PluginError(quoted(reference), "an empty name; expected a library path or a plugin name");
  if (names_a_path(reference)) {
    const std::filesystem::path path = search.base / std::filesystem::path(reference);
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
      throw PluginError(quoted(path),
                        "no such file; expected a shared library (.so) with torchsystem models");
    return path;
  }
  std::string file;
  file.append("lib").append(reference).append(".so");
  std::string looked;
  for (const auto& directory : search.directories) {
    const auto candidate = directory / file;
    std::error_code error;
    if (std::filesystem::is_regular_file(candidate, error)) return candidate;
    looked.append(looked.empty() ? "" : ", ").append(quoted(directory));
  }
  std::string reason;
  reason.append("no ").append(file).append(" in ").append(looked.empty() ? "any plugin directory" : looked);
  reason.append("; give the library's path, or add its directory to TORCHSYSTEM_PLUGIN_PATH");
  throw PluginError(quoted(reference), reason);
}

bool load_plugin(const std::filesystem::path& path, PluginRegistries& registries) {
  std::error_code error;
  const auto canonical = std::filesystem::canonical(path, error);
  if (error) throw PluginError(quoted(path), "cannot be opened: " + error.message());
  const std::lock_guard<std::mutex> lock(loaded().mutex);
  if (loaded().files.contains(canonical)) return false;

  // RTLD_NOW: an unresolved symbol is an error here, not a crash later. The handle is never closed.
  void* handle = ::dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = ::dlerror();
    throw PluginError(quoted(path), std::string("cannot be loaded: ") + (reason ? reason : "unknown reason"));
  }
  void* symbol = ::dlsym(handle, std::string(plugin_entry_point).c_str());
  if (symbol == nullptr) {
    ::dlclose(handle);
    throw PluginError(quoted(path), "has no entry point; expected extern \"C\" void " +
                                        std::string(plugin_entry_point) + "(torchsystem::PluginRegistries&)");
  }
  loaded().files.insert(canonical);
  const auto entry = reinterpret_cast<PluginEntryPoint>(symbol);
  try {
    entry(registries);
  } catch (const std::exception& e) {
    throw PluginError(quoted(path), std::string("registration failed: ") + e.what());
  } catch (...) {
    throw PluginError(quoted(path), "registration failed with an exception that is not a std::exception");
  }
  return true;
}

std::vector<std::string> split_plugin_list(std::string_view list) {
  std::vector<std::string> entries;
  while (!list.empty()) {
    const auto colon = list.find(':');
    const auto entry = list.substr(0, colon);
    if (!entry.empty()) entries.emplace_back(entry);
    if (colon == std::string_view::npos) break;
    list.remove_prefix(colon + 1);
  }
  return entries;
}

}  // namespace torchsystem
