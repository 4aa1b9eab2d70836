# Builds and runs one consumer project. Usage:
#   cmake -DMODE=find_package|subdirectory|shared -DSOURCE_DIR=<mlpkit source> -DBUILD_DIR=<mlpkit build>
#         -DWORK_DIR=<scratch> -DGENERATOR=<generator> [-DCXX=<compiler>] [-DLAUNCHER=<ccache>] [-DNM=<nm>]
#         -P run_consumer.cmake
# shared: builds the library alone from SOURCE_DIR with BUILD_SHARED_LIBS=ON, checks its exported
# symbols, installs it and then builds the find_package consumer against it.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/${MODE}_consumer")
if(MODE STREQUAL "shared")
  set(library_build "${WORK_DIR}/mlpkit-shared")
  set(compiler_args "")
  if(CXX)
    list(APPEND compiler_args "-DCMAKE_CXX_COMPILER=${CXX}")
  endif()
  if(LAUNCHER)
    list(APPEND compiler_args "-DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER}")
  endif()
  run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${library_build}" -G "${GENERATOR}" ${compiler_args}
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DMLPKIT_INSTALL=ON -DMLPKIT_BUILD_TESTS=OFF
      -DMLPKIT_BUILD_BENCHMARKS=OFF -DMLPKIT_BUILD_TOOLS=OFF "-DCMAKE_PREFIX_PATH=${EXTRA_PREFIX_PATH}")
  run(${CMAKE_COMMAND} --build "${library_build}" --parallel 2)
  run(${CMAKE_COMMAND} --install "${library_build}" --prefix "${WORK_DIR}/prefix")
  file(GLOB_RECURSE shared_library "${WORK_DIR}/prefix/*/libmlpkit.so")
  if(NOT NM)
    set(NM nm)
  endif()
  run(${CMAKE_COMMAND} -DNM=${NM} "-DLIBRARY=${shared_library}"
      -P "${CMAKE_CURRENT_LIST_DIR}/check_exported_symbols.cmake")
  set(consumer_dir "${CMAKE_CURRENT_LIST_DIR}/find_package_consumer")
  run(${CMAKE_COMMAND} -S "${consumer_dir}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;${EXTRA_PREFIX_PATH}")
elseif(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix")
  run(${CMAKE_COMMAND} -S "${consumer_dir}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix;${EXTRA_PREFIX_PATH}")
elseif(MODE STREQUAL "subdirectory")
  run(${CMAKE_COMMAND} -S "${consumer_dir}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
      -DCMAKE_BUILD_TYPE=Release "-DMLPKIT_SOURCE_DIR=${SOURCE_DIR}" "-DCMAKE_PREFIX_PATH=${EXTRA_PREFIX_PATH}")
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build" --parallel 2)
run("${WORK_DIR}/build/consumer")

# The installed pkg-config file must describe a working compile and link line too.
find_program(PKG_CONFIG_EXECUTABLE pkg-config)
if(MODE MATCHES "^(find_package|shared)$" AND PKG_CONFIG_EXECUTABLE AND CXX)
  file(GLOB_RECURSE pc_file "${WORK_DIR}/prefix/*/mlpkit.pc")
  get_filename_component(pc_dir "${pc_file}" DIRECTORY)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env "PKG_CONFIG_PATH=${pc_dir}"
                          ${PKG_CONFIG_EXECUTABLE} --cflags --libs mlpkit
                  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know mlpkit.pc in ${pc_dir}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  run(${CXX} "${CMAKE_CURRENT_LIST_DIR}/consumer_main.cpp" ${pc_flags} -o "${WORK_DIR}/pkg_config_consumer")
  # A shared mlpkit is found at run time through the installed library directory.
  get_filename_component(lib_dir "${pc_dir}" DIRECTORY)
  run(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${lib_dir}" "${WORK_DIR}/pkg_config_consumer")
endif()
