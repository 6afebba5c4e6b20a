// A model defined in Python: a TorchScript archive (torch.jit.save) that carries the identity Python's
// registry gave the model, trained, saved and served as any other model of an Aggregate.
//
//   scripted = torch.jit.script(model)        # Python: a model built through torchsystem's register()
//   torch.jit.save(scripted, "mlp.pt", _extra_files={"torchsystem.json": json.dumps(
//       {"name": getname(model), "arguments": getarguments(model), "hash": gethash(model)})})
//
//   auto model = ts::load_script_model("mlp.pt");     // C++: its identity is MLP-<hash>
//   model->forward(x);                                // the scripted forward
//   model->state();                                   // Python's state_dict() names and order
//
// The hash must be md5(name + json.dumps(arguments)), as the core computes it: an archive whose arguments
// give another hash is refused, naming both. Its `forward` must take one tensor. The parameters are the
// archive's own tensors: an optimizer built over parameters() trains the scripted module in place.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "torchsystem/json.hpp"
#include "torchsystem/torch/model.hpp"

namespace torchsystem {

/// The extra file of the archive that holds {"name", "arguments", "hash"}.
inline constexpr const char* script_identity_file = "torchsystem.json";

/// Loads `archive`. Every fault is an ArgumentError at `where` whose reason starts with the file: an
/// archive that cannot be read (missing, truncated, corrupt, not TorchScript), one without
/// torchsystem.json or with a malformed one, one whose arguments do not give its hash, one whose forward
/// does not take one tensor.
std::shared_ptr<Model> load_script_model(const std::filesystem::path& archive,
                                         const std::string& where = "config.model.torchscript");

}  // namespace torchsystem
