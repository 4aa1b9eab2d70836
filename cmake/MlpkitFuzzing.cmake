# MLPKIT_BUILD_FUZZERS: every object of the build (library, ISA objects, tests, harnesses) is
# instrumented for libFuzzer coverage, AddressSanitizer and UndefinedBehaviorSanitizer. Flags are
# set for the whole directory tree on purpose: ASan and the coverage counters must see every object,
# and a half-instrumented build reports false container overflows. Only for this opt-in build.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR
    "MLPKIT_BUILD_FUZZERS=ON needs clang (libFuzzer ships with clang), but the C++ compiler is "
    "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER}. Configure a separate build with "
    "-DCMAKE_CXX_COMPILER=clang++ (Debian: apt-get install clang libclang-rt-14-dev libomp-14-dev), "
    "e.g. `cmake --preset fuzz`.")
endif()

include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
check_cxx_source_compiles([[
  #include <cstddef>
  #include <cstdint>
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
]] MLPKIT_HAVE_LIBFUZZER)
unset(CMAKE_REQUIRED_FLAGS)
if(NOT MLPKIT_HAVE_LIBFUZZER)
  message(FATAL_ERROR
    "MLPKIT_BUILD_FUZZERS=ON: ${CMAKE_CXX_COMPILER} cannot link a -fsanitize=fuzzer,address,undefined "
    "program (Debian: apt-get install libclang-rt-14-dev).")
endif()

set(MLPKIT_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_compile_options(-fsanitize=fuzzer-no-link ${MLPKIT_SANITIZE_FLAGS})
add_link_options(-fsanitize=address,undefined)
