/* Byte-level BPE training. Documents are cut into pre-tokens exactly as
 * encoding cuts them (the same tokenizer.json pipeline: specials out, NFC,
 * the Split regex), and the distinct pre-tokens are counted in parallel.
 * Merges are then learnt with incremental pair counts: each pair knows the
 * words it occurs in, so a merge touches only those words, and a max-heap
 * with lazy updates picks the most frequent pair (ties: the smaller pair of
 * ids), which makes the result independent of the thread count. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "text.h"

const char *const dk_tokenizer_default_specials[] = {"<|bos|>",       "<|eos|>", "<|pad|>", "<|system|>", "<|user|>",
                                                     "<|assistant|>", "<|end|>", "<think>", "</think>"};
const int dk_tokenizer_default_nspecials = sizeof dk_tokenizer_default_specials / sizeof *dk_tokenizer_default_specials;

struct dk_bpe_trainer {
    dk_bpe_train_options o;
    char *pattern;
    char **specials;
    dk_tokenizer *pre; /* the pipeline that cuts text into pre-tokens */
    int nthreads;
    dk_encoder **enc;  /* one per thread */
    dk_strmap *local;  /* per-thread counts of the current batch */
    int **scratch;     /* per-thread ids of matched specials (ignored) */
    int *scratch_n, *scratch_cap;
    dk_strmap words;   /* pre-token bytes -> count */
};

static int count_piece(void *user, const char *s, size_t len)
{
    bool added;
    int64_t *v = dk_strmap_put(user, s, len, &added);
    if (!v) return -1;
    ++*v;
    return 0;
}

void dk_bpe_trainer_free(dk_bpe_trainer *tr)
{
    if (!tr) return;
    for (int i = 0; i < tr->nthreads; i++) {
        if (tr->enc) dk_encoder_free(tr->enc[i]);
        if (tr->local) dk_strmap_free(&tr->local[i]);
        if (tr->scratch) free(tr->scratch[i]);
    }
    free(tr->enc);
    free(tr->local);
    free(tr->scratch);
    free(tr->scratch_n);
    free(tr->scratch_cap);
    for (int i = 0; tr->specials && i < tr->o.nspecials; i++) free(tr->specials[i]);
    free(tr->specials);
    free(tr->pattern);
    dk_tokenizer_free(tr->pre);
    dk_strmap_free(&tr->words);
    free(tr);
}

