/* Errors: functions return 0 on success and -1 on failure, after recording
 * one human-readable line (naming the file, line or field) that the caller
 * reads with dk_error(). The message is thread-local. */
#ifndef DK_ERROR_H
#define DK_ERROR_H

#include <stddef.h>

/* Records a formatted message and returns -1, so `return dk_fail(...)` reads well. */
int dk_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends context ("reading X: ") to the current message and returns -1. */
int dk_fail_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *dk_error(void);
void dk_clear_error(void);

/* malloc/calloc that record an error instead of returning silently. */
void *dk_malloc(size_t bytes);
void *dk_calloc(size_t count, size_t size);

#endif
