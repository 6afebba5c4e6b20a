// Helpers shared by the catalog's registrations (private to the LibTorch layer).
//
// A registration maps PyTorch's parameters onto LibTorch's options in a factory. These helpers keep
// each factory to a few lines: string options to LibTorch's enum variants, and the parameters LibTorch
// lacks, which accept only PyTorch's default. Errors are ArgumentError with the parameter as path;
// the registry puts the class in front (`Upsample.recompute_scale_factor: ...`).
#pragma once

#include <torch/enum.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "torchsystem/error.hpp"
#include "torchsystem/keywords.hpp"
#include "torchsystem/torch/catalog.hpp"
#include "torchsystem/torch/module.hpp"
#include "torchsystem/torch/values.hpp"
#include "torchsystem/value_traits.hpp"

namespace torchsystem::catalog {

using namespace torchsystem::literals;

/// Each section of the catalog registers its types into the catalog's registries.
void register_layers(TorchCatalog& catalog);
void register_sequence_layers(TorchCatalog& catalog);
void register_activations(TorchCatalog& catalog);
void register_losses(TorchCatalog& catalog);
void register_optimizers(TorchCatalog& catalog);

/// Lower case without '-' and '_', so that "batchmean" matches kBatchMean and "nearest-exact" kNearestExact.
inline std::string normalized(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c != '-' && c != '_') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

/// The alternative of LibTorch's enum variant V that PyTorch's string `value` names. `accepted` lists
/// PyTorch's spellings, for the message when `value` is none of them.
template <class V>
V enum_option(std::string_view parameter, const std::string& value,
              std::initializer_list<std::string_view> accepted) {
  const bool listed = std::find(accepted.begin(), accepted.end(), value) != accepted.end();
  std::optional<V> found;
  if (listed) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((normalized(torch::enumtype::get_enum_name(V(c10::variant_alternative_t<I, V>{}))).substr(1) ==
                normalized(value)
            ? (void)(found = V(c10::variant_alternative_t<I, V>{}))
            : (void)0),
       ...);
    }
    (std::make_index_sequence<c10::variant_size_v<V>>{});
  }
  if (found) return *found;
  std::string expected;
  for (const auto name : accepted)
    expected += (expected.empty() ? "one of \"" : ", \"") + std::string(name) + "\"";
  throw ArgumentError(std::string(parameter), "expected " + expected + ", got \"" + value + "\"");
}

/// A PyTorch parameter LibTorch 1.13 has no equivalent for: only its default is accepted.
template <class T, class D>
void only_default(std::string_view parameter, const T& value, const D& default_value) {
  if (value == default_value) return;
  const Json shown = value_traits<T>::to_json(T(default_value));
  throw ArgumentError(std::string(parameter),
                      "LibTorch 1.13 has no equivalent of this parameter; only PyTorch's default " +
                          describe_json(shown) + " is accepted, got " +
                          describe_json(value_traits<T>::to_json(value)));
}

}  // namespace torchsystem::catalog