int dk_bpe_trainer_new(dk_bpe_trainer **out, const dk_bpe_train_options *o)
{
    *out = NULL;
    dk_bpe_trainer *tr = dk_calloc(1, sizeof *tr);
    if (!tr) return -1;
    tr->o = *o;
    if (!o->specials) {
        tr->o.specials = (char *const *)dk_tokenizer_default_specials;
        tr->o.nspecials = dk_tokenizer_default_nspecials;
    }
    if (tr->o.min_frequency < 1) tr->o.min_frequency = 1;
    int rc = 0;
    if (tr->o.vocab_size < 256 + tr->o.nspecials)
        rc = dk_fail("--vocab-size %d is too small: it holds the 256 bytes and %d special tokens", tr->o.vocab_size,
                     tr->o.nspecials);
    tr->pattern = strdup(o->pattern ? o->pattern : DK_TOKENIZER_DEFAULT_PATTERN);
    tr->specials = dk_calloc((size_t)tr->o.nspecials, sizeof *tr->specials);
    for (int i = 0; !rc && i < tr->o.nspecials; i++) {
        if (!*tr->o.specials[i]) rc = dk_fail("special token %d is empty", i + 1);
        for (int k = 0; !rc && k < i; k++)
            if (!strcmp(tr->o.specials[i], tr->o.specials[k])) rc = dk_fail("special token \"%s\" is given twice", tr->o.specials[i]);
        if (!rc && !(tr->specials[i] = strdup(tr->o.specials[i]))) rc = dk_fail("out of memory");
    }
    if (!rc && (!tr->pattern || !tr->specials)) rc = dk_fail("out of memory");
    tr->o.specials = tr->specials;
    if (!rc) {
        /* The pipeline is the tokenizer.json being trained, without merges yet. */
        char *json = dk_tokenizer_json_base(tr->pattern, tr->specials, tr->o.nspecials);
        rc = json ? dk_tokenizer_load_text(&tr->pre, json, strlen(json), "--pattern") : -1;
        free(json);
    }
    tr->nthreads = tr->o.threads > 0 ? tr->o.threads : omp_get_num_procs();
    if (!rc) {
        tr->enc = dk_calloc((size_t)tr->nthreads, sizeof *tr->enc);
        tr->local = dk_calloc((size_t)tr->nthreads, sizeof *tr->local);
        tr->scratch = dk_calloc((size_t)tr->nthreads, sizeof *tr->scratch);
        tr->scratch_n = dk_calloc((size_t)tr->nthreads, sizeof *tr->scratch_n);
        tr->scratch_cap = dk_calloc((size_t)tr->nthreads, sizeof *tr->scratch_cap);
        rc = tr->enc && tr->local && tr->scratch && tr->scratch_n && tr->scratch_cap ? 0 : -1;
    }
    for (int i = 0; !rc && i < tr->nthreads; i++) {
        if (!(tr->enc[i] = dk_encoder_new(tr->pre))) rc = -1;
        else {
            tr->enc[i]->piece = count_piece;
            tr->enc[i]->piece_user = &tr->local[i];
        }
    }
    if (rc) {
        dk_bpe_trainer_free(tr);
        return -1;
    }
    *out = tr;
    return 0;
}

int dk_bpe_trainer_add(dk_bpe_trainer *tr, const char *const *texts, const size_t *lens, int n)
{
    int failed = -1; /* the first document that failed, in document order */
    char message[1024] = "";
#pragma omp parallel num_threads(tr->nthreads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        /* Contiguous ranges of documents per thread; any split gives the same counts. */
        int lo = (int)((int64_t)n * t / nt), hi = (int)((int64_t)n * (t + 1) / nt);
        for (int i = lo; i < hi; i++) {
            tr->scratch_n[t] = 0;
            if (dk_encoder_encode(tr->enc[t], texts[i], lens[i], false, &tr->scratch[t], &tr->scratch_n[t],
                                  &tr->scratch_cap[t])) {
#pragma omp critical(dk_train_error)
                if (failed < 0 || i < failed) {
                    failed = i;
                    snprintf(message, sizeof message, "%s", dk_error());
                }
                break;
            }
        }
    }
    if (failed >= 0) {
        for (int t = 0; t < tr->nthreads; t++) dk_strmap_clear(&tr->local[t]);
        return dk_fail("document %d of the batch: %s", failed + 1, message);
    }
    for (int t = 0; t < tr->nthreads; t++) {
        dk_strmap *m = &tr->local[t];
        for (size_t i = 0; i < m->count; i++) {
            int64_t *v = dk_strmap_put(&tr->words, dk_strmap_key(m, i), m->entries[i].len, NULL);
            if (!v) return -1;
            *v += m->entries[i].value;
        }
        dk_strmap_clear(m);
    }
    return 0;
}

int64_t dk_bpe_trainer_distinct(const dk_bpe_trainer *tr) { return (int64_t)tr->words.count; }

/* ---- learning the merges ---- */

typedef struct {
    int64_t count;
    int32_t a, b;
    int32_t *words; /* words holding the pair (may hold stale entries; a word once per append run) */
    int32_t nwords, cap;
    int32_t touched; /* the last merge that raised the count */
} pair_info;

typedef struct {
    int64_t count;
    int32_t a, b;
} heap_item;

