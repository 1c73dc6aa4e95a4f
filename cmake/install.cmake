# `cmake --install build --prefix P`: the static libraries, their headers under P/include with the
# project-rooted layout (#include "tensor/tensor.h"), and the CMake package `hipt`:
#   find_package(hipt CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE hipt::models hipt::cuda)
# Targets: hipt::tensor, hipt::autograd, hipt::nn (the engine: C++ standard library, fmt, threads),
# hipt::io (files: libtiff, libpng, libjpeg, OpenJPEG, libzip, HDF5, nlohmann_json), hipt::models
# (the HIPT models and checkpoint loading: nn + io) and hipt::cuda (the CUDA runtime layer: cudart
# when built with CUDA, a stub otherwise). Their dependencies are found again by hiptConfig.cmake.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(HIPT_INSTALLED_TARGETS hipt_tensor hipt_autograd hipt_nn hipt_io hipt_models hipt_cuda)
foreach(target IN LISTS HIPT_INSTALLED_TARGETS)
  string(REGEX REPLACE "^hipt_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

set(HIPT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/hipt)
install(TARGETS ${HIPT_INSTALLED_TARGETS} EXPORT hiptTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  FILE_SET HEADERS DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT hiptTargets NAMESPACE hipt:: DESTINATION ${HIPT_INSTALL_CMAKEDIR})

if(HIPT_HAVE_CUDA)
  set(HIPT_PACKAGE_WITH_CUDA ON)
else()
  set(HIPT_PACKAGE_WITH_CUDA OFF)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/hiptConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/hiptConfig.cmake INSTALL_DESTINATION ${HIPT_INSTALL_CMAKEDIR})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/hiptConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/hiptConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/hiptConfigVersion.cmake
  DESTINATION ${HIPT_INSTALL_CMAKEDIR})
