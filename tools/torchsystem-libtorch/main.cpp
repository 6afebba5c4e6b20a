// `torchsystem-libtorch`: the catalog's commands of the `torchsystem` program (list, signature, create),
// linked with LibTorch. `torchsystem` runs it for those commands; it can also be run directly.
#include "command.hpp"

namespace torchsystem::cli {
namespace {

constexpr Command commands[] = {
    {"list", "list the catalog: LibTorch's modules, losses and optimizers", list_command},
    {"signature", "show a catalog type's parameters", signature_command},
    {"create", "build an object from a JSON configuration and print its identity", create_command},
    {"checkpoints", "list the checkpoints of a store directory", checkpoints_command},
};

}  // namespace
}  // namespace torchsystem::cli

int main(int argc, char** argv) {
  return torchsystem::cli::run_main(torchsystem::cli::commands, argc, argv);
}
