/* A growable byte buffer, the scratch space of the per-document steps. */
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"

int dk_buf_reserve(dk_buf *b, size_t cap)
{
    if (cap <= b->cap) return 0;
    size_t n = b->cap ? b->cap : 256;
    while (n < cap) n *= 2;
    char *p = realloc(b->p, n);
    if (!p) return dk_fail("out of memory growing a buffer to %zu bytes", n);
    b->p = p;
    b->cap = n;
    return 0;
}

int dk_buf_put(dk_buf *b, const void *s, size_t n)
{
    if (dk_buf_reserve(b, b->len + n + 1)) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

void dk_buf_free(dk_buf *b)
{
    free(b->p);
    *b = (dk_buf){0};
}
