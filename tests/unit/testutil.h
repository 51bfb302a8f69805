/* Shared helpers of the unit tests: cmocka, temporary directories, fixture
 * loading and tensor comparison. */
#ifndef DK_TESTUTIL_H
#define DK_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dokja/model.h"
#include "dokja/safetensors.h"

/* A fresh directory under $TMPDIR, removed by tu_rmdir. */
char *tu_tempdir(void);
void tu_rmdir(char *dir);
/* Writes bytes to dir/name; returns the path (caller frees). */
char *tu_write(const char *dir, const char *name, const void *data, size_t len);

/* max |a - b| / max |b|: the relative error of a whole tensor. */
double tu_rel_err(const float *a, const float *b, size_t n);
/* Asserts tu_rel_err <= tol, printing the name and the error when not. */
void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double tol);

/* Asserts that the last dk_error() contains `needle`. */
void tu_assert_error_has(const char *needle);

/* Fills a small model with normal(0, std) matrices and 1 + noise norms. */
void tu_random_weights(dk_model *m, uint64_t seed, double std);

#endif
