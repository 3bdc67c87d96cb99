# The memgov command, end to end (tests/tools/cli.sh).  The demo checks its
# own invariants, so running it is a test of the governor and the allocators
# together.
if(TARGET memgov)
  find_program(MGOV_BASH bash REQUIRED)
  add_test(NAME tools.cli
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/cli.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.cli PROPERTIES TIMEOUT 300)
endif()
