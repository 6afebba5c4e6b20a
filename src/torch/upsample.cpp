#include "torchsystem/torch/upsample.hpp"

#include <torch/enum.h>
#include <torch/nn/functional/upsampling.h>

#include <utility>

namespace torchsystem::nn {

namespace {

template <class T>
std::ostream& print_values(std::ostream& stream, const OneOrTuple<T, 0>& value) {
  if (value.is_scalar()) return stream << value.values().front();
  stream << "(";
  for (std::size_t i = 0; i < value.values().size(); ++i) stream << (i ? ", " : "") << value.values()[i];
  return stream << ")";
}

}  // namespace

UpsampleImpl::UpsampleImpl(UpsampleOptions options_) : options(std::move(options_)) {
  reset();
}

void UpsampleImpl::reset() {}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() >= 3, "Upsample expects an input of shape (N, C, spatial...), got ", input.dim(),
              " dimensions");
  const auto spatial = static_cast<std::size_t>(input.dim() - 2);
  auto functional = torch::nn::functional::InterpolateFuncOptions().mode(options.mode());
  if (options.align_corners()) functional.align_corners(*options.align_corners());
  if (options.recompute_scale_factor()) functional.recompute_scale_factor(*options.recompute_scale_factor());
  if (options.size()) functional.size(options.size()->as_vector(spatial));
  if (options.scale_factor()) functional.scale_factor(options.scale_factor()->as_vector(spatial));
  return torch::nn::functional::interpolate(input, functional);
}

void UpsampleImpl::pretty_print(std::ostream& stream) const {
  stream << "torchsystem::nn::Upsample(";
  if (options.size()) print_values(stream << "size=", *options.size()) << ", ";
  if (options.scale_factor()) print_values(stream << "scale_factor=", *options.scale_factor()) << ", ";
  stream << "mode=" << torch::enumtype::get_enum_name(options.mode()) << ")";
}

}  // namespace torchsystem::nn
