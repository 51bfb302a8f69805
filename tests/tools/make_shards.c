/* Test tool: writes token shards of a small synthetic language (a noisy
 * deterministic walk over the vocabulary, so a model can learn it) without
 * needing a tokenizer.  usage: dk_make_shards DIR VOCAB TRAIN_TOKENS VAL_TOKENS [SEED] */
#include <stdio.h>
#include <stdlib.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/rng.h"
#include "dokja/shards.h"

static int write_split(const char *dir, const char *name, uint32_t vocab, long n, dk_rng *r)
{
    uint32_t *t = malloc(sizeof *t * (size_t)n);
    if (!t) return dk_fail("out of memory");
    uint32_t x = 0;
    for (long i = 0; i < n; i++) {
        /* documents of ~64 tokens start with BOS (0); within one, mostly x -> 3x+1 */
        if (i % 64 == 0) x = 0;
        else x = dk_rng_uniform(r) < 0.9 ? (3 * x + 1) % (vocab - 1) + 1 : (uint32_t)dk_rng_below(r, vocab - 1) + 1;
        t[i] = x;
    }
    char *path = dk_path_join(dir, name);
    int rc = path ? dk_shard_write(path, t, n, vocab > 65535 ? 4 : 2, vocab, 0, NULL) : -1;
    free(path);
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR VOCAB TRAIN_TOKENS VAL_TOKENS [SEED]\n", argv[0]);
        return 2;
    }
    dk_rng r;
    dk_rng_seed(&r, argc > 5 ? strtoull(argv[5], NULL, 10) : 1);
    uint32_t vocab = (uint32_t)atol(argv[2]);
    if (dk_mkdirs(argv[1]) || write_split(argv[1], "train-00000.bin", vocab, atol(argv[3]), &r) ||
        (atol(argv[4]) > 0 && write_split(argv[1], "val-00000.bin", vocab, atol(argv[4]), &r))) {
        fprintf(stderr, "%s\n", dk_error());
        return 1;
    }
    return 0;
}
