// Huge-page tensors (huge_pages.hpp).
#include "huge_pages.hpp"

#include <sys/mman.h>

#include <ATen/Functions.h>
#include <c10/util/accumulate.h>

#include <cstdlib>
#include <new>

namespace torchsystem::training_detail {

at::Tensor empty_huge(at::IntArrayRef sizes, at::ScalarType type) {
  constexpr std::size_t huge_page = std::size_t{2} << 20;
  constexpr std::size_t threshold = std::size_t{4} << 20;
  const auto bytes = static_cast<std::size_t>(c10::multiply_integers(sizes)) * c10::elementSize(type);
  if (bytes < threshold) return at::empty(sizes, at::TensorOptions().dtype(type));
  const std::size_t rounded = (bytes + huge_page - 1) / huge_page * huge_page;
  void* memory = std::aligned_alloc(huge_page, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  ::madvise(memory, rounded, MADV_HUGEPAGE);  // advice: without it, 4 KiB pages as before
  return at::from_blob(
      memory, sizes, [](void* data) { std::free(data); }, at::TensorOptions().dtype(type));
}

}  // namespace torchsystem::training_detail
