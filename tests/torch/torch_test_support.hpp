// Helpers for the LibTorch layer's tests: build catalog types from configurations and calls.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch.hpp"

namespace torch_test {

/// The catalog registry holding `name` (modules, losses or optimizers); fails the test when none does.
inline const torchsystem::RegistryBase& registry_of(std::string_view name) {
  const auto& catalog = torchsystem::torch_catalog();
  if (catalog.modules.contains(name)) return catalog.modules;
  if (catalog.losses.contains(name)) return catalog.losses;
  if (catalog.optimizers.contains(name)) return catalog.optimizers;
  throw std::runtime_error("no catalog registry holds " + std::string(name));
}

/// Builds a catalog module (or loss) from a JSON configuration text and hands it out as holder H,
/// checking on the way that it records the configuration's arguments as given.
template <class H>
H build(std::string_view config_text) {
  const torchsystem::Json config = torchsystem::parse_json(config_text);
  const std::string name = config.at("name").get<std::string>();
  const auto& catalog = torchsystem::torch_catalog();
  const auto& registry = catalog.modules.contains(name) ? catalog.modules : catalog.losses;
  H built = registry.create_as<H>(config);
  const torchsystem::Json arguments =
      config.contains("arguments") ? config["arguments"] : torchsystem::Json::object();
  EXPECT_EQ(torchsystem::getarguments(built), arguments) << config_text;
  EXPECT_EQ(torchsystem::getname(built), name);
  return built;
}

/// Builds a catalog optimizer from a JSON configuration text over `parameters`.
inline std::shared_ptr<torch::optim::Optimizer> build_optimizer(std::string_view config_text,
                                                                std::vector<torch::Tensor> parameters) {
  const torchsystem::Json config = torchsystem::parse_json(config_text);
  auto optimizer = torchsystem::torch_catalog().optimizers.create(config, std::move(parameters));
  EXPECT_EQ(torchsystem::getarguments(optimizer),
            config.contains("arguments") ? config["arguments"] : torchsystem::Json::object());
  return optimizer;
}

}  // namespace torch_test

namespace torch_test {
/// The message of the ArgumentError building the module `config_text` throws; fails the test when it
/// throws none.
inline std::string build_error(std::string_view config_text) {
  try {
    torchsystem::torch_catalog().modules.create(torchsystem::parse_json(config_text));
  } catch (const torchsystem::ArgumentError& error) {
    return error.what();
  }
  ADD_FAILURE() << "no ArgumentError building " << config_text;
  return {};
}

/// Copies every parameter of `from` into `to`, after checking that both have the same parameters.
inline void copy_parameters(const torch::nn::Module& from, torch::nn::Module& to) {
  const auto source = from.named_parameters();
  auto target = to.named_parameters();
  ASSERT_EQ(source.keys(), target.keys());
  torch::NoGradGuard no_grad;
  for (const auto& item : source) {
    ASSERT_EQ(item.value().sizes(), target[item.key()].sizes()) << item.key();
    target[item.key()].copy_(item.value());
  }
}

/// The message of the exception `action` throws, or "(no exception)".
template <class F>
std::string test_message(F&& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "(no exception)";
}
}  // namespace torch_test
