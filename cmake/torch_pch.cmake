# LibTorch's headers cost about 20 s a translation unit on the project's 2-core machines, and most of the
# project's LibTorch units include much of them. They are precompiled once (<torch/torch.h>, the whole C++
# frontend) and the precompiled header is shared by every LibTorch unit: one copy for the libraries and
# plugins (position-independent, -fPIC) and one for the executables (PIE, g++'s default on Debian), since
# g++ refuses a precompiled header built with other code-generation settings. docs/architecture.md has
# the figures.
#
#   torchsystem_use_torch_pch(TARGET)   # the target's units get the precompiled header
#
# TORCHSYSTEM_PRECOMPILE_HEADERS=OFF turns it off (fuzzing builds do: their instrumentation differs by
# target, which the precompiled header would not match).
option(TORCHSYSTEM_PRECOMPILE_HEADERS "Precompile LibTorch's headers once for every LibTorch unit" ON)
if(TORCHSYSTEM_BUILD_FUZZERS)
  set(TORCHSYSTEM_PRECOMPILE_HEADERS OFF)
endif()

if(TORCHSYSTEM_PRECOMPILE_HEADERS)
  foreach(kind pic pie)
    add_library(torchsystem_torch_pch_${kind} OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cpp)
    target_link_libraries(torchsystem_torch_pch_${kind} PRIVATE ${TORCH_LIBRARIES})
    target_precompile_headers(torchsystem_torch_pch_${kind} PRIVATE <torch/torch.h>)
    # -Wpedantic changes which macros g++ predefines (__cpp_runtime_arrays), which must match the users'.
    target_compile_options(torchsystem_torch_pch_${kind} PRIVATE ${TORCHSYSTEM_WARNINGS})
  endforeach()
  set_target_properties(torchsystem_torch_pch_pic PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_target_properties(torchsystem_torch_pch_pie PROPERTIES POSITION_INDEPENDENT_CODE OFF)
endif()

function(torchsystem_use_torch_pch)
  if(NOT TORCHSYSTEM_PRECOMPILE_HEADERS)
    return()
  endif()
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE -Wpedantic)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_precompile_headers(${target} REUSE_FROM torchsystem_torch_pch_pie)
    else()
      target_precompile_headers(${target} REUSE_FROM torchsystem_torch_pch_pic)
    endif()
  endforeach()
endfunction()
