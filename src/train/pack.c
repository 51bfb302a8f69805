#include "dokja/pack.h"

#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/rng.h"

typedef struct {
    int T;
    int64_t nrows;
    int *tokens, *targets, *pos, *seg; /* (nrows, T) each */
    uint64_t seed;
    int64_t perm_epoch;
    int64_t *perm;
} packed;

static void packed_get(dk_rows *r, int64_t i, int *tokens, int *targets, int *pos, int *seg)
{
    packed *p = r->impl;
    int64_t epoch = i / p->nrows, row = i % p->nrows;
    if (epoch != p->perm_epoch) {
        /* Fisher-Yates from (seed, epoch), as the token-shard loader does */
        for (int64_t k = 0; k < p->nrows; k++) p->perm[k] = k;
        dk_rng g;
        dk_rng_seed(&g, p->seed * 0x2545f4914f6cdd1dULL + (uint64_t)epoch);
        for (int64_t k = p->nrows - 1; k > 0; k--) {
            int64_t j = (int64_t)dk_rng_below(&g, (uint64_t)k + 1), t = p->perm[k];
            p->perm[k] = p->perm[j];
            p->perm[j] = t;
        }
        p->perm_epoch = epoch;
    }
    size_t off = (size_t)p->perm[row] * (size_t)p->T, bytes = sizeof(int) * (size_t)p->T;
    memcpy(tokens, p->tokens + off, bytes);
    memcpy(targets, p->targets + off, bytes);
    if (pos) memcpy(pos, p->pos + off, bytes);
    if (seg) memcpy(seg, p->seg + off, bytes);
}

/* Tokens of a sequence that go into a row: inputs ids[k], and the target of
 * k is ids[k+1] where that token is trained. */
static bool has_loss(const dk_seq *s, int len)
{
    for (int k = 1; k < len; k++)
        if (s->train[k]) return true;
    return false;
}

int dk_pack_rows(dk_rows *r, const dk_seq *seqs, int64_t nseqs, int T, int pad_id, uint64_t seed, dk_pack_stats *stats)
{
    memset(r, 0, sizeof *r);
    memset(stats, 0, sizeof *stats);
    packed *p = dk_calloc(1, sizeof *p);
    if (!p) return -1;
    p->T = T;
    p->seed = seed;
    p->perm_epoch = -1;
    int64_t cap = 0, fill = T, placed = 0; /* fill == T: no open row */
    for (int64_t i = 0; i < nseqs; i++) {
        const dk_seq *s = &seqs[i];
        int len = s->n < T ? s->n : T;
        if (len < 2 || !has_loss(s, len)) {
            stats->skipped++;
            continue;
        }
        stats->truncated += s->n > T;
        if (fill + len > T) { /* a new row */
            if (p->nrows == cap) {
                cap = cap ? 2 * cap : 64;
                int **arrs[4] = {&p->tokens, &p->targets, &p->pos, &p->seg};
                for (int a = 0; a < 4; a++) {
                    int *grown = realloc(*arrs[a], sizeof(int) * (size_t)cap * (size_t)T);
                    if (!grown) {
                        r->impl = p;
                        dk_pack_rows_free(r);
                        return dk_fail("out of memory packing %lld rows", (long long)cap);
                    }
                    *arrs[a] = grown;
                }
            }
            size_t off = (size_t)p->nrows * (size_t)T;
            for (int k = 0; k < T; k++) { /* padding until overwritten: no loss, attends only to itself */
                p->tokens[off + k] = pad_id;
                p->targets[off + k] = -1;
                p->pos[off + k] = 0;
                p->seg[off + k] = k;
            }
            p->nrows++;
            fill = 0;
        }
        size_t off = (size_t)(p->nrows - 1) * (size_t)T + (size_t)fill;
        for (int k = 0; k < len; k++) {
            p->tokens[off + k] = s->ids[k];
            p->targets[off + k] = k + 1 < len && s->train[k + 1] ? s->ids[k + 1] : -1;
            p->pos[off + k] = k;
            p->seg[off + k] = fill;
            stats->trained_tokens += p->targets[off + k] >= 0;
        }
        fill += len;
        placed += len;
        stats->sequences++;
    }
    stats->rows = p->nrows;
    stats->pad_tokens = p->nrows * T - placed;
    if (p->nrows == 0) {
        r->impl = p;
        dk_pack_rows_free(r);
        return dk_fail("no sequence has a token to train on");
    }
    p->perm = dk_malloc(sizeof *p->perm * (size_t)p->nrows);
    if (!p->perm) {
        r->impl = p;
        dk_pack_rows_free(r);
        return -1;
    }
    *r = (dk_rows){.count = p->nrows, .packed = true, .get = packed_get, .impl = p};
    return 0;
}

void dk_pack_rows_free(dk_rows *r)
{
    packed *p = r->impl;
    if (p) {
        free(p->tokens);
        free(p->targets);
        free(p->pos);
        free(p->seg);
        free(p->perm);
        free(p);
    }
    memset(r, 0, sizeof *r);
}
