# cmake/install.cmake - what `cmake --install` puts where.
#
#   include/memgov.h, include/memgov/*.h     the public headers
#   lib/libmemgov.so.0.1.0 (+ .so.0, .so)     SONAME libmemgov.so.0
#   lib/libmemgov.a
#   bin/memgov                                the tool, when built
#   lib/cmake/memgov/                         find_package(memgov): targets
#                                             memgov::memgov (shared) and
#                                             memgov::memgov_static (which
#                                             links the codecs: the config
#                                             finds them with pkg-config),
#                                             version file (SameMajorVersion)
#   lib/pkgconfig/memgov.pc                   pkg-config --cflags --libs memgov
#
# memgov_objects (the OBJECT library both libraries are built from) is used
# only through $<TARGET_OBJECTS:>, so it is not part of the export.
include(CMakePackageConfigHelpers)

set(MGOV_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/memgov)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT devel
  FILES_MATCHING PATTERN "*.h")

install(TARGETS memgov_shared memgov_static
  EXPORT memgovTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT runtime NAMELINK_COMPONENT devel
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT devel
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

if(TARGET memgov)
  install(TARGETS memgov RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()

install(EXPORT memgovTargets
  NAMESPACE memgov::
  FILE memgovTargets.cmake
  DESTINATION ${MGOV_CMAKE_DIR}
  COMPONENT devel)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/memgovConfig.cmake.in
  ${PROJECT_BINARY_DIR}/memgovConfig.cmake
  INSTALL_DESTINATION ${MGOV_CMAKE_DIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/memgovConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/memgovConfig.cmake
  ${PROJECT_BINARY_DIR}/memgovConfigVersion.cmake
  DESTINATION ${MGOV_CMAKE_DIR}
  COMPONENT devel)

# pkg-config.  The libraries memgov links privately (compression codecs) go
# to Requires.private, so `pkg-config --static` users get them.
set(MGOV_PC_REQUIRES_PRIVATE "")
if(MGOV_HAVE_LZ4)
  list(APPEND MGOV_PC_REQUIRES_PRIVATE liblz4)
endif()
if(MGOV_HAVE_ZSTD)
  list(APPEND MGOV_PC_REQUIRES_PRIVATE libzstd)
endif()
list(JOIN MGOV_PC_REQUIRES_PRIVATE " " MGOV_PC_REQUIRES_PRIVATE)

# Absolute paths stay as they are; relative ones hang off ${prefix}.
foreach(_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_d}}")
    set(MGOV_PC_${_d} "${CMAKE_INSTALL_${_d}}")
  else()
    set(MGOV_PC_${_d} "\${prefix}/${CMAKE_INSTALL_${_d}}")
  endif()
endforeach()
# The prefix is filled in at install time, so `cmake --install --prefix DIR`
# gets a memgov.pc that points into DIR.
set(MGOV_PC_PREFIX "@MGOV_PC_PREFIX@")
configure_file(${CMAKE_CURRENT_LIST_DIR}/memgov.pc.in ${PROJECT_BINARY_DIR}/memgov.pc.in @ONLY)
install(CODE "
  set(MGOV_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/memgov.pc.in\" \"${PROJECT_BINARY_DIR}/memgov.pc\" @ONLY)
  " COMPONENT devel)
install(FILES ${PROJECT_BINARY_DIR}/memgov.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT devel)
