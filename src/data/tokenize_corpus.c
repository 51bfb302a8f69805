/* dokja tokenize: a corpus -> token shards with any tokenizer.json. Batches
 * of documents are encoded in parallel (an encoder with its cache per
 * thread) and written in document order, so the shards are the same for
 * any thread count. The byte-level vocabulary is just another tokenizer.json. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dokja/corpus.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/progress.h"
#include "dokja/shards.h"
#include "dokja/tokenizer.h"

#define BATCH_BYTES (8 << 20)

typedef struct {
    const char *dir;
    const char *split;
    const char *tok_sha;
    int64_t shard_tokens;
    uint32_t vocab, separator;
    uint32_t *buf;
    int64_t n, cap, total, docs;
    int index;
} split_writer;

static char *shard_path(const split_writer *w, int index)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%05d.bin", w->split, index);
    return dk_path_join(w->dir, name);
}

/* After a failure: the shards this run wrote go, so no directory looks complete. */
static void remove_shards(const split_writer *w)
{
    for (int i = 0; i < w->index; i++) {
        char *path = shard_path(w, i);
        if (path) unlink(path);
        free(path);
    }
}

static int flush(split_writer *w)
{
    if (w->n == 0) return 0;
    char *path = shard_path(w, w->index++);
    int width = w->vocab <= 65536 ? 2 : 4;
    int rc = path ? dk_shard_write(path, w->buf, w->n, width, w->vocab, w->separator, w->tok_sha) : -1;
    free(path);
    w->total += w->n;
    w->n = 0;
    return rc;
}

/* Appends the separator and a document's ids; a shard ends between documents once full. */
static int add_document(split_writer *w, const int *ids, int n)
{
    if (w->n + n + 1 > w->cap) {
        int64_t cap = w->cap ? w->cap : 1 << 16;
        while (cap < w->n + n + 1) cap *= 2;
        uint32_t *nb = realloc(w->buf, sizeof *nb * (size_t)cap);
        if (!nb) return dk_fail("out of memory holding %lld tokens", (long long)cap);
        w->buf = nb;
        w->cap = cap;
    }
    w->buf[w->n++] = w->separator;
    for (int i = 0; i < n; i++) w->buf[w->n++] = (uint32_t)ids[i];
    w->docs++;
    return w->n >= w->shard_tokens ? flush(w) : 0;
}

/* The document separator: --separator, else the id the post-processor puts
 * first, else the first of the usual BOS names that is a special token. */
static int separator_of(const dk_tokenizer *t, const char *name, const char *path, uint32_t *sep)
{
    if (name) {
        int id = dk_tokenizer_token_id(t, name);
        if (id < 0) return dk_fail("--separator: %s has no token \"%s\"", path, name);
        *sep = (uint32_t)id;
        return 0;
    }
    int *ids, n;
    if (dk_tokenizer_encode(t, "", 0, true, &ids, &n)) return -1;
    int first = n ? ids[0] : -1;
    free(ids);
    const char *names[] = {"<|bos|>", "<|begin_of_text|>", "<s>", "<|endoftext|>"};
    for (size_t i = 0; first < 0 && i < sizeof names / sizeof *names; i++) {
        int id = dk_tokenizer_token_id(t, names[i]);
        if (dk_tokenizer_is_special(t, id)) first = id;
    }
    if (first < 0) return dk_fail("%s: no BOS token to separate documents; name one with --separator", path);
    *sep = (uint32_t)first;
    return 0;
}

static int write_meta(const char *out_dir, const dk_tokenizer *t, dk_docs *d, const split_writer *train,
                      const split_writer *val, int64_t bytes)
{
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "tokenizer_sha256", dk_tokenizer_sha256(t));
    cJSON_AddNumberToObject(meta, "vocab_size", train->vocab);
    cJSON_AddNumberToObject(meta, "separator_id", train->separator);
    cJSON_AddNumberToObject(meta, "documents", (double)(train->docs + val->docs));
    cJSON_AddNumberToObject(meta, "train_documents", (double)train->docs);
    cJSON_AddNumberToObject(meta, "val_documents", (double)val->docs);
    cJSON_AddNumberToObject(meta, "train_tokens", (double)train->total);
    cJSON_AddNumberToObject(meta, "val_tokens", (double)val->total);
    cJSON_AddNumberToObject(meta, "text_bytes", (double)bytes);
    cJSON *inputs = cJSON_AddArrayToObject(meta, "inputs");
    int rc = 0;
    for (int i = 0; !rc && i < dk_docs_nfiles(d); i++) {
        const char *path = dk_docs_file(d, i, NULL);
        char sha[DK_SHA256_HEX];
        if ((rc = dk_sha256_file(path, sha))) break;
        cJSON *in = cJSON_CreateObject();
        cJSON_AddStringToObject(in, "path", path);
        cJSON_AddStringToObject(in, "sha256", sha);
        cJSON_AddItemToArray(inputs, in);
    }
    char *mpath = rc ? NULL : dk_path_join(out_dir, "meta.json");
    if (!rc) rc = mpath ? dk_json_write_file(mpath, meta) : -1;
    free(mpath);
    cJSON_Delete(meta);
    return rc;
}

