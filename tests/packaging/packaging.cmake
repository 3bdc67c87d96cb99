# Packaging tests (label "packaging"; `make test` runs them as their own
# step): the shared library's ABI surface, and an install that a consumer
# project can build against with find_package and with pkg-config.
#
# Sanitizer builds skip them: their libraries need the sanitizer runtime, which
# a plain consumer does not link.
if(MGOV_SANITIZE STREQUAL "")
  find_program(MGOV_BASH bash REQUIRED)
  set(_pkg ${CMAKE_CURRENT_LIST_DIR})

  add_test(NAME packaging.symbols
    COMMAND ${MGOV_BASH} ${_pkg}/check_symbols.sh $<TARGET_FILE:memgov_shared>)

  add_test(NAME packaging.install
    COMMAND ${MGOV_BASH} ${_pkg}/install_consumer.sh
      ${PROJECT_BINARY_DIR} ${_pkg}/consumer ${CMAKE_C_COMPILER}
      $<IF:$<TARGET_EXISTS:memgov>,with-tool,no-tool>)

  set(_codec_libs -lm)  # the heaps' jemalloc needs libm
  if(MGOV_HAVE_LZ4)
    list(APPEND _codec_libs -llz4)
  endif()
  if(MGOV_HAVE_ZSTD)
    list(APPEND _codec_libs -lzstd)
  endif()
  add_test(NAME packaging.readme
    COMMAND ${MGOV_BASH} ${_pkg}/readme_example.sh ${PROJECT_SOURCE_DIR}/README.md
      ${PROJECT_SOURCE_DIR}/include $<TARGET_FILE:memgov_static> ${CMAKE_C_COMPILER}
      ${_codec_libs})

  set_tests_properties(packaging.symbols packaging.install packaging.readme PROPERTIES
    LABELS packaging TIMEOUT 300)
endif()
