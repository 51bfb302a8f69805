/* Step 6, near duplicates: the normalised form of a document (the exact
 * hash reads it too), and MinHash signatures of its character n-grams, so
 * Korean needs no word segmentation. Shingles are hashed by a rolling
 * polynomial over code points; the k hash functions are multiply-add-shift
 * ((a*x + b) >> 32 with random odd a), which vectorises. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "data_internal.h"
#include "dokja/error.h"
#include "dokja/rng.h"

int dk_dedup_normalize(const char *s, size_t n, dk_buf *out)
{
    out->len = 0;
    if (dk_buf_reserve(out, n + 1)) return -1;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len = dk_utf8_next(u + i, &cp);
        bool keep;
        if (cp < 0x80) {
            keep = (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
            if (keep) out->p[out->len++] = (char)(cp | (cp >= 'A' && cp <= 'Z' ? 0x20 : 0));
            i += (size_t)len;
            continue;
        }
        if (cp >= 0xAC00 && cp <= 0xD7A3) keep = true;
        else {
            utf8proc_category_t c = utf8proc_category(cp);
            keep = !(c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) && c != UTF8PROC_CATEGORY_ZS &&
                   c != UTF8PROC_CATEGORY_CF;
        }
        if (keep) {
            memcpy(out->p + out->len, s + i, (size_t)len);
            out->len += (size_t)len;
        }
        i += (size_t)len;
    }
    out->p[out->len] = '\0';
    return 0;
}

int dk_minhash_init(dk_minhash *m, int k, uint64_t seed)
{
    m->k = k;
    m->a = dk_malloc(sizeof *m->a * (size_t)k);
    m->b = dk_malloc(sizeof *m->b * (size_t)k);
    if (!m->a || !m->b) {
        dk_minhash_free(m);
        return -1;
    }
    dk_rng r;
    dk_rng_seed(&r, seed);
    for (int i = 0; i < k; i++) {
        m->a[i] = dk_rng_next(&r) | 1;
        m->b[i] = dk_rng_next(&r);
    }
    return 0;
}

void dk_minhash_free(dk_minhash *m)
{
    free(m->a);
    free(m->b);
    m->a = m->b = NULL;
}

/* Mixes the rolling hash into 32 well-spread bits (murmur3's finaliser). */
static uint32_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

enum { MAX_NGRAM = 32, BLOCK = 64 };

/* Folds a block of shingle hashes into the signature. */
static void fold(const dk_minhash *m, const uint64_t *x, int nx, uint32_t *restrict sig)
{
    const uint64_t *restrict a = m->a, *restrict b = m->b;
    for (int j = 0; j < nx; j++) {
        uint64_t v = x[j];
        for (int i = 0; i < m->k; i++) {
            uint32_t h = (uint32_t)((a[i] * v + b[i]) >> 32);
            sig[i] = h < sig[i] ? h : sig[i];
        }
    }
}

void dk_minhash_signature(const dk_minhash *m, const char *s, size_t n, int ngram, uint32_t *sig)
{
    for (int i = 0; i < m->k; i++) sig[i] = UINT32_MAX;
    if (ngram > MAX_NGRAM) ngram = MAX_NGRAM;
    const uint64_t B = 0x100000001B3ull;
    uint64_t pow = 1; /* B^(ngram-1) */
    for (int i = 1; i < ngram; i++) pow *= B;
    int32_t window[MAX_NGRAM];
    uint64_t h = 0, x[BLOCK];
    size_t count = 0;
    int nx = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)dk_utf8_next(u + i, &cp);
        size_t slot = count % (size_t)ngram;
        if (count >= (size_t)ngram) h -= (uint64_t)window[slot] * pow; /* the oldest leaves */
        window[slot] = cp;
        h = h * B + (uint64_t)cp;
        if (++count >= (size_t)ngram) x[nx++] = mix(h);
        if (nx == BLOCK) {
            fold(m, x, nx, sig);
            nx = 0;
        }
    }
    if (count > 0 && count < (size_t)ngram) x[nx++] = mix(h); /* shorter than one n-gram: the whole text */
    fold(m, x, nx, sig);
}
