# The `docs` target: the API reference of include/mlpkit, HTML by Doxygen (Debian: doxygen), into
# <build>/docs/html. Every warning is an error (WARN_AS_ERROR in docs/Doxyfile.in), so an undocumented
# public declaration fails it; CI builds it. Not part of `all`.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(MLPKIT_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
  configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${MLPKIT_DOCS_OUTPUT_DIR}/Doxyfile" @ONLY)
  add_custom_target(docs
    COMMAND Doxygen::doxygen "${MLPKIT_DOCS_OUTPUT_DIR}/Doxyfile"
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    COMMENT "API reference: ${MLPKIT_DOCS_OUTPUT_DIR}/html/index.html"
    VERBATIM)
else()
  message(STATUS "mlpkit: doxygen not found, no docs target (apt-get install doxygen)")
endif()
