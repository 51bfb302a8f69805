/* Step 6: the normalised form, MinHash estimates against the exact Jaccard
 * similarity of the n-gram sets (computed here by brute force), and the
 * index: exact and near duplicates found, the first of a group kept,
 * distinct texts left alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dokja/data.h"
#include "dokja/rng.h"
#include "testutil.h"

enum { BANDS = 16, ROWS = 8, K = BANDS * ROWS, NGRAM = 5 };

/* Code points of a UTF-8 string. */
static int codepoints(const char *s, int32_t *out)
{
    int n = 0;
    for (const unsigned char *u = (const unsigned char *)s; *u;) {
        int len = *u < 0x80 ? 1 : *u < 0xE0 ? 2 : *u < 0xF0 ? 3 : 4;
        int32_t cp = len == 1 ? *u : len == 2 ? *u & 0x1F : len == 3 ? *u & 0x0F : *u & 0x07;
        for (int i = 1; i < len; i++) cp = cp << 6 | (u[i] & 0x3F);
        out[n++] = cp;
        u += len;
    }
    return n;
}

/* |A ∩ B| / |A ∪ B| over the sets of n-grams, by comparing every pair. */
static double jaccard(const char *a, const char *b)
{
    static int32_t x[4096], y[4096];
    int nx = codepoints(a, x) - NGRAM + 1, ny = codepoints(b, y) - NGRAM + 1;
    int inter = 0, ua = 0, ub = 0;
    for (int i = 0; i < nx; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) dup = !memcmp(x + i, x + j, NGRAM * 4);
        if (dup) continue;
        ua++;
        bool in = false;
        for (int j = 0; j < ny && !in; j++) in = !memcmp(x + i, y + j, NGRAM * 4);
        inter += in;
    }
    for (int i = 0; i < ny; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++) dup = !memcmp(y + i, y + j, NGRAM * 4);
        ub += !dup;
    }
    return (double)inter / (double)(ua + ub - inter);
}

static double estimate(const uint32_t *a, const uint32_t *b)
{
    int same = 0;
    for (int i = 0; i < K; i++) same += a[i] == b[i];
    return (double)same / K;
}

/* A text of n random Hangul syllables. */
static void random_text(dk_rng *r, char *out, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t cp = 0xAC00 + (uint32_t)dk_rng_below(r, 400);
        out[3 * i] = (char)(0xE0 | cp >> 12);
        out[3 * i + 1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3 * i + 2] = (char)(0x80 | (cp & 0x3F));
    }
    out[3 * n] = '\0';
}

/* Replaces `edits` syllables at random places. */
static void edit(dk_rng *r, char *t, int n, int edits)
{
    for (int e = 0; e < edits; e++) {
        int at = (int)dk_rng_below(r, (uint64_t)n);
        t[3 * at + 2] = (char)(0x80 | (((unsigned char)t[3 * at + 2] + 1) & 0x3F));
    }
}

static void test_normalize(void **s)
{
    (void)s;
    dk_buf b = {0};
    const char *in = "Hello, World!  안녕하세요… (2024) <|email|>\n끝.";
    assert_int_equal(dk_dedup_normalize(in, strlen(in), &b), 0);
    assert_string_equal(b.p, "helloworld안녕하세요2024email끝");
    dk_buf_free(&b);
}

