// The one unit of the targets that own the precompiled LibTorch headers (cmake/torch_pch.cmake).
