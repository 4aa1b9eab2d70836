# Dependencies of the library itself. Test, benchmark and tool dependencies are looked up in
# their own subdirectories.
find_package(xsimd 8.1 REQUIRED)
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)  # Debian's xsimd config names xtl without finding it
endif()
find_package(nlohmann_json 3 REQUIRED)  # header-only, private: GradcheckReport::to_json, Standardizer::save/load
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
if(MLPKIT_WITH_MPI)
  find_package(MPI REQUIRED COMPONENTS CXX)  # mlpkit::mpi only (src/mpi)
  # How the MPI tests launch local processes (tests/mpi, tools). Open MPI refuses root and more
  # processes than cores unless told; in a container its shared memory must not need ptrace
  # (single-copy off), and only the loopback transports are wanted.
  set(MLPKIT_MPIEXEC_FLAGS "")
  execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE mlpkit_mpiexec_version ERROR_QUIET)
  if(mlpkit_mpiexec_version MATCHES "Open MPI|OpenRTE")
    set(MLPKIT_MPIEXEC_FLAGS --oversubscribe --allow-run-as-root)
  endif()
  set(MLPKIT_MPI_TEST_ENVIRONMENT
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
    OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1)
endif()
if(MLPKIT_WITH_ONNX)
  find_package(Protobuf REQUIRED)  # onnx_proto's link interface names protobuf::libprotobuf
  find_package(ONNX REQUIRED CONFIG)  # mlpkit::onnx only (src/model/onnx)
endif()