typedef struct {
    /* words: symbols of word w at sym[off[w]], len[w] of them, seen freq[w] times */
    int32_t *sym;
    size_t *off;
    int32_t *len;
    int64_t *freq;
    int32_t *stamp; /* the last merge that visited the word */
    int64_t nwords;
    pair_info *pairs;
    int32_t npairs, cap_pairs;
    dk_u64map pair_index; /* (a << 32 | b) -> index in pairs */
    heap_item *heap;
    int64_t nheap, cap_heap;
    int32_t *new_pairs; /* pairs whose count rose during the current merge */
    int32_t nnew, cap_new;
} learner;

static inline bool heap_above(heap_item x, heap_item y)
{
    if (x.count != y.count) return x.count > y.count;
    return x.a != y.a ? x.a < y.a : x.b < y.b;
}

static int heap_push(learner *L, heap_item x)
{
    if (L->nheap == L->cap_heap) {
        int64_t cap = L->cap_heap ? L->cap_heap * 2 : 1 << 16;
        heap_item *h = realloc(L->heap, sizeof *h * (size_t)cap);
        if (!h) return dk_fail("out of memory (merge queue)");
        L->heap = h;
        L->cap_heap = cap;
    }
    int64_t i = L->nheap++;
    while (i > 0 && heap_above(x, L->heap[(i - 1) / 2])) {
        L->heap[i] = L->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    L->heap[i] = x;
    return 0;
}

static heap_item heap_pop(learner *L)
{
    heap_item top = L->heap[0], x = L->heap[--L->nheap];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= L->nheap) break;
        if (c + 1 < L->nheap && heap_above(L->heap[c + 1], L->heap[c])) c++;
        if (!heap_above(L->heap[c], x)) break;
        L->heap[i] = L->heap[c];
        i = c;
    }
    L->heap[i] = x;
    return top;
}

static pair_info *pair_get(learner *L, int32_t a, int32_t b)
{
    bool added;
    uint64_t *v = dk_u64map_put(&L->pair_index, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &added);
    if (!v) return NULL;
    if (added) {
        if (L->npairs == L->cap_pairs) {
            int32_t cap = L->cap_pairs ? L->cap_pairs * 2 : 1 << 16;
            pair_info *p = realloc(L->pairs, sizeof *p * (size_t)cap);
            if (!p) {
                dk_fail("out of memory (pair counts)");
                return NULL;
            }
            L->pairs = p;
            L->cap_pairs = cap;
        }
        L->pairs[L->npairs] = (pair_info){.a = a, .b = b, .touched = -1};
        *v = (uint64_t)L->npairs++;
    }
    return &L->pairs[*v];
}

/* Appends v to a growing list of ids. */
static int push_i32(int32_t **list, int32_t *n, int32_t *cap, int32_t v)
{
    if (*n == *cap) {
        int32_t c = *cap ? *cap * 2 : 4;
        int32_t *grown = realloc(*list, sizeof *grown * (size_t)c);
        if (!grown) return dk_fail("out of memory (pair lists)");
        *list = grown;
        *cap = c;
    }
    (*list)[(*n)++] = v;
    return 0;
}

/* Adds delta occurrences of (a, b); a rise records word w as holding the
 * pair and marks the pair for the queue after this merge. */
static int pair_add(learner *L, int32_t a, int32_t b, int64_t delta, int32_t w, int32_t merge)
{
    pair_info *p = pair_get(L, a, b);
    if (!p) return -1;
    p->count += delta;
    if (delta <= 0) return 0;
    if ((!p->nwords || p->words[p->nwords - 1] != w) && push_i32(&p->words, &p->nwords, &p->cap, w)) return -1;
    if (merge >= 0 && p->touched != merge) {
        p->touched = merge;
        if (push_i32(&L->new_pairs, &L->nnew, &L->cap_new, (int32_t)(p - L->pairs))) return -1;
    }
    return 0;
}

/* Replaces every (a, b) in word w by id c, left to right, updating the
 * counts of the neighbouring pairs. */
