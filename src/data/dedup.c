/* Step 6: the index of kept documents. Exact duplicates: a 128-bit hash of
 * the normalised text. Near duplicates: LSH over MinHash signatures, bands
 * of `rows` values each; a document that shares a band with a kept one is a
 * candidate, and a candidate whose signatures agree on at least `threshold`
 * of their values (the Jaccard estimate) is a near duplicate. Documents
 * arrive in input order, so the first of a group is the one kept.
 *
 * Memory: per kept document a 24-byte exact slot (tables at most half
 * full) and 12 bytes; per document with a signature, also the signature as
 * 16-bit values (the low bits of each 32-bit minimum; equal by chance with
 * probability 2^-16) and one 8-byte LSH slot per band. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "data_internal.h"
#include "dokja/error.h"

enum { MAX_CANDIDATES = 256 }; /* verified per document at most: bounds the work on hot bands */

typedef struct {
    uint64_t h0, h1;
    uint32_t kept; /* kept index + 1; 0: empty */
} exact_slot;

struct dk_dedup {
    int bands, rows, k;
    double threshold;
    exact_slot *exact;
    size_t exact_slots, exact_count;
    uint64_t *lsh; /* band key (high 32 bits, never 0) | near index; 0: empty */
    size_t lsh_slots, lsh_count;
    int64_t *ids;   /* per kept document */
    uint32_t *dups; /* duplicates each kept document absorbed */
    size_t nkept, kept_cap;
    uint16_t *sigs;   /* k per document in the near-duplicate index (those with a signature) */
    uint32_t *owner;  /* its kept index */
    size_t nnear, near_cap;
};

int dk_dedup_new(dk_dedup **out, int bands, int rows, double threshold)
{
    dk_dedup *d = dk_calloc(1, sizeof *d);
    if (!d) return -1;
    d->bands = bands;
    d->rows = rows;
    d->k = bands * rows;
    d->threshold = threshold;
    d->exact_slots = d->lsh_slots = 1024;
    d->exact = calloc(d->exact_slots, sizeof *d->exact);
    d->lsh = calloc(d->lsh_slots, sizeof *d->lsh);
    if (!d->exact || !d->lsh) {
        dk_dedup_free(d);
        return dk_fail("out of memory for the deduplication index");
    }
    *out = d;
    return 0;
}

void dk_dedup_free(dk_dedup *d)
{
    if (!d) return;
    free(d->exact);
    free(d->lsh);
    free(d->sigs);
    free(d->owner);
    free(d->ids);
    free(d->dups);
    free(d);
}

size_t dk_dedup_bytes(const dk_dedup *d)
{
    return d->exact_slots * sizeof *d->exact + d->lsh_slots * sizeof *d->lsh +
           d->kept_cap * (sizeof *d->ids + sizeof *d->dups) + d->near_cap * ((size_t)d->k * sizeof *d->sigs + sizeof *d->owner);
}

static size_t exact_find(const exact_slot *t, size_t nslots, uint64_t h0, uint64_t h1)
{
    size_t s = (size_t)h0 & (nslots - 1);
    while (t[s].kept && !(t[s].h0 == h0 && t[s].h1 == h1)) s = (s + 1) & (nslots - 1);
    return s;
}

static size_t lsh_start(uint64_t key, size_t nslots) { return (size_t)(key * 0x9E3779B97F4A7C15ull >> 17) & (nslots - 1); }

static int grow_tables(dk_dedup *d)
{
    if (2 * (d->exact_count + 1) > d->exact_slots) {
        size_t n = 2 * d->exact_slots;
        exact_slot *t = calloc(n, sizeof *t);
        if (!t) return dk_fail("out of memory growing the exact-duplicate index");
        for (size_t i = 0; i < d->exact_slots; i++)
            if (d->exact[i].kept) t[exact_find(t, n, d->exact[i].h0, d->exact[i].h1)] = d->exact[i];
        free(d->exact);
        d->exact = t;
        d->exact_slots = n;
    }
    if (2 * (d->lsh_count + (size_t)d->bands) > d->lsh_slots) {
        size_t n = 2 * d->lsh_slots;
        while (2 * (d->lsh_count + (size_t)d->bands) > n) n *= 2;
        uint64_t *t = calloc(n, sizeof *t);
        if (!t) return dk_fail("out of memory growing the near-duplicate index");
        for (size_t i = 0; i < d->lsh_slots; i++)
            if (d->lsh[i]) {
                size_t s = lsh_start(d->lsh[i] >> 32, n);
                while (t[s]) s = (s + 1) & (n - 1);
                t[s] = d->lsh[i];
            }
        free(d->lsh);
        d->lsh = t;
        d->lsh_slots = n;
    }
    if (d->nkept == d->kept_cap) {
        size_t n = d->kept_cap ? 2 * d->kept_cap : 1024;
        int64_t *ids = realloc(d->ids, n * sizeof *ids);
        if (ids) d->ids = ids;
        uint32_t *dups = realloc(d->dups, n * sizeof *dups);
        if (dups) d->dups = dups;
        if (!ids || !dups) return dk_fail("out of memory growing the deduplication index");
        d->kept_cap = n;
    }
    if (d->nnear == d->near_cap) {
        size_t n = d->near_cap ? 2 * d->near_cap : 1024;
        uint16_t *sigs = realloc(d->sigs, n * (size_t)d->k * sizeof *sigs);
        if (sigs) d->sigs = sigs;
        uint32_t *owner = realloc(d->owner, n * sizeof *owner);
        if (owner) d->owner = owner;
        if (!sigs || !owner) return dk_fail("out of memory growing the near-duplicate index");
        d->near_cap = n;
    }
    return 0;
}

