# `mlpkit gradcheck --mpi` under mpirun must print exactly what the plain command prints (JSON),
# once (rank 0 only), with the same exit status.
# -DTOOL, -DMPIEXEC, -DMPIEXEC_FLAGS (list), -DBUG (none, sign, …), -DWORK_DIR.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(args gradcheck --dims 9,8,7,1 --batch 6 --seed 3 --json --no-progress --inject-bug ${BUG})
execute_process(COMMAND "${TOOL}" ${args} RESULT_VARIABLE plain_status
                OUTPUT_VARIABLE plain ERROR_VARIABLE plain_error)
execute_process(COMMAND "${MPIEXEC}" ${MPIEXEC_FLAGS} "${TOOL}" ${args} --mpi RESULT_VARIABLE mpi_status
                OUTPUT_VARIABLE sharded ERROR_VARIABLE sharded_error)
file(WRITE "${WORK_DIR}/plain.json" "${plain}")
file(WRITE "${WORK_DIR}/mpi.json" "${sharded}")
if(NOT plain MATCHES "\"verdict\"")
  message(FATAL_ERROR "the plain command printed no report (status ${plain_status}): ${plain_error}")
endif()
if(NOT plain STREQUAL sharded)
  message(FATAL_ERROR "gradcheck --mpi printed something else than gradcheck (see ${WORK_DIR}):\n"
                      "${sharded}\n${sharded_error}")
endif()
if(NOT plain_status STREQUAL mpi_status)
  message(FATAL_ERROR "exit status ${mpi_status} under --mpi, ${plain_status} without")
endif()
message(STATUS "same report, exit status ${plain_status}")
