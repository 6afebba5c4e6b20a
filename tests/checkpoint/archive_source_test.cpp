// The check of a checkpoint's TorchScript source (src/training/archive_source.hpp): what LibTorch writes
// for modules of attributes passes; every other statement, including the one that crashes LibTorch
// 1.13's compiler, is refused with its line.
#include <gtest/gtest.h>

#include <string>

#include "archive_source.hpp"

namespace archive_source_test {

using torchsystem::checkpoint_detail::attribute_source_fault;
using torchsystem::checkpoint_detail::max_type_depth;

// Records as LibTorch 1.13 writes them for a model, Adam's state and its parameter groups.
constexpr const char* written_by_libtorch[] = {
    "class Module(Module):\n  __parameters__ = []\n  __buffers__ = []\n"
    "  model : __torch__.___torch_mangle_0.Module\n  metadata : str\n",
    "class Module(Module):\n  __parameters__ = [\"weight\", \"bias\", ]\n  __buffers__ = []\n"
    "  weight : Tensor\n  bias : Tensor\n",
    "class Module(Module):\n  __parameters__ = []\n  __buffers__ = []\n  __annotations__ = []\n"
    "  __annotations__[\"0x5644002d81d0\"] = __torch__.___torch_mangle_8.Module\n",
    "class Module(Module):\n  __parameters__ = [\"params/size\", ]\n  __buffers__ = []\n"
    "  __annotations__ = []\n  __annotations__[\"params/size\"] = Tensor\n  __annotations__[\"params/0\"] = "
    "str\n",
    "class Module(Module):\n  __parameters__ = []\n  __buffers__ = []\n  lr : float\n"
    "  betas : Tuple[float, float]\n  amsgrad : bool\n",
    "class Module(Module):\n  __parameters__ = []\n  __buffers__ = []\n",
};

TEST(ArchiveSource, WhatLibTorchWritesForModulesOfAttributesPasses) {
  for (const char* source : written_by_libtorch) EXPECT_EQ(attribute_source_fault(source), "") << source;
}

TEST(ArchiveSource, NestedTypesEscapedNamesBlankLinesAndAMissingFinalNewlinePass) {
  EXPECT_EQ(attribute_source_fault(""), "");
  EXPECT_EQ(attribute_source_fault("\nclass Module(Module):\n\n  x : Dict[str, List[Optional[Tensor]]]"), "");
  EXPECT_EQ(attribute_source_fault("class Module(Module):\n  __parameters__ = [\"a\\\"b\", \"c\\\\\", ]\n"),
            "");
  EXPECT_EQ(attribute_source_fault("class Module(Module):\n  t : Tuple[()]\n"), "");
  EXPECT_EQ(attribute_source_fault("class A(Module):\n  x : int\nclass B(Module):\n  y : __torch__.A\n"), "");
}

// The statement that crashed LibTorch's compiler (fuzz/checkpoint_crc_fuzzer): a class-body assignment
// of a name LibTorch has no meaning for is taken for a constant whose missing annotation is dereferenced.
TEST(ArchiveSource, AssignmentsLibTorchTakesForClassConstantsAreRefusedWithTheirLine) {
  EXPECT_EQ(attribute_source_fault("class Module(Module):\n  __parameters__ = []\n  __buffeus__ = []\n"),
            "line 3 of its TorchScript source is not an attribute declaration of a module");
  EXPECT_NE(attribute_source_fault("class Module(Module):\n  step = int\n"), "");
  EXPECT_NE(attribute_source_fault("class Module(Module):\n  step : int = 3\n"), "");
}

TEST(ArchiveSource, AnythingButClassesOfAttributesIsRefused) {
  const char* refused[] = {
      "import torch\n",
      "x : int\n",
      "  x : int\n",
      "def forward(self):\n  return 1\n",
      "class Module(Module):\n  def forward(self):\n    return 1\n",
      "class Module(Module):\n    x : int\n",
      "class Module(Module):\n\tx : int\n",
      "class Module(object):\n  x : int\n",
      "class 0Module(Module):\n",
      "class Module(Module): pass\n",
      "class Module(Module):\n  x : \n",
      "class Module(Module):\n  x : List[\n",
      "class Module(Module):\n  x : List[int,]\n",
      "class Module(Module):\n  x : ()\n",
      "class Module(Module):\n  x : a..b\n",
      "class Module(Module):\n  1x : int\n",
      "class Module(Module):\n  x : int  \n",
      "class Module(Module):\n  x : int\r\n",
      "class Module(Module):\n  __parameters__ = [\"a\"]\n",
      "class Module(Module):\n  __parameters__ = [\"a, ]\n",
      "class Module(Module):\n  __parameters__ = [\"a\\\", ]\n",
      "class Module(Module):\n  __parameters__ = [a, ]\n",
      "class Module(Module):\n  __buffers__ = []]\n",
      "class Module(Module):\n  __annotations__ = [1]\n",
      "class Module(Module):\n  __annotations__[x] = int\n",
      "class Module(Module):\n  __annotations__[\"x\"] = \n",
      "class Module(Module):\n  __constants__ = []\n",
  };
  for (const char* source : refused) EXPECT_NE(attribute_source_fault(source), "") << source;
  const std::string with_nul("class Module(Module):\n  x : int\0\n", 33);
  EXPECT_NE(attribute_source_fault(with_nul), "");
}

TEST(ArchiveSource, TypesNestedDeeperThanTheLimitAreRefused) {
  const auto nested = [](int depth) {
    std::string type;
    for (int level = 1; level < depth; ++level) type += "List[";
    type += "int" + std::string(static_cast<std::size_t>(depth - 1), ']');
    return "class Module(Module):\n  x : " + type + "\n";
  };
  EXPECT_EQ(attribute_source_fault(nested(max_type_depth)), "");
  EXPECT_EQ(attribute_source_fault(nested(max_type_depth + 1)),
            "line 2 of its TorchScript source is not an attribute declaration of a module");
  EXPECT_NE(attribute_source_fault(nested(100000)), "") << "no recursion as deep as the input";
}

TEST(ArchiveSource, TheFaultNamesTheFirstBadLine) {
  EXPECT_EQ(attribute_source_fault("\n\nexec('x')\nclass Module(Module):\n"),
            "line 3 of its TorchScript source is not a class of attributes (`class Name(Module):`)");
}

}  // namespace archive_source_test
