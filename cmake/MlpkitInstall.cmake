# install(EXPORT) with a config + version file, and a pkg-config file.
include(CMakePackageConfigHelpers)

set(MLPKIT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/mlpkit" CACHE STRING
    "Where mlpkitConfig.cmake is installed, relative to the prefix")

# mlpkit::mpi (and its header, and the config's MPI lookup) only when built with MLPKIT_WITH_MPI.
set(MLPKIT_EXPORTED_TARGETS mlpkit)
set(MLPKIT_HEADERS_EXCLUDED PATTERN "mpi.hpp" EXCLUDE)
set(MLPKIT_CONFIG_FIND_MPI "")
if(MLPKIT_WITH_MPI)
  list(APPEND MLPKIT_EXPORTED_TARGETS mlpkit_mpi)
  set(MLPKIT_HEADERS_EXCLUDED "")
  set(MLPKIT_CONFIG_FIND_MPI "find_dependency(MPI COMPONENTS CXX)  # mlpkit::mpi")
endif()

# mlpkit::onnx likewise with MLPKIT_WITH_ONNX.
set(MLPKIT_CONFIG_FIND_ONNX "")
if(MLPKIT_WITH_ONNX)
  list(APPEND MLPKIT_EXPORTED_TARGETS mlpkit_onnx)
  set(MLPKIT_CONFIG_FIND_ONNX "find_dependency(Protobuf)\nfind_dependency(ONNX CONFIG)  # mlpkit::onnx")
else()
  list(APPEND MLPKIT_HEADERS_EXCLUDED PATTERN "onnx.hpp" EXCLUDE)
endif()

install(TARGETS ${MLPKIT_EXPORTED_TARGETS} EXPORT mlpkitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/mlpkit" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        ${MLPKIT_HEADERS_EXCLUDED})
install(FILES "${PROJECT_BINARY_DIR}/include/mlpkit/version.hpp" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mlpkit)
install(EXPORT mlpkitTargets NAMESPACE mlpkit:: DESTINATION ${MLPKIT_INSTALL_CMAKEDIR})

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/mlpkitConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/mlpkitConfig.cmake"
                              INSTALL_DESTINATION ${MLPKIT_INSTALL_CMAKEDIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/mlpkitConfigVersion.cmake"
                                 COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/mlpkitConfig.cmake" "${PROJECT_BINARY_DIR}/mlpkitConfigVersion.cmake"
        DESTINATION ${MLPKIT_INSTALL_CMAKEDIR})

# pkg-config: OpenMP's flag travels in Libs/Cflags since consumers of a static mlpkit need it.
set(MLPKIT_PC_OPENMP_FLAGS "${OpenMP_CXX_FLAGS}")
# Relocatable: the prefix is found relative to the .pc file, so `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH MLPKIT_PC_PREFIX_FROM_PCFILEDIR "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" MLPKIT_PC_PREFIX_FROM_PCFILEDIR "${MLPKIT_PC_PREFIX_FROM_PCFILEDIR}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/mlpkit.pc.in" "${PROJECT_BINARY_DIR}/mlpkit.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/mlpkit.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