static void test_minhash_estimates_jaccard(void **s)
{
    (void)s;
    dk_minhash m;
    assert_int_equal(dk_minhash_init(&m, K, 7), 0);
    dk_rng r;
    dk_rng_seed(&r, 42);
    static char a[3 * 400 + 1], b[3 * 400 + 1];
    uint32_t sa[K], sb[K];
    double err = 0, worst = 0;
    int trials = 0;
    for (int edits = 0; edits <= 40; edits += 4, trials++) {
        random_text(&r, a, 400);
        memcpy(b, a, sizeof a);
        edit(&r, b, 400, edits);
        double j = jaccard(a, b);
        dk_minhash_signature(&m, a, strlen(a), NGRAM, sa);
        dk_minhash_signature(&m, b, strlen(b), NGRAM, sb);
        double e = fabs(estimate(sa, sb) - j);
        err += e;
        if (e > worst) worst = e;
        if (edits == 0) assert_memory_equal(sa, sb, sizeof sa);
    }
    /* the standard error of a 128-value estimate is at most 0.044 */
    if (err / trials > 0.05 || worst > 0.15) fail_msg("mean error %.3f, worst %.3f", err / trials, worst);
    /* texts shorter than one n-gram still get a signature (of the whole text) */
    dk_minhash_signature(&m, "abc", 3, NGRAM, sa);
    dk_minhash_signature(&m, "abd", 3, NGRAM, sb);
    assert_true(sa[0] != UINT32_MAX);
    assert_true(estimate(sa, sb) < 0.1);
    dk_minhash_free(&m);
}

static void offer(dk_dedup *d, const dk_minhash *m, const char *text, int64_t id, int want, int64_t want_of, bool want_new)
{
    uint32_t sig[K], keys[BANDS];
    XXH128_hash_t h = XXH3_128bits(text, strlen(text));
    uint64_t hash[2] = {h.low64, h.high64};
    dk_minhash_signature(m, text, strlen(text), NGRAM, sig);
    dk_dedup_band_keys(BANDS, ROWS, sig, keys);
    dk_dedup_prefetch(d, hash, keys);
    int64_t of = -1;
    bool fresh = false;
    int got = dk_dedup_offer(d, hash, sig, keys, id, &of, &fresh);
    if (got != want) fail_msg("document %lld: %d, not %d", (long long)id, got, want);
    if (want) {
        assert_int_equal(of, want_of);
        assert_int_equal(fresh, want_new);
    }
}

static void test_index_keeps_the_first(void **s)
{
    (void)s;
    dk_minhash m;
    assert_int_equal(dk_minhash_init(&m, K, 1337), 0);
    dk_dedup *d;
    assert_int_equal(dk_dedup_new(&d, BANDS, ROWS, 0.8), 0);
    dk_rng r;
    dk_rng_seed(&r, 9);
    enum { N = 300, LEN = 300 };
    static char base[N][3 * LEN + 1], near[3 * LEN + 1];
    for (int i = 0; i < N; i++) random_text(&r, base[i], LEN);
    for (int i = 0; i < N; i++) offer(d, &m, base[i], i, 0, 0, false);
    /* exact copies and copies with 3 edits (Jaccard about 0.9) name the original; the second copy is not a new cluster */
    offer(d, &m, base[17], 1000, 1, 17, true);
    offer(d, &m, base[17], 1001, 1, 17, false);
    memcpy(near, base[42], sizeof near);
    edit(&r, near, LEN, 3);
    assert_true(jaccard(near, base[42]) > 0.85);
    offer(d, &m, near, 1002, 2, 42, true);
    /* a copy with many edits (Jaccard about 0.35) is new */
    memcpy(near, base[99], sizeof near);
    edit(&r, near, LEN, 40);
    assert_true(jaccard(near, base[99]) < 0.5);
    offer(d, &m, near, 1003, 0, 0, false);
    /* ... and is now kept: a near copy of it names it, not base[99] */
    edit(&r, near, LEN, 1);
    offer(d, &m, near, 1004, 2, 1003, true);
    assert_true(dk_dedup_bytes(d) > (size_t)N * K * 2);
    dk_dedup_free(d);
    /* near-duplicate detection off: only exact copies */
    assert_int_equal(dk_dedup_new(&d, BANDS, ROWS, 0), 0);
    offer(d, &m, base[0], 0, 0, 0, false);
    memcpy(near, base[0], sizeof near);
    edit(&r, near, LEN, 1);
    offer(d, &m, near, 1, 0, 0, false);
    offer(d, &m, base[0], 2, 1, 0, true);
    dk_dedup_free(d);
    dk_minhash_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_minhash_estimates_jaccard),
        cmocka_unit_test(test_index_keeps_the_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
