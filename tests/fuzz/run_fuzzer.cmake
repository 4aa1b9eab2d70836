# Runs one libFuzzer harness for a bounded number of executions over its committed corpus.
# -DFUZZER=<exe> -DCORPUS=<committed seed dir> -DWORK_DIR=<scratch dir> -DRUNS=<n>
# New inputs go to WORK_DIR (emptied first, so every run starts from the same corpus and seed);
# the committed corpus is only read.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus" "${WORK_DIR}/artifacts")
execute_process(
  COMMAND "${FUZZER}" -runs=${RUNS} -seed=1 -max_len=4096 -timeout=60 -rss_limit_mb=4096
          -print_final_stats=1 -artifact_prefix=${WORK_DIR}/artifacts/
          "${WORK_DIR}/corpus" "${CORPUS}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${result}); the input that failed is in ${WORK_DIR}/artifacts/ "
                      "(rerun: ${FUZZER} <that file>)")
endif()
