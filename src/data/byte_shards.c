/* Text files -> token shards over the byte-level vocabulary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/bytes.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/progress.h"
#include "dokja/sha256.h"
#include "dokja/shards.h"

typedef struct {
    const char *dir;
    const char *split;
    const char *tok_sha;
    int64_t shard_tokens;
    uint32_t *buf;
    int64_t n, cap, total;
    int index;
} split_writer;

static int flush(split_writer *w)
{
    if (w->n == 0) return 0;
    char name[64];
    snprintf(name, sizeof name, "%s-%05d.bin", w->split, w->index++);
    char *path = dk_path_join(w->dir, name);
    int rc = path ? dk_shard_write(path, w->buf, w->n, 2, DK_BYTES_VOCAB, DK_BYTES_BOS, w->tok_sha) : -1;
    free(path);
    w->total += w->n;
    w->n = 0;
    return rc;
}

/* Appends BOS and the document's bytes; a shard ends between documents once full. */
static int add_document(split_writer *w, const unsigned char *text, size_t len)
{
    if (w->n + (int64_t)len + 1 > w->cap) {
        int64_t cap = w->cap ? w->cap : 1 << 16;
        while (cap < w->n + (int64_t)len + 1) cap *= 2;
        uint32_t *nb = realloc(w->buf, sizeof *nb * (size_t)cap);
        if (!nb) return dk_fail("out of memory holding %lld tokens", (long long)cap);
        w->buf = nb;
        w->cap = cap;
    }
    w->buf[w->n++] = DK_BYTES_BOS;
    for (size_t i = 0; i < len; i++) w->buf[w->n++] = text[i];
    return w->n >= w->shard_tokens ? flush(w) : 0;
}

int dk_bytes_tokenize(char *const *inputs, int ninputs, const char *out_dir, bool lines, int val_every, int64_t shard_tokens)
{
    if (dk_mkdirs(out_dir)) return -1;
    char *tok_json = dk_bytes_tokenizer_json(), *tok_path = dk_path_join(out_dir, "tokenizer.json");
    char sha[DK_SHA256_HEX];
    int rc = !tok_json || !tok_path ? dk_fail("out of memory") : 0;
    if (!rc) rc = dk_write_file_atomic(tok_path, tok_json, strlen(tok_json));
    if (!rc) dk_sha256_buf(tok_json, strlen(tok_json), sha);
    split_writer train = {.dir = out_dir, .split = "train", .tok_sha = sha, .shard_tokens = shard_tokens};
    split_writer val = {.dir = out_dir, .split = "val", .tok_sha = sha, .shard_tokens = shard_tokens};
    int64_t docs = 0;
    dk_progress prog;
    dk_progress_start(&prog, "tokenize", ninputs);
    for (int f = 0; !rc && f < ninputs; f++) {
        char *text;
        size_t len;
        if (dk_read_file(inputs[f], &text, &len)) {
            rc = -1;
            break;
        }
        const unsigned char *p = (const unsigned char *)text, *end = p + len;
        while (!rc && p < end) {
            const unsigned char *stop = lines ? memchr(p, '\n', (size_t)(end - p)) : NULL;
            if (!stop) stop = end;
            if (stop > p) {
                /* Every val_every-th document is held out for validation. */
                split_writer *w = val_every > 0 && docs % val_every == val_every - 1 ? &val : &train;
                rc = add_document(w, p, (size_t)(stop - p));
                docs++;
            }
            p = stop + 1;
        }
        free(text);
        dk_progress_update(&prog, f + 1, NULL, NULL);
    }
    dk_progress_finish(&prog);
    if (!rc) rc = flush(&train);
    if (!rc) rc = flush(&val);
    if (!rc && train.total == 0) rc = dk_fail("no text in the inputs: nothing to tokenize");
    if (!rc) {
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "tokenizer", "bytes");
        cJSON_AddStringToObject(meta, "tokenizer_sha256", sha);
        cJSON_AddNumberToObject(meta, "vocab_size", DK_BYTES_VOCAB);
        cJSON_AddNumberToObject(meta, "separator_id", DK_BYTES_BOS);
        cJSON_AddNumberToObject(meta, "documents", (double)docs);
        cJSON_AddNumberToObject(meta, "train_tokens", (double)train.total);
        cJSON_AddNumberToObject(meta, "val_tokens", (double)val.total);
        char *mpath = dk_path_join(out_dir, "meta.json");
        rc = mpath ? dk_json_write_file(mpath, meta) : -1;
        free(mpath);
        cJSON_Delete(meta);
        if (!rc)
            fprintf(stderr, "%lld documents: %lld train and %lld validation tokens in %s\n", (long long)docs,
                    (long long)train.total, (long long)val.total, out_dir);
    }
    free(train.buf);
    free(val.buf);
    free(tok_json);
    free(tok_path);
    return rc;
}
