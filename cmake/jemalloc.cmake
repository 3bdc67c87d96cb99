# cmake/jemalloc.cmake - jemalloc inside memgov, under private names.
#
# The heaps (src/alloc/heap*.c) are built on jemalloc from Debian's
# libjemalloc-dev.  memgov must never replace the host program's malloc,
# and Debian's libjemalloc.so exports malloc/free, so it is not linked the
# ordinary way.  Instead the static PIC archive libjemalloc_pic.a is
# copied into the build directory with every global symbol it defines
# renamed (objcopy --redefine-syms):
#
#     malloc, free, mallocx, mallctl, malloc_conf, ...  ->  mgov__je_malloc, ...
#     je_arena_new, je_tsd_tls, ... (its internals)      ->  mgov__je_arena_new, ...
#
# and its objects are linked into libmemgov.so and libmemgov.a.  The C++
# operators (jemalloc_cpp.o) are left out.  Nothing in either library then
# defines a name the host's allocator uses; the shared library's version
# script hides every mgov__ name as well.  tests/alloc/test_host_malloc.c
# checks, in a program linked with each library, that malloc is glibc's.
#
# Output: MGOV_JEMALLOC_OBJECTS (the renamed objects, generated at build
# time by cmake/jemalloc_rename.cmake), MGOV_JEMALLOC_INCLUDE_DIR, and the
# target mgov_jemalloc_objects that makes them.
find_file(MGOV_JEMALLOC_PIC libjemalloc_pic.a
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib /usr/local/lib
  PATH_SUFFIXES ${CMAKE_LIBRARY_ARCHITECTURE})
find_path(MGOV_JEMALLOC_INCLUDE_DIR jemalloc/jemalloc.h)
if(NOT MGOV_JEMALLOC_PIC OR NOT MGOV_JEMALLOC_INCLUDE_DIR)
  message(FATAL_ERROR
    "jemalloc's static PIC archive (libjemalloc_pic.a) or jemalloc/jemalloc.h was not found: "
    "install libjemalloc-dev (scripts/deps.sh does).  memgov's heaps link it under private "
    "names so the host program keeps its own malloc.")
endif()
foreach(tool CMAKE_AR CMAKE_NM CMAKE_OBJCOPY)
  if(NOT ${tool})
    message(FATAL_ERROR "jemalloc: ${tool} not found (binutils)")
  endif()
endforeach()

# The members, known now so the build can name its outputs.
execute_process(COMMAND ${CMAKE_AR} t ${MGOV_JEMALLOC_PIC}
  OUTPUT_VARIABLE _je_members RESULT_VARIABLE _je_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _je_rc EQUAL 0)
  message(FATAL_ERROR "jemalloc: cannot list ${MGOV_JEMALLOC_PIC}")
endif()
string(REPLACE "\n" ";" _je_members "${_je_members}")
list(FILTER _je_members EXCLUDE REGEX "jemalloc_cpp")
set(MGOV_JEMALLOC_DIR ${PROJECT_BINARY_DIR}/jemalloc)
set(MGOV_JEMALLOC_OBJECTS "")
foreach(m ${_je_members})
  list(APPEND MGOV_JEMALLOC_OBJECTS ${MGOV_JEMALLOC_DIR}/obj/${m})
endforeach()

add_custom_command(
  OUTPUT ${MGOV_JEMALLOC_OBJECTS} ${MGOV_JEMALLOC_DIR}/symbols.map
  COMMAND ${CMAKE_COMMAND} -DARCHIVE=${MGOV_JEMALLOC_PIC} -DDIR=${MGOV_JEMALLOC_DIR}
          -DAR=${CMAKE_AR} -DNM=${CMAKE_NM} -DOBJCOPY=${CMAKE_OBJCOPY}
          -P ${PROJECT_SOURCE_DIR}/cmake/jemalloc_rename.cmake
  DEPENDS ${MGOV_JEMALLOC_PIC} ${PROJECT_SOURCE_DIR}/cmake/jemalloc_rename.cmake
  COMMENT "Renaming jemalloc's symbols (mgov__je_*) for libmemgov"
  VERBATIM)
add_custom_target(mgov_jemalloc_objects DEPENDS ${MGOV_JEMALLOC_OBJECTS})
set_source_files_properties(${MGOV_JEMALLOC_OBJECTS} PROPERTIES
  EXTERNAL_OBJECT TRUE GENERATED TRUE)
message(STATUS "memgov heaps: jemalloc from ${MGOV_JEMALLOC_PIC} (renamed mgov__je_*)")
