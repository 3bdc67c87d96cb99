# The memgov command, end to end (tests/tools/*.sh, each given the memgov
# executable).  The demo checks its own invariants, so running it is a test
# of the governor and the allocators together (cli.sh runs the scripted
# tour, demo.sh the mixed workload, short and small); sort.sh checks `memgov sort`
# byte for byte against `LC_ALL=C sort` and the library's external sort
# under a 1 MiB budget; groupby.sh checks `memgov groupby` against GNU
# datamash, in RAM and spilling at 1 MiB, its errors and signals, and
# `memgov bench agg`'s checks; join.sh checks `memgov join` against
# `LC_ALL=C join` on sorted inputs (every -a/-v combination from either
# build side, separators, empty and missing fields, spilling at 1 MiB), its
# errors and signals, and `memgov bench join`'s checks; sections.sh lists, writes, reads back and
# removes sections of a persistent spill directory, busy and damaged ones
# included;
# signals.sh stops sort and bench sort by SIGPIPE, SIGTERM, SIGINT and
# SIGHUP in the middle of a spill and checks that nothing is left behind;
# top.sh watches a running sort with `memgov top` through its stats file
# (MEMGOV_STATS) and checks info's pressure sources; host.sh runs `memgov
# host --demo` (a member killed with SIGKILL, the budget whole again) and
# watches it from outside.
if(TARGET memgov)
  find_program(MGOV_BASH bash REQUIRED)
  add_test(NAME tools.cli
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/cli.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.cli PROPERTIES TIMEOUT 300)
  add_test(NAME tools.demo
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/demo.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.demo PROPERTIES TIMEOUT 300)
  add_test(NAME tools.sort
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/sort.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.sort PROPERTIES TIMEOUT 300)
  add_test(NAME tools.sections
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/sections.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.sections PROPERTIES TIMEOUT 300)
  add_test(NAME tools.groupby
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/groupby.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.groupby PROPERTIES TIMEOUT 300)
  add_test(NAME tools.join
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/join.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.join PROPERTIES TIMEOUT 300)
  add_test(NAME tools.signals
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/signals.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.signals PROPERTIES TIMEOUT 300)
  add_test(NAME tools.top
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/top.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.top PROPERTIES TIMEOUT 300)
  add_test(NAME tools.host
    COMMAND ${MGOV_BASH} ${CMAKE_CURRENT_LIST_DIR}/host.sh $<TARGET_FILE:memgov>)
  set_tests_properties(tools.host PROPERTIES TIMEOUT 300)
endif()
