// The seed's models as a plugin: `torchsystem train`, `create`, `list` and `signature` know MLP and GLU once
// this library is loaded (`--plugin seed`, TORCHSYSTEM_PLUGINS=seed, or "plugins": ["seed"] in a training
// configuration, as examples/configs/seed.json has). See docs/install.md.
#include "seed_models.hpp"
#include "torchsystem/torch/plugin.hpp"

extern "C" void torchsystem_register_plugin(torchsystem::PluginRegistries& registries) {
  seed::register_seed_models(registries.models);
}
