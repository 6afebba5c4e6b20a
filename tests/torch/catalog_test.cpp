// The catalog holds every type the project promises, under its PyTorch name, in its registry.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "torch_test_support.hpp"

namespace catalog_test {

namespace ts = torchsystem;

// The types issue 3 lists, grouped as PyTorch groups them.
const std::vector<std::string> modules = {"Linear",
                                          "Bilinear",
                                          "Conv1d",
                                          "Conv2d",
                                          "Conv3d",
                                          "ConvTranspose1d",
                                          "ConvTranspose2d",
                                          "MaxPool1d",
                                          "MaxPool2d",
                                          "AvgPool1d",
                                          "AvgPool2d",
                                          "AdaptiveAvgPool1d",
                                          "AdaptiveAvgPool2d",
                                          "AdaptiveMaxPool2d",
                                          "BatchNorm1d",
                                          "BatchNorm2d",
                                          "BatchNorm3d",
                                          "LayerNorm",
                                          "GroupNorm",
                                          "InstanceNorm1d",
                                          "InstanceNorm2d",
                                          "Dropout",
                                          "Dropout2d",
                                          "AlphaDropout",
                                          "Embedding",
                                          "EmbeddingBag",
                                          "LSTM",
                                          "GRU",
                                          "RNN",
                                          "LSTMCell",
                                          "GRUCell",
                                          "MultiheadAttention",
                                          "TransformerEncoderLayer",
                                          "TransformerDecoderLayer",
                                          "Flatten",
                                          "Unflatten",
                                          "Identity",
                                          "PixelShuffle",
                                          "Upsample",
                                          "ReLU",
                                          "ReLU6",
                                          "LeakyReLU",
                                          "PReLU",
                                          "GELU",
                                          "SiLU",
                                          "Mish",
                                          "Tanh",
                                          "Sigmoid",
                                          "Softmax",
                                          "LogSoftmax",
                                          "Softplus",
                                          "ELU",
                                          "SELU",
                                          "CELU",
                                          "GLU",
                                          "Hardtanh",
                                          "Hardswish",
                                          "Hardsigmoid",
                                          "Softsign",
                                          "Tanhshrink",
                                          "Threshold"};
const std::vector<std::string> losses = {"CrossEntropyLoss",
                                         "NLLLoss",
                                         "MSELoss",
                                         "L1Loss",
                                         "SmoothL1Loss",
                                         "HuberLoss",
                                         "BCELoss",
                                         "BCEWithLogitsLoss",
                                         "KLDivLoss",
                                         "CosineEmbeddingLoss",
                                         "MarginRankingLoss",
                                         "HingeEmbeddingLoss",
                                         "TripletMarginLoss",
                                         "PoissonNLLLoss",
                                         "SoftMarginLoss",
                                         "MultiLabelMarginLoss",
                                         "MultiLabelSoftMarginLoss",
                                         "MultiMarginLoss",
                                         "CTCLoss"};
const std::vector<std::string> optimizers = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS"};

TEST(Catalog, HoldsEveryPromisedTypeInOrder) {
  const auto& catalog = ts::torch_catalog();
  EXPECT_EQ(catalog.modules.keys(), modules);
  EXPECT_EQ(catalog.losses.keys(), losses);
  EXPECT_EQ(catalog.optimizers.keys(), optimizers);
}

TEST(Catalog, EveryClassIsNamedAsItsKeyWithDistinctParameters) {
  const auto& catalog = ts::torch_catalog();
  for (const ts::RegistryBase* registry : {static_cast<const ts::RegistryBase*>(&catalog.modules),
                                           static_cast<const ts::RegistryBase*>(&catalog.losses),
                                           static_cast<const ts::RegistryBase*>(&catalog.optimizers)}) {
    for (const auto& key : registry->keys()) {
      const ts::ClassInfo& info = registry->info(key);
      EXPECT_EQ(info.name(), key);
      EXPECT_FALSE(info.has_registered_name()) << key << ": Python's register(T) records no name";
      std::set<std::string> names;
      for (const auto& parameter : info.parameters()) {
        EXPECT_TRUE(names.insert(parameter.name).second) << key << "." << parameter.name;
        EXPECT_TRUE(parameter.has_json_form ||
                    info.is_excluded(static_cast<std::size_t>(&parameter - info.parameters().data())))
            << key << "." << parameter.name << " has no JSON form and is not excluded";
      }
    }
  }
}

TEST(Catalog, EveryTypeBuildsWithItsDefaultsOrNamesWhatIsMissing) {
  // A config with no arguments either builds or fails with "missing required argument" for a
  // parameter without a default: never another error.
  const auto& catalog = ts::torch_catalog();
  for (const auto& key : catalog.modules.keys()) {
    const ts::ClassInfo& info = catalog.modules.info(key);
    const bool needs_arguments = std::any_of(info.parameters().begin(), info.parameters().end(),
                                             [](const ts::Parameter& p) { return !p.has_default; });
    const auto message = torch_test::test_message([&] { catalog.modules.create(ts::Json{{"name", key}}); });
    if (needs_arguments) {
      EXPECT_NE(message.find("missing required argument"), std::string::npos) << key << ": " << message;
    } else {
      EXPECT_EQ(message, "(no exception)") << key << " builds with PyTorch's defaults";
    }
  }
}

}  // namespace catalog_test
