/* rumor — error code names. */
#include "rumor/err.h"

#include <stdarg.h>

const char *rumor_strerror(int code)
{
    switch (code) {
    case RUMOR_OK:
        return "success";
    case RUMOR_ENOMEM:
        return "out of memory";
    case RUMOR_EINVAL:
        return "invalid argument";
    case RUMOR_EIO:
        return "input/output error";
    case RUMOR_EFORMAT:
        return "malformed input";
    case RUMOR_ETRUNC:
        return "input truncated";
    case RUMOR_ERANGE:
        return "value out of range";
    case RUMOR_ENOSPC:
        return "output buffer too small";
    case RUMOR_EVERSION:
        return "unsupported version";
    case RUMOR_EMISMATCH:
        return "mismatch between peers";
    case RUMOR_ETIMEOUT:
        return "timed out";
    case RUMOR_EAUTH:
        return "authentication failed";
    case RUMOR_EINTR:
        return "interrupted";
    case RUMOR_ESTATE:
        return "invalid state";
    case RUMOR_ENONFINITE:
        return "non-finite values";
    case RUMOR_EDISKFULL:
        return "no space left on device";
    default:
        return "unknown error";
    }
}

int rumor_errmsg_set(rumor_errmsg_t *em, int code, const char *fmt, ...)
{
    if (em) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(em->msg, sizeof em->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}
