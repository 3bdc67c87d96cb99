# cmake/jemalloc_rename.cmake - run at build time by cmake/jemalloc.cmake:
#   cmake -DARCHIVE=libjemalloc_pic.a -DDIR=<out> -DAR=ar -DNM=nm -DOBJCOPY=objcopy -P this
#
# 1. copies ARCHIVE to DIR/jemalloc.a without the C++ operators;
# 2. writes DIR/symbols.map: every global symbol the archive defines,
#    "name mgov__je_name" (a name already starting with je_ becomes
#    mgov__je_<rest>), and fails if two names would become one;
# 3. objcopy --redefine-syms=DIR/symbols.map on the copy (definitions and
#    the references between its objects are renamed together; references
#    to libc are left alone);
# 4. extracts the objects into DIR/obj/.
foreach(v ARCHIVE DIR AR NM OBJCOPY)
  if(NOT ${v})
    message(FATAL_ERROR "jemalloc_rename: ${v} not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${DIR}/obj)
file(MAKE_DIRECTORY ${DIR}/obj)
configure_file(${ARCHIVE} ${DIR}/jemalloc.a COPYONLY)
execute_process(COMMAND ${AR} t ${DIR}/jemalloc.a OUTPUT_VARIABLE members
  OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" members "${members}")
foreach(m ${members})
  if(m MATCHES "jemalloc_cpp")
    execute_process(COMMAND ${AR} d ${DIR}/jemalloc.a ${m} COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()

execute_process(COMMAND ${NM} -g --defined-only ${DIR}/jemalloc.a
  OUTPUT_VARIABLE nm_out COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" lines "${nm_out}")
set(names "")
foreach(line ${lines})
  # "<value> <type> <name>"; member headers ("x.o:") and blanks are skipped
  if(line MATCHES "^[0-9a-fA-F]+ [A-Za-z] ([^ ]+)$")
    list(APPEND names ${CMAKE_MATCH_1})
  endif()
endforeach()
list(REMOVE_DUPLICATES names)
list(LENGTH names n)
if(n LESS 100)
  message(FATAL_ERROR "jemalloc_rename: only ${n} symbols in ${ARCHIVE}: not jemalloc?")
endif()
set(map "")
set(targets "")
foreach(s ${names})
  if(s MATCHES "^je_(.*)$")
    set(t "mgov__je_${CMAKE_MATCH_1}")
  else()
    set(t "mgov__je_${s}")
  endif()
  list(FIND targets ${t} dup)
  if(NOT dup EQUAL -1)
    message(FATAL_ERROR "jemalloc_rename: two symbols would both become ${t}")
  endif()
  list(APPEND targets ${t})
  string(APPEND map "${s} ${t}\n")
endforeach()
foreach(must malloc free mallocx mallctl malloc_conf)
  list(FIND names ${must} found)
  if(found EQUAL -1)
    message(FATAL_ERROR "jemalloc_rename: ${ARCHIVE} defines no '${must}'")
  endif()
endforeach()
file(WRITE ${DIR}/symbols.map "${map}")
execute_process(COMMAND ${OBJCOPY} --redefine-syms=${DIR}/symbols.map ${DIR}/jemalloc.a
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${AR} x ${DIR}/jemalloc.a WORKING_DIRECTORY ${DIR}/obj
  COMMAND_ERROR_IS_FATAL ANY)