void dk_dedup_band_keys(int bands, int rows, const uint32_t *sig, uint32_t *keys)
{
    for (int b = 0; b < bands; b++) {
        uint32_t k = (uint32_t)XXH3_64bits_withSeed(sig + b * rows, sizeof *sig * (size_t)rows, (uint64_t)b);
        keys[b] = k ? k : 1; /* 0 marks an empty slot */
    }
}

void dk_dedup_prefetch(const dk_dedup *d, const uint64_t hash[2], const uint32_t *keys)
{
    if (hash) __builtin_prefetch(&d->exact[(size_t)hash[0] & (d->exact_slots - 1)]);
    for (int b = 0; keys && b < d->bands; b++) __builtin_prefetch(&d->lsh[lsh_start(keys[b], d->lsh_slots)]);
}

/* The first document of the near index (lowest index) whose signature agrees with sig on enough values, or -1. */
static int64_t near_match(const dk_dedup *d, const uint32_t *sig, const uint32_t *keys)
{
    int64_t best = -1;
    int checked = 0;
    for (int b = 0; b < d->bands && checked < MAX_CANDIDATES; b++) {
        for (size_t s = lsh_start(keys[b], d->lsh_slots); d->lsh[s]; s = (s + 1) & (d->lsh_slots - 1)) {
            if ((uint32_t)(d->lsh[s] >> 32) != keys[b]) continue;
            uint32_t idx = (uint32_t)d->lsh[s];
            if (best >= 0 && idx >= best) continue;
            if (checked++ == MAX_CANDIDATES) break;
            const uint16_t *ks = d->sigs + (size_t)idx * (size_t)d->k;
            int same = 0;
            for (int i = 0; i < d->k; i++) same += ks[i] == (uint16_t)sig[i];
            if (same >= d->threshold * d->k) best = idx;
        }
    }
    return best;
}

int dk_dedup_offer(dk_dedup *d, const uint64_t hash[2], const uint32_t *sig, const uint32_t *keys, int64_t id, int64_t *of,
                   bool *new_cluster)
{
    if (grow_tables(d)) return -1;
    size_t es = exact_find(d->exact, d->exact_slots, hash[0], hash[1]);
    int64_t hit = -1;
    int kind = 0;
    if (d->exact[es].kept) {
        hit = d->exact[es].kept - 1;
        kind = 1;
    }
    bool near = sig && keys && d->threshold > 0;
    if (!kind && near && (hit = near_match(d, sig, keys)) >= 0) {
        hit = d->owner[hit];
        kind = 2;
    }
    if (kind) {
        *of = d->ids[hit];
        *new_cluster = d->dups[hit]++ == 0;
        return kind;
    }
    uint32_t idx = (uint32_t)d->nkept++;
    d->ids[idx] = id;
    d->dups[idx] = 0;
    d->exact[es] = (exact_slot){hash[0], hash[1], idx + 1};
    d->exact_count++;
    if (near) {
        uint32_t ni = (uint32_t)d->nnear++;
        uint16_t *ks = d->sigs + (size_t)ni * (size_t)d->k;
        for (int i = 0; i < d->k; i++) ks[i] = (uint16_t)sig[i];
        d->owner[ni] = idx;
        for (int b = 0; b < d->bands; b++) {
            size_t s = lsh_start(keys[b], d->lsh_slots);
            while (d->lsh[s]) s = (s + 1) & (d->lsh_slots - 1);
            d->lsh[s] = (uint64_t)keys[b] << 32 | ni;
            d->lsh_count++;
        }
    }
    return 0;
}
