#include "dokja/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char dk_message[1024];

int dk_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dk_message, sizeof dk_message, fmt, ap);
    va_end(ap);
    return -1;
}

int dk_fail_context(const char *fmt, ...)
{
    char prefix[512];
    char old[sizeof dk_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, dk_message, sizeof old);
    /* The joined text may be cut at the buffer's end; that is acceptable for a message. */
    size_t n = strlen(prefix);
    if (n > sizeof dk_message - 3) n = sizeof dk_message - 3;
    memcpy(dk_message, prefix, n);
    memcpy(dk_message + n, ": ", 2);
    size_t rest = sizeof dk_message - n - 3;
    size_t m = strnlen(old, rest);
    memcpy(dk_message + n + 2, old, m);
    dk_message[n + 2 + m] = '\0';
    return -1;
}

const char *dk_error(void) { return dk_message[0] ? dk_message : "unknown error"; }

void dk_clear_error(void) { dk_message[0] = '\0'; }

void *dk_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) dk_fail("out of memory allocating %zu bytes", bytes);
    return p;
}

void *dk_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) dk_fail("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}
