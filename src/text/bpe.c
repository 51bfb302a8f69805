/* The BPE model on one pre-token: bytes -> ids by applying the merge of the
 * lowest rank first (leftmost on ties), as HF's BPE::merge_word does, with a
 * cache of pre-tokens already encoded. */
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "text.h"

/* Pre-tokens longer than this are not cached; the cache is emptied when it holds this many. */
#define CACHE_MAX_LEN 256
#define CACHE_MAX_ENTRIES (1 << 20)
/* Up to this many symbols a word is merged by rescanning its pairs; longer ones use a heap. */
#define SCAN_MAX 48

int dk_ids_push(dk_encoder *e, const int *ids, int n)
{
    if (n == 0) return 0;
    if (*e->nout + n > *e->cap) {
        int cap = *e->cap ? *e->cap : 256;
        while (cap < *e->nout + n) {
            if (cap > (1 << 30)) return dk_fail("more than 2^30 tokens in one text");
            cap *= 2;
        }
        int *grown = realloc(*e->out, sizeof *grown * (size_t)cap);
        if (!grown) return dk_fail("out of memory holding %d tokens", cap);
        *e->out = grown;
        *e->cap = cap;
    }
    memcpy(*e->out + *e->nout, ids, sizeof *ids * (size_t)n);
    *e->nout += n;
    return 0;
}

/* (rank << 32 | merged id) of a pair, or UINT64_MAX when the pair does not merge. */
static inline uint64_t pair_merge(const dk_tokenizer *t, int a, int b)
{
    const uint64_t *v = dk_u64map_get(&t->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b);
    return v ? *v : UINT64_MAX;
}

/* The initial pairs of a word's symbols: from the byte table when s holds
 * the byte of each symbol (NULL when some byte was dropped or unknown). */
static inline uint64_t first_merge(const dk_tokenizer *t, const unsigned char *s, const int *sym, int i)
{
    return s && sym[i] == t->byte_id[s[i]] && sym[i + 1] == t->byte_id[s[i + 1]] ? t->byte_pairs[s[i] * 256 + s[i + 1]]
                                                                                 : pair_merge(t, sym[i], sym[i + 1]);
}

static int merge_scan(const dk_tokenizer *t, const unsigned char *s, int *sym, int n)
{
    uint64_t m[SCAN_MAX];
    for (int i = 0; i + 1 < n; i++) m[i] = first_merge(t, s, sym, i);
    while (n > 1) {
        int best = 0;
        for (int i = 1; i + 1 < n; i++)
            if (m[i] >> 32 < m[best] >> 32) best = i;
        if (m[best] == UINT64_MAX) break;
        sym[best] = (int)(uint32_t)m[best];
        memmove(sym + best + 1, sym + best + 2, sizeof *sym * (size_t)(n - best - 2));
        memmove(m + best, m + best + 1, sizeof *m * (size_t)(n - best - 2));
        n--;
        if (best > 0) m[best - 1] = pair_merge(t, sym[best - 1], sym[best]);
        if (best + 1 < n) m[best] = pair_merge(t, sym[best], sym[best + 1]);
    }
    return n;
}

typedef struct {
    uint32_t rank;
    int32_t pos;
} heap_entry;

