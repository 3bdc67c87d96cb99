/* common/status.c - names and messages of status codes, and the version.
 *
 * Generated from MGOV_STATUS_MAP (memgov/common.h), so a code added there is
 * named here automatically.  Static strings, no state, thread-safe.
 */
#include "memgov/common.h"

const char *mgov_strerror(int status)
{
    switch (status) {
#define XX(name, value, msg)                                                                  \
    case MGOV_##name:                                                                          \
        return msg;
        MGOV_STATUS_MAP(XX)
#undef XX
    }
    return "unknown status";
}

const char *mgov_status_name(int status)
{
    switch (status) {
#define XX(name, value, msg)                                                                  \
    case MGOV_##name:                                                                          \
        return #name;
        MGOV_STATUS_MAP(XX)
#undef XX
    }
    return "UNKNOWN";
}

const char *mgov_version(void)
{
    return MGOV_VERSION_STRING;
}
