/* Corpus-scale work over the document reader (docs.h): documents gathered
 * in batches for parallel work, and a corpus turned into token shards
 * (dokja tokenize). docs/tokenizer.md. */
#ifndef DK_CORPUS_H
#define DK_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "docs.h"

/* Up to max_bytes of text (at least one document) in one buffer; texts[i] is
 * NUL-terminated, lens[i] bytes, from path[i] (owned by the reader) at line[i]. */
typedef struct {
    char *buf;
    size_t used, cap;
    const char **texts;
    size_t *lens, *offs;
    const char **path;
    int64_t *line;
    int n, cap_docs;
} dk_doc_batch;

/* 1: the batch holds documents; 0: the reader has none left; -1: an error. */
int dk_doc_batch_fill(dk_doc_batch *b, dk_docs *d, size_t max_bytes);
void dk_doc_batch_free(dk_doc_batch *b);

typedef struct {
    const char *text_field; /* jsonl/csv field (NULL: "text") */
    bool lines;             /* .txt: a document per line */
    double val_fraction;    /* of documents, spread evenly: document i is held out when floor((i+1)f) > floor(i f) */
    int64_t shard_tokens;   /* tokens per shard at most (documents are not cut) */
    int threads;            /* 0: all cores */
    const char *separator;  /* the token before each document; NULL: the tokenizer's BOS */
} dk_tokenize_options;

/* Encodes every document of the inputs with the tokenizer.json at
 * tokenizer_path and writes out_dir/{train,val}-NNNNN.bin, meta.json and a
 * copy of the tokenizer.json. Deterministic for any thread count. */
int dk_tokenize_corpus(const char *tokenizer_path, char *const *inputs, int ninputs, const char *out_dir,
                       const dk_tokenize_options *o);

#endif
