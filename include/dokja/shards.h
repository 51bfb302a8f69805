/* Token shards (DESIGN.md): a 1024-byte header, then little-endian tokens.
 * Header: magic "DOKJTOK\0", u32 version 1, u32 token width (2 or 4),
 * u64 token count, u32 vocab size, u32 document separator id, 64 hex chars
 * of the tokenizer.json sha256, zeros. */
#ifndef DK_SHARDS_H
#define DK_SHARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"
#include "sha256.h"

#define DK_SHARD_HEADER 1024

typedef struct {
    char *path;
    dk_mmap map;
    int width;
    int64_t ntokens;
    uint32_t vocab_size;
    uint32_t separator;
    char tokenizer_sha256[DK_SHA256_HEX];
} dk_shard;

/* Maps a shard and checks its header, its size and that every token is
 * below model_vocab (0: no check). Errors name the file and the position. */
int dk_shard_open(dk_shard *s, const char *path, int model_vocab);
void dk_shard_close(dk_shard *s);
uint32_t dk_shard_token(const dk_shard *s, int64_t i);
/* Writes a shard atomically; width is 2 or 4; tokenizer_sha256 may be NULL. */
int dk_shard_write(const char *path, const uint32_t *tokens, int64_t n, int width, uint32_t vocab_size, uint32_t separator,
                   const char *tokenizer_sha256);

/* Training windows of T+1 tokens cut from every shard of one split
 * ("train" or "val") of a directory, shuffled once per epoch from the seed.
 * Sample i is a pure function of (seed, i), so the data position of a run
 * is the number of samples it has drawn. */
typedef struct {
    dk_shard *shards;
    int nshards;
    int T;
    int64_t nwindows;
    int64_t *first_window; /* (nshards + 1) prefix sums of windows per shard */
    uint64_t seed;
    bool shuffle;
    int64_t perm_epoch;
    uint32_t *perm;
} dk_loader;

int dk_loader_open(dk_loader *l, const char *dir, const char *split, int T, int model_vocab, uint64_t seed, bool shuffle);
void dk_loader_close(dk_loader *l);
/* The vocabulary size and document separator recorded in the header of the
 * first train shard. */
int dk_shard_dir_vocab(const char *dir, uint32_t *vocab, uint32_t *separator);

/* inputs, targets (T) of sample index i. */
void dk_loader_sample(dk_loader *l, int64_t i, int *inputs, int *targets);

#endif