static int merge_word(learner *L, int32_t w, int32_t a, int32_t b, int32_t c, int32_t merge)
{
    int32_t *s = L->sym + L->off[w];
    int32_t n = L->len[w];
    int64_t f = L->freq[w];
    for (int32_t i = 0; i + 1 < n; i++) {
        if (s[i] != a || s[i + 1] != b) continue;
        if (i > 0 && (pair_add(L, s[i - 1], a, -f, w, merge) || pair_add(L, s[i - 1], c, f, w, merge))) return -1;
        if (i + 2 < n && (pair_add(L, b, s[i + 2], -f, w, merge) || pair_add(L, c, s[i + 2], f, w, merge))) return -1;
        s[i] = c;
        memmove(s + i + 1, s + i + 2, sizeof *s * (size_t)(n - i - 2));
        n--;
    }
    L->len[w] = n;
    return 0;
}

static void learner_free(learner *L)
{
    free(L->sym);
    free(L->off);
    free(L->len);
    free(L->freq);
    free(L->stamp);
    for (int32_t i = 0; i < L->npairs; i++) free(L->pairs[i].words);
    free(L->pairs);
    dk_u64map_free(&L->pair_index);
    free(L->heap);
    free(L->new_pairs);
}

/* Words from the counted pre-tokens, and the initial pair counts. */
static int learner_init(learner *L, const dk_strmap *words)
{
    memset(L, 0, sizeof *L);
    L->nwords = (int64_t)words->count;
    if (L->nwords >= INT32_MAX) return dk_fail("more than 2^31 distinct pre-tokens");
    size_t total = 0;
    for (size_t i = 0; i < words->count; i++) total += words->entries[i].len;
    L->sym = dk_malloc(sizeof *L->sym * (total + 1));
    L->off = dk_malloc(sizeof *L->off * (size_t)(L->nwords + 1));
    L->len = dk_malloc(sizeof *L->len * (size_t)(L->nwords + 1));
    L->freq = dk_malloc(sizeof *L->freq * (size_t)(L->nwords + 1));
    L->stamp = dk_malloc(sizeof *L->stamp * (size_t)(L->nwords + 1));
    if (!L->sym || !L->off || !L->len || !L->freq || !L->stamp) return -1;
    size_t o = 0;
    for (int32_t w = 0; w < (int32_t)L->nwords; w++) {
        const dk_strmap_entry *e = &words->entries[w];
        const unsigned char *k = (const unsigned char *)words->keys + e->key;
        L->off[w] = o;
        L->len[w] = (int32_t)e->len;
        L->freq[w] = e->value;
        L->stamp[w] = -1;
        for (uint32_t i = 0; i < e->len; i++) L->sym[o + i] = k[i]; /* byte b is id b */
        for (uint32_t i = 0; i + 1 < e->len; i++)
            if (pair_add(L, k[i], k[i + 1], e->value, w, -1)) return -1;
        o += e->len;
    }
    for (int32_t i = 0; i < L->npairs; i++)
        if (L->pairs[i].count > 0 && heap_push(L, (heap_item){L->pairs[i].count, L->pairs[i].a, L->pairs[i].b})) return -1;
    return 0;
}

/* The learnt vocabulary: the bytes of every id, and raw bytes -> id (a merge
 * whose bytes already have an id reuses it, as HF's trainer does). */
typedef struct {
    char **raw;
    uint32_t *len;
    int n, cap;
    dk_strmap index;
} vocab;

static int vocab_add(vocab *v, const char *b, uint32_t len)
{
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 1024;
        char **r = realloc(v->raw, sizeof *r * (size_t)cap);
        if (r) v->raw = r;
        uint32_t *l = realloc(v->len, sizeof *l * (size_t)cap);
        if (l) v->len = l;
        if (!r || !l) return dk_fail("out of memory");
        v->cap = cap;
    }
    char *copy = dk_malloc(len + 1);
    int64_t *slot = copy ? dk_strmap_put(&v->index, b, len, NULL) : NULL;
    if (!slot) {
        free(copy);
        return -1;
    }
    memcpy(copy, b, len);
    copy[len] = '\0';
    *slot = v->n;
    v->raw[v->n] = copy;
    v->len[v->n++] = len;
    return 0;
}

