# Fails when a weak (or unique) symbol is defined by the objects of more than one ISA. The objects
# of one ISA (its <isa>.cpp and the kernels it compiles apart, e.g. avx512_gemm_small.cpp) are built
# with the same flags and may share weak symbols (inline helpers both instantiate): the linker's pick
# among them is the same code.
# Usage: cmake -DNM=<nm> -DISAS=<isa;isa;…> -DOBJECTS_<isa>=<obj;obj;…> … -P check_isa_symbols.cmake
if(NOT ISAS)
  message(FATAL_ERROR "no ISA given")
endif()

# The weak symbols `object` defines, appended to the variable named by `out`.
function(weak_symbols object out)
  execute_process(COMMAND ${NM} --defined-only ${object} OUTPUT_VARIABLE listing RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  set(found "")
  foreach(line IN LISTS lines)
    # "<address> <type> <name>"; W/V: weak, u: unique global (both merged by the linker)
    # DW.ref.* are the compiler's pointers to the exception personality routine: data, not code.
    # The name is copied before the second MATCHES, which clears CMAKE_MATCH_1 when it fails (every
    # name then read as empty, and the check passed whatever the objects held).
    if(line MATCHES "^[0-9a-fA-F]+ [WVu] (.*)$")
      set(name "${CMAKE_MATCH_1}")
      if(NOT name MATCHES "^DW\\.ref\\.")
        list(APPEND found "${name}")
      endif()
    endif()
  endforeach()
  list(LENGTH found count)
  message(STATUS "${object}: ${count} weak symbols")
  set(${out} ${${out}} ${found} PARENT_SCOPE)
endfunction()

set(seen "")
set(shared "")
foreach(isa IN LISTS ISAS)
  if(NOT OBJECTS_${isa})
    message(FATAL_ERROR "no object given for ISA ${isa}")
  endif()
  set(weak_here "")
  foreach(object IN LISTS OBJECTS_${isa})
    weak_symbols(${object} weak_here)
  endforeach()
  list(REMOVE_DUPLICATES weak_here)
  foreach(symbol IN LISTS weak_here)
    list(FIND seen "${symbol}" index)
    if(NOT index EQUAL -1)
      list(APPEND shared "${symbol}")
    endif()
  endforeach()
  list(APPEND seen ${weak_here})
endforeach()
if(shared)
  list(REMOVE_DUPLICATES shared)
  string(REPLACE ";" "\n  " pretty "${shared}")
  message(FATAL_ERROR "weak symbols defined by the objects of more than one ISA:\n  ${pretty}")
endif()
message(STATUS "no weak symbol is shared between the objects of two ISAs")
