# Install rules, the exported CMake package, the core's pkg-config file and the Debian package
# (docs/install.md). Included by the top-level CMakeLists.txt once every target exists.
#
#   cmake --install build --prefix /opt/torchsystem
#   find_package(torchsystem 0.1 REQUIRED COMPONENTS core torch checkpoint training)   # in a consumer
#   cpack --config build/CPackConfig.cmake -G DEB
include(CMakePackageConfigHelpers)

set(TORCHSYSTEM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/torchsystem)
set(TORCHSYSTEM_COMPONENTS core)
if(TORCHSYSTEM_BUILD_TORCH)
  list(APPEND TORCHSYSTEM_COMPONENTS torch checkpoint training)
endif()

# Libraries carry the project's version; the soname changes with the minor version while it is 0.x.
set(TORCHSYSTEM_LIBRARY_TARGETS)
foreach(component IN LISTS TORCHSYSTEM_COMPONENTS)
  set_target_properties(torchsystem_${component} PROPERTIES
    EXPORT_NAME ${component}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  install(TARGETS torchsystem_${component} EXPORT torchsystem-${component}-targets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT torchsystem-${component}-targets NAMESPACE torchsystem:: DESTINATION ${TORCHSYSTEM_CMAKE_DIR})
endforeach()

# Headers by layer: the core's at the top of include/torchsystem/, each later layer in its own folder
# beside the one header that includes the whole layer.
install(DIRECTORY include/torchsystem DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp"
        PATTERN "torch" EXCLUDE PATTERN "checkpoint" EXCLUDE PATTERN "training" EXCLUDE PATTERN "torch.hpp" EXCLUDE
        PATTERN "checkpoint.hpp" EXCLUDE PATTERN "training.hpp" EXCLUDE)
if(TORCHSYSTEM_BUILD_TORCH)
  foreach(layer torch checkpoint training)
    install(DIRECTORY include/torchsystem/${layer} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/torchsystem)
    install(FILES include/torchsystem/${layer}.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/torchsystem)
  endforeach()
endif()

# Programs find the libraries relative to themselves, so any prefix works without LD_LIBRARY_PATH.
function(torchsystem_install_rpath target destination)
  file(RELATIVE_PATH to_libraries /${destination} /${CMAKE_INSTALL_LIBDIR})
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN/${to_libraries}")
endfunction()
install(TARGETS torchsystem_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
torchsystem_install_rpath(torchsystem_cli ${CMAKE_INSTALL_BINDIR})
if(TORCHSYSTEM_BUILD_TORCH)
  install(TARGETS torchsystem_libtorch_cli RUNTIME DESTINATION ${TORCHSYSTEM_LIBEXEC_DIR})
  torchsystem_install_rpath(torchsystem_libtorch_cli ${TORCHSYSTEM_LIBEXEC_DIR})
  install(TARGETS seed_plugin LIBRARY DESTINATION ${TORCHSYSTEM_PLUGIN_DIR})
  torchsystem_install_rpath(seed_plugin ${TORCHSYSTEM_PLUGIN_DIR})
  install(FILES examples/configs/seed.json DESTINATION ${CMAKE_INSTALL_DATADIR}/torchsystem/examples)
  install(FILES python/torchsystem_torchscript.py DESTINATION ${CMAKE_INSTALL_DATADIR}/torchsystem/python)
endif()

# The CMake package: torchsystemConfig.cmake loads the requested components' targets, each after its
# dependencies; torchsystemConfigVersion.cmake accepts the same 0.minor version (semantic versioning:
# below 1.0 a minor version may break the API).
configure_package_config_file(cmake/torchsystemConfig.cmake.in ${PROJECT_BINARY_DIR}/torchsystemConfig.cmake
                              INSTALL_DESTINATION ${TORCHSYSTEM_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/torchsystemConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/torchsystemConfig.cmake ${PROJECT_BINARY_DIR}/torchsystemConfigVersion.cmake
        DESTINATION ${TORCHSYSTEM_CMAKE_DIR})

# pkg-config for the core: `pkg-config --cflags --libs torchsystem-core` (C++20 is the consumer's to set).
file(RELATIVE_PATH TORCHSYSTEM_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(cmake/torchsystem-core.pc.in ${PROJECT_BINARY_DIR}/torchsystem-core.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/torchsystem-core.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Debian package: `cpack -G DEB` in the build directory. Its dependencies are Debian's packages of
# what the installed headers and libraries use.
set(CPACK_PACKAGE_NAME torchsystem)
set(CPACK_PACKAGE_VENDOR "torchsystem")
set(CPACK_PACKAGE_CONTACT "torchsystem maintainers <torchsystem@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Model registry for LibTorch: identity by hyperparameters, checkpoints, training")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "nlohmann-json3-dev (>= 3.11), libssl3, libstdc++6 (>= 12), libc6 (>= 2.36)")
if(TORCHSYSTEM_BUILD_TORCH)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libtorch-dev (>= 1.13), libtorch-dev (<< 1.14), libzip4, zlib1g, libcsv3")
endif()
set(CPACK_GENERATOR DEB)
include(CPack)