static void vocab_free(vocab *v)
{
    for (int i = 0; i < v->n; i++) free(v->raw[i]);
    free(v->raw);
    free(v->len);
    dk_strmap_free(&v->index);
}

char *dk_bpe_trainer_finish(dk_bpe_trainer *tr, void (*progress)(int done, int total, void *user), void *user)
{
    learner L;
    vocab V = {0};
    int32_t(*merges)[2] = NULL;
    int nmerges = 0, cap_merges = 0, ns = tr->o.nspecials, want = tr->o.vocab_size - 256 - ns;
    char *json = NULL, *joined = NULL;
    if (learner_init(&L, &tr->words)) goto done;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (vocab_add(&V, &c, 1)) goto done;
    }
    for (int i = 0; i < ns; i++)
        if (vocab_add(&V, tr->specials[i], (uint32_t)strlen(tr->specials[i]))) goto done;
    while (V.n < tr->o.vocab_size && L.nheap) {
        heap_item top = heap_pop(&L);
        pair_info *p = pair_get(&L, top.a, top.b);
        if (!p) goto done;
        if (p->count != top.count) {
            /* A stale entry: the pair's count fell since; queue it again as it is now. */
            if (p->count > 0 && heap_push(&L, (heap_item){p->count, top.a, top.b})) goto done;
            continue;
        }
        if (top.count < tr->o.min_frequency) break;
        /* The merged token: its bytes, reusing an id they already have. */
        uint32_t la = V.len[top.a], lb = V.len[top.b];
        char *j = realloc(joined, la + lb + 1);
        if (!j) {
            dk_fail("out of memory");
            goto done;
        }
        joined = j;
        memcpy(joined, V.raw[top.a], la);
        memcpy(joined + la, V.raw[top.b], lb);
        const int64_t *have = dk_strmap_get(&V.index, joined, la + lb);
        /* A special's text must not become a learnt token too. */
        if (have && *have >= 256 && *have < 256 + ns) {
            p->count = 0;
            continue;
        }
        int32_t c = have ? (int32_t)*have : V.n;
        if (!have && vocab_add(&V, joined, la + lb)) goto done;
        if (nmerges == cap_merges) {
            cap_merges = cap_merges ? cap_merges * 2 : 1024;
            int32_t(*grown)[2] = realloc(merges, sizeof *grown * (size_t)cap_merges);
            if (!grown) {
                dk_fail("out of memory");
                goto done;
            }
            merges = grown;
        }
        int32_t m = nmerges;
        merges[nmerges][0] = top.a;
        merges[nmerges++][1] = top.b;
        L.nnew = 0;
        /* p may move as pairs are added: keep its index. */
        int32_t pi = (int32_t)(p - L.pairs);
        for (int32_t k = 0; k < L.pairs[pi].nwords; k++) {
            int32_t w = L.pairs[pi].words[k];
            if (L.stamp[w] == m) continue;
            L.stamp[w] = m;
            if (merge_word(&L, w, top.a, top.b, c, m)) goto done;
        }
        L.pairs[pi].count = 0;
        free(L.pairs[pi].words);
        L.pairs[pi].words = NULL;
        L.pairs[pi].nwords = L.pairs[pi].cap = 0;
        for (int32_t k = 0; k < L.nnew; k++) {
            const pair_info *q = &L.pairs[L.new_pairs[k]];
            if (q->count > 0 && heap_push(&L, (heap_item){q->count, q->a, q->b})) goto done;
        }
        if (progress && (nmerges % 256 == 0)) progress(V.n - 256 - ns, want, user);
    }
    if (progress) progress(V.n - 256 - ns, want, user);
    json = dk_tokenizer_json_write(tr->pattern, tr->specials, ns, V.raw, V.len, V.n, (const int32_t(*)[2])merges, nmerges);
done:
    learner_free(&L);
    vocab_free(&V);
    free(merges);
    free(joined);
    return json;
}
