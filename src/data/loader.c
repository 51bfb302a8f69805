#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/rng.h"
#include "dokja/shards.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted paths of DIR/<split>-*.bin. */
static int list_split(const char *dir, const char *split, char ***out, int *count)
{
    DIR *d = opendir(dir);
    if (!d) return dk_fail("%s: cannot open the token directory", dir);
    char **names = NULL;
    int n = 0;
    size_t plen = strlen(split);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, split, plen) || e->d_name[plen] != '-' || len < plen + 5 || strcmp(e->d_name + len - 4, ".bin"))
            continue;
        char **nn = realloc(names, sizeof *names * (size_t)(n + 1));
        if (!nn) break;
        names = nn;
        names[n++] = dk_path_join(dir, e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    *count = n;
    return 0;
}

int dk_loader_open(dk_loader *l, const char *dir, const char *split, int T, int model_vocab, uint64_t seed, bool shuffle)
{
    memset(l, 0, sizeof *l);
    l->T = T;
    l->seed = seed;
    l->shuffle = shuffle;
    l->perm_epoch = -1;
    char **paths;
    int n;
    if (list_split(dir, split, &paths, &n)) return -1;
    l->shards = dk_calloc((size_t)n, sizeof *l->shards);
    l->first_window = dk_calloc((size_t)n + 1, sizeof *l->first_window);
    int rc = !l->shards || !l->first_window ? -1 : 0;
    for (int i = 0; i < n; i++) {
        if (!rc && !(rc = dk_shard_open(&l->shards[i], paths[i], model_vocab))) {
            l->nshards++;
            int64_t w = l->shards[i].ntokens > 0 ? (l->shards[i].ntokens - 1) / T : 0;
            l->first_window[l->nshards] = l->first_window[l->nshards - 1] + w;
        }
        free(paths[i]);
    }
    free(paths);
    if (rc) {
        dk_loader_close(l);
        return -1;
    }
    l->nwindows = l->first_window[l->nshards];
    if (l->nwindows > UINT32_MAX) {
        dk_loader_close(l);
        return dk_fail("%s: more than 2^32 training windows; use a longer seq_len", dir);
    }
    return 0;
}

int dk_shard_dir_vocab(const char *dir, uint32_t *vocab, uint32_t *separator)
{
    char **paths;
    int n;
    if (list_split(dir, "train", &paths, &n)) return -1;
    int rc = n == 0 ? dk_fail("%s: no train-*.bin token shards", dir) : 0;
    dk_shard s;
    if (!rc && !(rc = dk_shard_open(&s, paths[0], 0))) {
        *vocab = s.vocab_size;
        *separator = s.separator;
        dk_shard_close(&s);
    }
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return rc;
}

void dk_loader_close(dk_loader *l)
{
    for (int i = 0; i < l->nshards; i++) dk_shard_close(&l->shards[i]);
    free(l->shards);
    free(l->first_window);
    free(l->perm);
    memset(l, 0, sizeof *l);
}

/* Fisher-Yates from a seed derived from (seed, epoch). */
static void build_perm(dk_loader *l, int64_t epoch)
{
    if (!l->perm) l->perm = malloc(sizeof *l->perm * (size_t)l->nwindows);
    for (int64_t i = 0; i < l->nwindows; i++) l->perm[i] = (uint32_t)i;
    dk_rng r;
    dk_rng_seed(&r, l->seed * 0x2545f4914f6cdd1dULL + (uint64_t)epoch);
    for (int64_t i = l->nwindows - 1; i > 0; i--) {
        int64_t j = (int64_t)dk_rng_below(&r, (uint64_t)i + 1);
        uint32_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = epoch;
}

void dk_loader_sample(dk_loader *l, int64_t i, int *inputs, int *targets)
{
    int64_t epoch = i / l->nwindows, w = i % l->nwindows;
    if (l->shuffle) {
        if (epoch != l->perm_epoch) build_perm(l, epoch);
        w = l->perm[w];
    }
    int s = 0;
    while (l->first_window[s + 1] <= w) s++;
    const dk_shard *sh = &l->shards[s];
    int64_t off = (w - l->first_window[s]) * l->T;
    for (int t = 0; t < l->T; t++) {
        inputs[t] = (int)dk_shard_token(sh, off + t);
        targets[t] = (int)dk_shard_token(sh, off + t + 1);
    }
}
