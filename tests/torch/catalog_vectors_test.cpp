// Every call in tests/data/catalog/*.vectors.jsonl, made through the C++ catalog, records the same
// arguments and hashes to the same value as Python's torchsystem (scripts/make_catalog_vectors.py
// computed the expected text and hash with Python's json and hashlib). One CTest test per line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "torch_test_support.hpp"
#include "torchsystem/identity.hpp"

namespace {

namespace ts = torchsystem;

struct CatalogVector {
  std::string file;
  std::size_t number = 0;
  std::string text;
};

void PrintTo(const CatalogVector& vector, std::ostream* out) {
  *out << vector.file << ":" << vector.number;
}

std::vector<CatalogVector> load_vectors() {
  std::vector<CatalogVector> vectors;
  const std::filesystem::path directory = std::filesystem::path(TORCHSYSTEM_TEST_DATA) / "catalog";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().string().ends_with(".vectors.jsonl")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);)
      vectors.push_back({path.filename().string(), ++number, line});
  }
  return vectors;
}

class CatalogVectorTest : public ::testing::TestWithParam<CatalogVector> {};

TEST_P(CatalogVectorTest, RecordsAndHashesAsPython) {
  const ts::Json vector = ts::parse_json(GetParam().text);
  const std::string name = vector["name"].get<std::string>();
  const ts::RegistryBase& registry = torch_test::registry_of(name);

  ts::detail::CallArguments call;
  // An optimizer's parameters come first, in code; the vector's positional arguments follow them.
  const bool optimizer = &registry == &ts::torch_catalog().optimizers;
  const torch::Tensor weight = torch::zeros({2, 2}, torch::requires_grad());
  if (optimizer) call = ts::detail::pack_arguments(std::vector<torch::Tensor>{weight});
  for (const auto& value : vector["args"]) call.emplace_back().set_json(value);
  for (const auto& [key, value] : vector["kwargs"].items()) {
    auto& argument = call.emplace_back();
    argument.keyword = key;
    argument.set_json(value);
  }
  const ts::Object object = registry.info(name).build(call, &registry);
  const ts::EntityRecord& record = ts::require_record(object);
  EXPECT_EQ(record.arguments(ts::IdentityStyle::python), vector["recorded"]);
  EXPECT_EQ(ts::dumps(record.arguments(ts::IdentityStyle::python)), vector["dumps"].get<std::string>());
  EXPECT_EQ(record.hash(ts::IdentityStyle::python), vector["hash"].get<std::string>());
}

std::string line_name(const ::testing::TestParamInfo<CatalogVector>& info) {
  std::string file = info.param.file.substr(0, info.param.file.find('.'));
  for (char& c : file) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return file + "_line_" + std::to_string(info.param.number);
}

INSTANTIATE_TEST_SUITE_P(Python, CatalogVectorTest, ::testing::ValuesIn(load_vectors()), line_name);

}  // namespace
