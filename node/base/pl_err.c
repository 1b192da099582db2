/*
 * Messages and names for the codes of pl_err.h; system codes go to strerror().
 */
#include "pl_err.h"

#include <errno.h>
#include <string.h>

const char *pl_strerror(int err)
{
    switch (err) {
    case PL_OK:
        return "success";
#define PL_ERR_MSG(name, value, msg) \
    case name:                       \
        return msg;
        PL_ERR_TABLE(PL_ERR_MSG)
#undef PL_ERR_MSG
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

const char *pl_err_name(int err)
{
    switch (err) {
    case PL_OK:
        return "PL_OK";
#define PL_ERR_NAME(name, value, msg) \
    case name:                        \
        return #name;
        PL_ERR_TABLE(PL_ERR_NAME)
#undef PL_ERR_NAME
    default:
        break;
    }
    if (err < 0 && err > -4096) {
        const char *name = strerrorname_np(-err);
        if (name != NULL)
            return name;
    }
    return "PL_EUNKNOWN";
}
