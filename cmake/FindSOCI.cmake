# Debian's libsoci-dev ships headers and libraries but no CMake config: find them here.
# Provides SOCI::core, SOCI::sqlite3, SOCI::postgresql, SOCI::odbc.
find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)
find_package(PostgreSQL QUIET)
find_path(PQ_INCLUDE_DIR libpq-fe.h PATH_SUFFIXES postgresql)
find_package(ODBC QUIET)

include(FindPackageHandleStandardArgs)
set(_soci_backends sqlite3 postgresql odbc)
foreach(b IN LISTS _soci_backends)
    find_library(SOCI_${b}_LIBRARY NAMES soci_${b})
endforeach()
find_package_handle_standard_args(SOCI REQUIRED_VARS SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY
    SOCI_sqlite3_LIBRARY SOCI_postgresql_LIBRARY SOCI_odbc_LIBRARY PQ_INCLUDE_DIR)

if(SOCI_FOUND AND NOT TARGET SOCI::core)
    add_library(SOCI::core UNKNOWN IMPORTED)
    set_target_properties(SOCI::core PROPERTIES IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}")
    foreach(b IN LISTS _soci_backends)
        add_library(SOCI::${b} UNKNOWN IMPORTED)
        set_target_properties(SOCI::${b} PROPERTIES IMPORTED_LOCATION "${SOCI_${b}_LIBRARY}"
            INTERFACE_LINK_LIBRARIES SOCI::core)
    endforeach()
    # soci-postgresql.h includes libpq-fe.h, which Debian keeps under include/postgresql.
    set_property(TARGET SOCI::postgresql APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${PQ_INCLUDE_DIR}")
    if(TARGET ODBC::ODBC)
        set_property(TARGET SOCI::odbc APPEND PROPERTY INTERFACE_LINK_LIBRARIES ODBC::ODBC)
    endif()
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY PQ_INCLUDE_DIR)