static inline bool heap_less(heap_entry a, heap_entry b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(heap_entry *h, int *n, heap_entry x)
{
    int i = (*n)++;
    while (i > 0 && heap_less(x, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static heap_entry heap_pop(heap_entry *h, int *n)
{
    heap_entry top = h[0], x = h[--*n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
    return top;
}

/* Symbols in a linked list; a heap of (rank, left position) with stale
 * entries skipped when popped. work holds 2n ints and 3n heap entries. */
static int merge_heap(const dk_tokenizer *t, const unsigned char *s, int *sym, int n, void *work)
{
    int *next = work, *prev = next + n;
    heap_entry *h = (heap_entry *)(prev + n);
    int nh = 0;
    for (int i = 0; i < n; i++) {
        next[i] = i + 1 < n ? i + 1 : -1;
        prev[i] = i - 1;
        uint64_t m = i + 1 < n ? first_merge(t, s, sym, i) : UINT64_MAX;
        if (m != UINT64_MAX) heap_push(h, &nh, (heap_entry){(uint32_t)(m >> 32), i});
    }
    while (nh) {
        heap_entry top = heap_pop(h, &nh);
        int i = top.pos, j = next[i];
        if (sym[i] < 0 || j < 0) continue;
        uint64_t m = pair_merge(t, sym[i], sym[j]);
        if (m == UINT64_MAX || (uint32_t)(m >> 32) != top.rank) continue;
        sym[i] = (int)(uint32_t)m;
        sym[j] = -1;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        if (prev[i] >= 0 && (m = pair_merge(t, sym[prev[i]], sym[i])) != UINT64_MAX)
            heap_push(h, &nh, (heap_entry){(uint32_t)(m >> 32), prev[i]});
        if (next[i] >= 0 && (m = pair_merge(t, sym[i], sym[next[i]])) != UINT64_MAX)
            heap_push(h, &nh, (heap_entry){(uint32_t)(m >> 32), i});
    }
    int k = 0;
    for (int i = 0; i >= 0; i = next[i]) sym[k++] = sym[i];
    return k;
}

/* The symbols of a word before merging: one per byte, or the unknown token
 * (fused with the one before when fuse_unk) where the vocabulary lacks the byte. */
static int initial_symbols(const dk_tokenizer *t, const unsigned char *s, size_t len, int *sym)
{
    int n = 0;
    bool prev_unk = false;
    for (size_t i = 0; i < len; i++) {
        int id = t->byte_id[s[i]];
        if (id < 0 && t->unk_id < 0) continue;
        if (id < 0 && t->fuse_unk && prev_unk) continue;
        prev_unk = id < 0;
        sym[n++] = id < 0 ? t->unk_id : id;
    }
    return n;
}

static int grow_work(dk_encoder *e, size_t bytes)
{
    if (bytes <= e->work_cap) return 0;
    void *w = realloc(e->work, bytes);
    if (!w) return dk_fail("out of memory encoding a word (%zu bytes of scratch)", bytes);
    e->work = w;
    e->work_cap = bytes;
    return 0;
}

int dk_bpe_word(dk_encoder *e, const char *s, size_t len)
{
    const dk_tokenizer *t = e->t;
    bool cacheable = len <= CACHE_MAX_LEN;
    if (cacheable) {
        const int64_t *v = dk_strmap_get(&e->cache, s, len);
        if (v) return dk_ids_push(e, e->cache_ids + (*v >> 24), (int)(*v & 0xFFFFFF));
    }
    if (t->ignore_merges) {
        const int64_t *v = dk_strmap_get(&t->by_bytes, s, len);
        if (v) {
            int id = (int)*v;
            return dk_ids_push(e, &id, 1);
        }
    }
    /* sym, then the heap's next and prev (n ints each) and up to 3n entries (n - 1 pairs, 2 more per merge) */
    if (grow_work(e, len * (sizeof(int) * 3 + sizeof(heap_entry) * 3) + 64)) return -1;
    int *sym = e->work;
    int n = initial_symbols(t, (const unsigned char *)s, len, sym);
    const unsigned char *bytes = (size_t)n == len ? (const unsigned char *)s : NULL;
    n = n <= SCAN_MAX ? merge_scan(t, bytes, sym, n) : merge_heap(t, bytes, sym, n, sym + len);
    if (cacheable) {
        if (e->cache.count >= CACHE_MAX_ENTRIES) {
            dk_strmap_clear(&e->cache);
            e->cache_n = 0;
        }
        if (e->cache_n + (size_t)n > e->cache_cap) {
            size_t cap = e->cache_cap ? e->cache_cap * 2 : 1 << 16;
            while (cap < e->cache_n + (size_t)n) cap *= 2;
            int *grown = realloc(e->cache_ids, sizeof *grown * cap);
            if (!grown) return dk_fail("out of memory growing the encode cache");
            e->cache_ids = grown;
            e->cache_cap = cap;
        }
        int64_t *v = dk_strmap_put(&e->cache, s, len, NULL);
        if (!v) return -1;
        memcpy(e->cache_ids + e->cache_n, sym, sizeof *sym * (size_t)n);
        *v = (int64_t)e->cache_n << 24 | n;
        e->cache_n += (size_t)n;
    }
    return dk_ids_push(e, sym, n);
}
