# Warning flags and per-ISA flags, applied to targets and sources only (never globally).

# mlpkit_target_warnings(<target>): our warnings, PRIVATE so consumers never inherit them.
function(mlpkit_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion>
    $<$<AND:$<BOOL:${MLPKIT_WERROR}>,$<CXX_COMPILER_ID:GNU,Clang>>:-Werror>)
endfunction()

# Compiler flags of each ISA the library is built for. The names match MLPKIT_ARCH.
set(MLPKIT_ISA_sse2_FLAGS "")
set(MLPKIT_ISA_avx2_FLAGS -mavx2 -mfma)
set(MLPKIT_ISA_avx512_FLAGS -mavx2 -mfma -mavx512f -mavx512cd -mavx512dq -mavx512bw
    -Wno-uninitialized)  # GCC 12 warns inside its own avx512fintrin.h (_mm512_undefined_*)
# GCC (12, 13) keeps 5 or 6 of the 16 accumulators of the AVX-512 GEMM micro-kernel on the stack, a
# store and a reload per K step, unless it schedules before register allocation with an eye on
# register pressure; then the K loop holds them all in registers.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND MLPKIT_ISA_avx512_FLAGS -fschedule-insns -fsched-pressure)
endif()
set(MLPKIT_ISAS sse2 avx2 avx512)
