/* Documents gathered into one buffer, so that threads can work on a batch
 * while the reader, which is sequential, waits. */
#include <stdlib.h>
#include <string.h>

#include "dokja/corpus.h"
#include "dokja/error.h"

static int grow_docs(dk_doc_batch *b)
{
    int cap = b->cap_docs ? b->cap_docs * 2 : 1024;
    const char **texts = realloc(b->texts, sizeof *texts * (size_t)cap);
    if (texts) b->texts = texts;
    size_t *lens = realloc(b->lens, sizeof *lens * (size_t)cap);
    if (lens) b->lens = lens;
    size_t *offs = realloc(b->offs, sizeof *offs * (size_t)cap);
    if (offs) b->offs = offs;
    const char **path = realloc(b->path, sizeof *path * (size_t)cap);
    if (path) b->path = path;
    int64_t *line = realloc(b->line, sizeof *line * (size_t)cap);
    if (line) b->line = line;
    if (!texts || !lens || !offs || !path || !line) return dk_fail("out of memory gathering documents");
    b->cap_docs = cap;
    return 0;
}

int dk_doc_batch_fill(dk_doc_batch *b, dk_docs *d, size_t max_bytes)
{
    b->n = 0;
    b->used = 0;
    while (b->used < max_bytes) {
        dk_doc doc;
        int rc = dk_docs_next(d, &doc);
        if (rc < 0) return -1;
        if (rc == 0) break;
        if (b->n == b->cap_docs && grow_docs(b)) return -1;
        if (b->used + doc.len + 1 > b->cap) {
            size_t cap = b->cap ? b->cap : 1 << 20;
            while (cap < b->used + doc.len + 1) cap *= 2;
            char *buf = realloc(b->buf, cap);
            if (!buf) return dk_fail("out of memory gathering documents");
            b->buf = buf;
            b->cap = cap;
        }
        memcpy(b->buf + b->used, doc.text, doc.len);
        b->buf[b->used + doc.len] = '\0';
        b->offs[b->n] = b->used;
        b->lens[b->n] = doc.len;
        b->path[b->n] = doc.path;
        b->line[b->n++] = doc.line;
        b->used += doc.len + 1;
    }
    /* The buffer may have moved while growing: point at it only now. */
    for (int i = 0; i < b->n; i++) b->texts[i] = b->buf + b->offs[i];
    return b->n > 0;
}

void dk_doc_batch_free(dk_doc_batch *b)
{
    free(b->buf);
    free(b->texts);
    free(b->lens);
    free(b->offs);
    free(b->path);
    free(b->line);
    memset(b, 0, sizeof *b);
}