/* Encodes a batch with an encoder per thread: document i's ids land in ids[i] (malloc'd). */
static int encode_batch(dk_encoder **enc, int nthreads, const dk_doc_batch *b, int **ids, int *nids, char *err, size_t errlen)
{
    int failed = -1;
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads)
    for (int i = 0; i < b->n; i++) {
        int cap = 0;
        ids[i] = NULL;
        nids[i] = 0;
        if (dk_encoder_encode(enc[omp_get_thread_num()], b->texts[i], b->lens[i], false, &ids[i], &nids[i], &cap)) {
#pragma omp critical(dk_tokenize_error)
            if (failed < 0 || i < failed) {
                failed = i;
                snprintf(err, errlen, "%s:%lld: %s", b->path[i], (long long)b->line[i], dk_error());
            }
        }
    }
    return failed >= 0 ? -1 : 0;
}

int dk_tokenize_corpus(const char *tokenizer_path, char *const *inputs, int ninputs, const char *out_dir,
                       const dk_tokenize_options *o)
{
    dk_tokenizer *t = NULL;
    dk_docs *d = NULL;
    dk_doc_batch batch = {0};
    int nthreads = o->threads > 0 ? o->threads : omp_get_num_procs();
    dk_encoder **enc = dk_calloc((size_t)nthreads, sizeof *enc);
    int **ids = NULL, *nids = NULL, cap_docs = 0;
    char *meta_path = dk_path_join(out_dir, "meta.json"), *tok_copy = dk_path_join(out_dir, "tokenizer.json");
    split_writer train = {.dir = out_dir, .split = "train", .shard_tokens = o->shard_tokens};
    split_writer val = {.dir = out_dir, .split = "val", .shard_tokens = o->shard_tokens};
    int rc = enc && meta_path && tok_copy ? 0 : -1;
    if (!rc && dk_path_exists(meta_path))
        rc = dk_fail("%s already holds token shards (meta.json): choose another --output or remove it", out_dir);
    if (!rc) rc = dk_tokenizer_load(&t, tokenizer_path);
    uint32_t sep = 0;
    if (!rc) rc = separator_of(t, o->separator, tokenizer_path, &sep);
    for (int i = 0; !rc && i < nthreads; i++) rc = (enc[i] = dk_encoder_new(t)) ? 0 : -1;
    dk_docs_options dopt = {.text_field = o->text_field, .lines = o->lines, .strict = true};
    if (!rc) rc = dk_docs_open(&d, inputs, ninputs, &dopt);
    if (!rc) rc = dk_mkdirs(out_dir);
    /* The copy is what the shards' headers name (a tokenizer.json that was already in out_dir stays as it is). */
    if (!rc && strcmp(tokenizer_path, tok_copy)) rc = dk_copy_file(tokenizer_path, tok_copy);
    if (!rc) {
        train.tok_sha = val.tok_sha = dk_tokenizer_sha256(t);
        train.vocab = val.vocab = (uint32_t)dk_tokenizer_vocab_size(t);
        train.separator = val.separator = sep;
    }
    dk_progress prog;
    int64_t done = 0, total = 0, docs = 0, bytes = 0;
    if (!rc) {
        dk_docs_progress(d, &done, &total);
        dk_progress_start(&prog, "tokenize", total);
    }
    char err[1200];
    while (!rc) {
        int got = dk_doc_batch_fill(&batch, d, BATCH_BYTES);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (batch.n > cap_docs) {
            cap_docs = batch.n;
            int **ni = realloc(ids, sizeof *ni * (size_t)cap_docs);
            if (ni) ids = ni;
            int *nn = realloc(nids, sizeof *nn * (size_t)cap_docs);
            if (nn) nids = nn;
            if (!ni || !nn) {
                rc = dk_fail("out of memory");
                break;
            }
        }
        if (encode_batch(enc, nthreads, &batch, ids, nids, err, sizeof err)) rc = dk_fail("%s", err);
        for (int i = 0; i < batch.n; i++) {
            /* Document i goes to validation when the running count of held-out documents steps up. */
            double f = o->val_fraction;
            bool held = floor((double)(docs + 1) * f + 1e-9) > floor((double)docs * f + 1e-9);
            if (!rc) rc = add_document(held ? &val : &train, ids[i], nids[i]);
            free(ids[i]);
            docs++;
            bytes += (int64_t)batch.lens[i];
        }
        dk_docs_progress(d, &done, &total);
        char extra[96], extra_json[96];
        snprintf(extra, sizeof extra, "%lld docs", (long long)docs);
        snprintf(extra_json, sizeof extra_json, "\"documents\":%lld", (long long)docs);
        dk_progress_update(&prog, done, extra, extra_json);
    }
    if (d && t) dk_progress_finish(&prog);
    if (!rc) rc = flush(&train);
    if (!rc) rc = flush(&val);
    if (!rc && train.total == 0) rc = dk_fail("no text in the inputs: nothing to tokenize");
    if (!rc) rc = write_meta(out_dir, t, d, &train, &val, bytes);
    if (!rc)
        fprintf(stderr, "%lld documents: %lld train and %lld validation tokens in %s\n", (long long)docs,
                (long long)train.total, (long long)val.total, out_dir);
    else {
        remove_shards(&train);
        remove_shards(&val);
    }
    for (int i = 0; enc && i < nthreads; i++) dk_encoder_free(enc[i]);
    free(enc);
    free(ids);
    free(nids);
    free(train.buf);
    free(val.buf);
    free(meta_path);
    free(tok_copy);
    dk_doc_batch_free(&batch);
    dk_docs_close(d);
    dk_tokenizer_free(t);
    return rc;
}
