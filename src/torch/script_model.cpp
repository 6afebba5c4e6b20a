// TorchScript models (script_model.hpp). The one unit of the library that includes TorchScript's
// loader: its headers are among LibTorch's heaviest.
#include "torchsystem/torch/script_model.hpp"

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "../common/zip_support.hpp"
#include "torchsystem/error.hpp"
#include "torchsystem/identity.hpp"
#include "torchsystem/json_reader.hpp"
#include "torchsystem/torch/detail/message.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem {
namespace {

namespace fs = std::filesystem;

/// Parameters, then buffers, then each child's, as Python's state_dict() walks a module.
void collect(const torch::jit::Module& module, const std::string& prefix, NamedTensors& out) {
  for (const auto& parameter : module.named_parameters(/*recurse=*/false))
    if (parameter.value.defined()) out.emplace_back(prefix + parameter.name, parameter.value);
  for (const auto& buffer : module.named_buffers(/*recurse=*/false))
    if (buffer.value.defined()) out.emplace_back(prefix + buffer.name, buffer.value);
  for (const auto& child : module.named_children()) collect(child.value, prefix + child.name + ".", out);
}

class ScriptModel final : public Model {
 public:
  ScriptModel(torch::jit::Module module, Json metadata)
      : module_(std::move(module)), metadata_(std::move(metadata)) {}

  Json metadata() const override { return metadata_; }
  torch::Tensor forward(const torch::Tensor& input) override {
    const c10::IValue output = module_.forward({input});
    if (!output.isTensor())
      throw std::runtime_error("the TorchScript model's forward returned " + output.tagKind() +
                               ", not a tensor");
    return output.toTensor();
  }
  std::vector<torch::Tensor> parameters() const override {
    std::vector<torch::Tensor> tensors;
    for (const auto& parameter : module_.parameters()) tensors.push_back(parameter);
    return tensors;
  }
  NamedTensors state() const override {
    NamedTensors tensors;
    collect(module_, "", tensors);
    return tensors;
  }
  void train(bool on) override { module_.train(on); }

 private:
  torch::jit::Module module_;
  Json metadata_;
};

/// The identity the archive's torchsystem.json records, checked against the core's hash.
Json recorded_identity(const std::string& text, const std::string& file, const std::string& where) {
  const auto fail = [&](const std::string& reason) -> ArgumentError {
    return ArgumentError(where, file + ": " + reason);
  };
  if (text.empty())
    throw fail(std::string("has no ") + script_identity_file +
               " (save it with _extra_files={\"torchsystem.json\": ...}, docs/torchscript.md)");
  Json identity;
  try {
    identity = parse_json(text);
  } catch (const JsonError& error) {
    throw fail(std::string("its ") + script_identity_file + " is not JSON: " + error.what());
  }
  if (!identity.is_object() || !identity.contains("name") || !identity["name"].is_string() ||
      !identity.contains("arguments") || !identity["arguments"].is_object() || !identity.contains("hash") ||
      !identity["hash"].is_string())
    throw fail(
        std::string("its ") + script_identity_file +
        " is not {\"name\": string, \"arguments\": object, \"hash\": string}: " + describe_json(identity));
  const std::string& name = identity["name"].get_ref<const std::string&>();
  const std::string& hash = identity["hash"].get_ref<const std::string&>();
  const std::string computed = identity_hash(name, identity["arguments"]);
  if (computed != hash)
    throw fail("claims the identity " + name + "-" + hash + ", but its arguments give " + name + "-" +
               computed);
  return Json{{"name", name}, {"hash", hash}, {"arguments", identity["arguments"]}};
}

/// Why the archive's zip container or a record's CRC-32 is wrong, or an empty string. LibTorch 1.13 checks
/// no CRC when it reads: a flipped byte in a weight would load silently, and one in the code would reach
/// its compiler. libzip reads every record to its end, which compares each CRC-32.
std::string zip_fault(const fs::path& archive) {
  int code = 0;
  const detail::ZipArchive zip(zip_open(archive.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!zip) return "not a zip archive: " + detail::zip_error_text(code);
  std::vector<char> buffer(std::size_t{1} << 20);
  const zip_int64_t entries = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t index = 0; index < entries; ++index) {
    const char* name = zip_get_name(zip.get(), static_cast<zip_uint64_t>(index), 0);
    const std::string record = name ? std::string(name) : std::string("#").append(std::to_string(index));
    const detail::ZipFile file(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(index), 0));
    if (!file) return "its record '" + record + "' is damaged (" + zip_strerror(zip.get()) + ")";
    for (zip_int64_t got; (got = zip_fread(file.get(), buffer.data(), buffer.size())) != 0;) {
      if (got < 0) return "its record '" + record + "' is corrupted (" + zip_file_strerror(file.get()) + ")";
    }
  }
  return {};
}

/// forward(self, x: Tensor) -> Tensor, as the job and the server call it.
void check_forward(const torch::jit::Module& module, const std::string& file, const std::string& where) {
  const auto forward = module.find_method("forward");
  if (!forward) throw ArgumentError(where, file + ": the module has no forward method");
  const c10::FunctionSchema& schema = forward->function().getSchema();
  const auto& arguments = schema.arguments();
  const bool one_tensor = arguments.size() == 2 && arguments[1].type()->kind() == c10::TypeKind::TensorType;
  const bool gives_tensor =
      schema.returns().size() == 1 && schema.returns()[0].type()->kind() == c10::TypeKind::TensorType;
  if (!one_tensor || !gives_tensor) {
    std::ostringstream text;
    text << schema;
    throw ArgumentError(where, file + ": its forward is " + text.str() +
                                   "; a model's forward takes one tensor and returns one tensor");
  }
}

}  // namespace

std::shared_ptr<Model> load_script_model(const fs::path& archive, const std::string& where) {
  const std::string file = archive.string();
  std::error_code error;
  if (!fs::is_regular_file(archive, error))
    throw ArgumentError(where, file + ": no such file (a TorchScript archive, torch.jit.save's)");
  if (const std::string fault = zip_fault(archive); !fault.empty())
    throw ArgumentError(where, file + ": not a readable TorchScript archive (" + fault + ")");
  torch::jit::ExtraFilesMap extra{{script_identity_file, ""}};
  torch::jit::Module module;
  try {
    module = torch::jit::load(file, c10::Device(c10::kCPU), extra);
  } catch (const std::exception& failure) {
    throw ArgumentError(where,
                        file + ": not a readable TorchScript archive (" + detail::message_of(failure) + ")");
  }
  Json metadata = recorded_identity(extra[script_identity_file], file, where);
  check_forward(module, file, where);
  return std::make_shared<ScriptModel>(std::move(module), std::move(metadata));
}

}  // namespace torchsystem
