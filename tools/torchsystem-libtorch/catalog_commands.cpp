// `torchsystem list`, `signature` and `create`: the catalog's types, their parameters, and building one
// from a JSON configuration.
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "command.hpp"
#include "program.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace torchsystem::cli {
namespace {

/// The program's registries: the plugins' models, then the catalog.
Registries registries() {
  return Registries(program_models());
}

/// Splits options from positional arguments; only the options in `known` are accepted.
struct ParsedArguments {
  std::vector<std::string_view> positional;
  bool json = false;
};

ParsedArguments parse(std::span<const std::string_view> arguments, bool accepts_json) {
  ParsedArguments parsed;
  bool options_done = false;
  for (const std::string_view argument : arguments) {
    if (!options_done && argument == "--") {
      options_done = true;
    } else if (!options_done && accepts_json && argument == "--json") {
      parsed.json = true;
    } else if (!options_done && argument.size() > 1 && argument.front() == '-') {
      throw UsageError("unknown option '" + std::string(argument) + "'");
    } else {
      parsed.positional.push_back(argument);
    }
  }
  return parsed;
}

}  // namespace

constexpr std::string_view list_usage_text = R"(usage: torchsystem list [--json]

Lists the models of the loaded plugins, then the catalog: LibTorch's modules, losses and optimizers
under their PyTorch names, each with its signature (parameters in order, with their defaults).

Options:
  --json          print a JSON array of the names instead, in the same order
  --plugin PATH   load a plugin first (a library path, or a name looked up as lib<name>.so in
                  TORCHSYSTEM_PLUGIN_PATH and the installed plugin directory); may be repeated.
                  TORCHSYSTEM_PLUGINS (colon-separated) loads plugins for every command.
  -h, --help      print this help
)";

constexpr std::string_view signature_usage_text = R"(usage: torchsystem signature NAME [--json]

Shows the parameters of a registered type, in order, with their types and defaults, such as
  Linear(in_features: int, out_features: int, bias: bool = true)
Parameters left out of identity (an optimizer's params) are listed after the signature.

Options:
  --json          print a JSON object of parameter name to type name, in order, without the
                  parameters left out of identity (the reference's `signature`)
  --plugin PATH   load a plugin first (see `torchsystem list --help`); may be repeated
  -h, --help      print this help
)";

constexpr std::string_view create_usage_text = R"(usage: torchsystem create CONFIG

Builds an object from a JSON configuration and prints its identity as one JSON object:
  {"name": ..., "hash": ..., "arguments": {...}, "kind": "module", "parameters": 203530}
"parameters" (the number of values in the module's parameters) is given for modules and losses.
An optimizer is built over no parameters: the command shows its identity only.

Arguments:
  CONFIG   a file holding {"name": NAME, "arguments": {...}}, or - for standard input. Nested
           entities are a name ("ReLU") or {"name": ..., "arguments": {...}}.

Options:
  --plugin PATH   load a plugin first, so CONFIG may name its models (see `torchsystem list --help`)
  -h, --help      print this help

Exit status: 0 on success; 1 when the configuration is wrong (the message gives the path of the
fault, such as Conv2d.padding); 2 when the command line is wrong.

Example:
  $ echo '{"name": "Linear", "arguments": {"in_features": 4, "out_features": 2}}' | torchsystem create -
)";

std::string_view list_usage() {
  return list_usage_text;
}

std::string_view signature_usage() {
  return signature_usage_text;
}

std::string_view create_usage() {
  return create_usage_text;
}

int list_command(std::span<const std::string_view> arguments) {
  const ParsedArguments parsed = parse(arguments, true);
  if (!parsed.positional.empty()) throw UsageError("list takes no arguments");
  if (parsed.json) {
    Json names = Json::array();
    for (const RegistryGroup& group : registries().groups()) {
      for (auto& key : group.registry->keys()) names.push_back(std::move(key));
    }
    write_all(stdout, dumps(names) + "\n");
    return exit_ok;
  }
  std::string out;
  for (const RegistryGroup& group : registries().groups()) {
    const auto keys = group.registry->keys();
    out += std::string(group.title) + " (" + std::to_string(keys.size()) + "):\n";
    for (const auto& key : keys) out += "  " + group.registry->info(key).describe() + "\n";
  }
  write_all(stdout, out);
  return exit_ok;
}

int signature_command(std::span<const std::string_view> arguments) {
  const ParsedArguments parsed = parse(arguments, true);
  if (parsed.positional.size() != 1) throw UsageError("signature takes one NAME");
  const RegistryGroup group = registries().find(parsed.positional.front());
  if (parsed.json) {
    write_all(stdout, dumps(group.registry->signature(parsed.positional.front())) + "\n");
    return exit_ok;
  }
  write_all(stdout, group.registry->info(parsed.positional.front()).describe() + "\n");
  return exit_ok;
}

int create_command(std::span<const std::string_view> arguments) {
  const ParsedArguments parsed = parse(arguments, false);
  if (parsed.positional.size() != 1)
    throw UsageError("create takes one CONFIG (a file, or - for standard input)");
  const InputFile input = open_input(parsed.positional.front());
  const Json config = parse_json(read_all(input));
  if (!config.is_object() || !config.contains("name") || !config["name"].is_string()) {
    throw ArgumentError("config",
                        "expected an object {\"name\": ..., \"arguments\": {...}} in " + input.display);
  }
  const RegistryGroup group = registries().find(config["name"].get_ref<const std::string&>());

  Json result;
  if (group.registry == &registries().optimizers()) {
    const auto optimizer = registries().optimizers().create(config, std::vector<torch::Tensor>{});
    result = {
        {"name", getname(optimizer)}, {"hash", gethash(optimizer)}, {"arguments", getarguments(optimizer)}};
  } else {
    const auto& modules = static_cast<const Registry<torch::nn::Module>&>(*group.registry);
    const auto module = modules.create(config);
    result = {{"name", getname(module)},
              {"hash", gethash(module)},
              {"arguments", getarguments(module)},
              {"parameters", parameter_count(*module)}};
  }
  result["kind"] = group.kind;
  write_all(stdout, dumps(result) + "\n");
  return exit_ok;
}

}  // namespace torchsystem::cli
