# Fails unless every dynamic symbol a shared mlpkit defines is public API: in namespace mlpkit, not
# in mlpkit::detail, so no std:: instantiation, no nlohmann-json symbol, no internal kernel. With
# -DMPI_INTERFACE=ON (a build with mlpkit::mpi) the internal entry points that component calls
# (those marked MLPKIT_INTERNAL_EXPORT, src/runtime/internal_export.hpp) are allowed too.
# Usage: cmake -DNM=<nm> -DLIBRARY=<libmlpkit.so> [-DMPI_INTERFACE=ON] -P check_exported_symbols.cmake
if(NOT LIBRARY OR NOT EXISTS "${LIBRARY}")
  message(FATAL_ERROR "no shared library given (LIBRARY='${LIBRARY}')")
endif()
execute_process(COMMAND ${NM} -D --defined-only "${LIBRARY}" OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D failed on ${LIBRARY}")
endif()

# `#pragma omp critical(mlpkit_…)` makes the compiler emit the lock of that named critical section as
# a global symbol `.gomp_critical_user_<name>`, shared process-wide by design of OpenMP: allowed.
set(openmp_lock "^\\.gomp_critical_user_mlpkit_")
# Itanium mangling: an entity of namespace mlpkit is N[cv/ref qualifiers]6mlpkit…, also behind the
# special-name prefixes of its typeinfo (TI), typeinfo name (TS), vtable (TV), VTT (TT) and guard (GV).
# A local entity of a function (Z…E, as the typeinfo of a lambda inside Model::load) counts as the
# function does.
set(in_mlpkit "^_Z(T[ISVT]|GV)?Z?N[KVRO]*6mlpkit")
set(mpi_interface "6detail(11ThreadLimit|11split_items|14plan_gradcheck|15record_accuracy|15run_directional|16GradcheckResults|16finish_gradcheck|17prepare_mlp_check|18function_evaluator|9run_items|13GradcheckPlan7entries)")
string(REPLACE "\n" ";" lines "${listing}")
set(total 0)
set(public 0)
set(internal 0)
set(rejected "")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^[0-9a-fA-F]* *[A-Za-z] (.+)$")
    continue()
  endif()
  set(symbol "${CMAKE_MATCH_1}")
  math(EXPR total "${total} + 1")
  if(symbol MATCHES "${in_mlpkit}6detail")
    if(MPI_INTERFACE AND symbol MATCHES "${in_mlpkit}${mpi_interface}")
      math(EXPR internal "${internal} + 1")
    else()
      list(APPEND rejected "${symbol}")
    endif()
  elseif(symbol MATCHES "${in_mlpkit}" OR symbol MATCHES "${openmp_lock}")
    math(EXPR public "${public} + 1")
  else()
    list(APPEND rejected "${symbol}")
  endif()
endforeach()

message(STATUS "${LIBRARY}: ${total} dynamic symbols, ${public} public, ${internal} internal (mlpkit::mpi)")
if(rejected)
  list(LENGTH rejected count)
  find_program(CXXFILT c++filt)
  set(pretty "")
  foreach(symbol IN LISTS rejected)
    if(CXXFILT)
      execute_process(COMMAND ${CXXFILT} "${symbol}" OUTPUT_VARIABLE symbol OUTPUT_STRIP_TRAILING_WHITESPACE)
    endif()
    string(APPEND pretty "\n  ${symbol}")
  endforeach()
  message(FATAL_ERROR "${count} exported symbols are not mlpkit's public API:${pretty}")
endif()
if(public EQUAL 0)
  message(FATAL_ERROR "no public symbol exported: is ${LIBRARY} mlpkit?")
endif()
