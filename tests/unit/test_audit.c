/* The audit's parts: the assignment solver against exhaustive search, the
 * statistics against scipy/mpmath values, the ledger's chain and its repair
 * of a torn line, tokenizer.json vocabularies, and compare on synthetic
 * models written in other architectures' layouts, including hostile input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/ledger.h"
#include "dokja/rng.h"
#include "dokja/stats.h"
#include "testutil.h"

/* ---- linear assignment ---- */

static double brute_force(const float *c, int n, int *perm, int k)
{
    if (k == n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += c[i * n + perm[i]];
        return s;
    }
    double best = INFINITY;
    for (int i = k; i < n; i++) {
        int t = perm[k];
        perm[k] = perm[i], perm[i] = t;
        double v = brute_force(c, n, perm, k + 1);
        if (v < best) best = v;
        t = perm[k], perm[k] = perm[i], perm[i] = t;
    }
    return best;
}

static void assert_permutation(const int *p, int n)
{
    char *seen = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++) {
        assert_true(p[i] >= 0 && p[i] < n);
        assert_false(seen[p[i]]);
        seen[p[i]] = 1;
    }
    free(seen);
}

static void test_lap_exhaustive(void **s)
{
    (void)s;
    dk_rng r;
    dk_rng_seed(&r, 11);
    float c[64];
    int x[8], perm[8];
    for (int trial = 0; trial < 600; trial++) {
        int n = 1 + trial % 7;
        bool ties = trial % 3 == 0; /* small integers: many equal costs */
        for (int i = 0; i < n * n; i++) c[i] = ties ? (float)dk_rng_below(&r, 4) : (float)(dk_rng_uniform(&r) * 10 - 5);
        double total;
        assert_int_equal(dk_lap_solve(c, n, x, &total), 0);
        assert_permutation(x, n);
        for (int i = 0; i < n; i++) perm[i] = i;
        double best = brute_force(c, n, perm, 0);
        if (fabs(total - best) > 1e-4) fail_msg("n=%d trial %d: JV total %g, exhaustive %g", n, trial, total, best);
    }
}

/* A hidden permutation under noise is found, at a size where the shortest
 * path phase does real work; non-finite costs are refused. */
static void test_lap_recovers_permutation(void **s)
{
    (void)s;
    int n = 300;
    float *c = malloc(sizeof *c * (size_t)n * n);
    int *hidden = malloc(sizeof *hidden * (size_t)n), *x = malloc(sizeof *x * (size_t)n);
    dk_rng r;
    dk_rng_seed(&r, 5);
    for (int i = 0; i < n; i++) hidden[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)dk_rng_below(&r, (uint64_t)i + 1), t = hidden[i];
        hidden[i] = hidden[j], hidden[j] = t;
    }
    /* weak signal: the optimum is not the hidden permutation, but no worse than it */
    double total, planted = 0;
    for (int i = 0; i < n * n; i++) c[i] = (float)dk_rng_normal(&r);
    for (int i = 0; i < n; i++) c[i * n + hidden[i]] -= 2.0f, planted += c[i * n + hidden[i]];
    assert_int_equal(dk_lap_solve(c, n, x, &total), 0);
    assert_permutation(x, n);
    assert_true(total <= planted + 1e-3);
    /* strong signal: exactly the hidden permutation */
    for (int i = 0; i < n; i++) c[i * n + hidden[i]] -= 8.0f;
    assert_int_equal(dk_lap_solve(c, n, x, NULL), 0);
    assert_memory_equal(x, hidden, sizeof *x * (size_t)n);
    c[7] = NAN;
    assert_int_equal(dk_lap_solve(c, n, x, NULL), -1);
    tu_assert_error_has("non-finite");
    free(c), free(hidden), free(x);
}

/* ---- statistics (expected values from scipy 1.10 and mpmath) ---- */

static void assert_rel(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fabs(want) + 1e-300)) fail_msg("got %.17g, expected %.17g", got, want);
}

static void test_stats(void **s)
{
    (void)s;
    int x[] = {0, 2, 1, 4, 3, 5}, y[] = {1, 0, 2, 3, 5, 4};
    assert_rel(dk_spearman_perm(x, y, 6), 0.6571428571428573, 1e-12);
    assert_rel(dk_t_log_sf(3.0, 10), -5.0098614668850585, 1e-9);
    assert_rel(dk_t_log_sf(-1.5, 7), -0.092827432218803116, 1e-9);
    assert_rel(dk_t_log_sf(0.0, 5), -0.69314718055994529, 1e-12);
    assert_rel(dk_t_log_sf(40.0, 100), -144.85499030720291, 1e-9);
    assert_rel(dk_t_log_sf(200.0, 50), -170.02587280683525861, 1e-9);     /* mpmath: far below DBL_MIN */
    assert_rel(dk_t_log_sf(2343.0, 11006), -34202.213923767023680, 1e-9); /* mpmath */
    /* a perfect match of n units: exactly 1/n!, however Student's t would put it */
    assert_rel(dk_spearman_log_p(1.0, 128), -lgamma(129.0), 1e-12);
    assert_true(dk_spearman_log_p(0.9999999, 128) >= -lgamma(129.0));
    assert_rel(dk_spearman_log_p(0.0, 50), log(0.5), 1e-9);

    double one[] = {log(0.03)}, three[] = {-3.0, -5.0, -2.0}, four[] = {-250.0, -250.0, -250.0, -250.0};
    assert_rel(dk_fisher_log_p(one, 1), log(0.03), 1e-12);
    assert_rel(dk_fisher_log_p(three, 3), -5.8891261358266878, 1e-9);   /* chi2.logsf(20, 6) */
    assert_rel(dk_fisher_log_p(four, 4), -981.06549213528388125, 1e-9); /* mpmath, chi2 with 8 df at 2000 */
    double ones[] = {0.0, 0.0};
    assert_true(dk_fisher_log_p(ones, 2) == 0.0);

    float a[] = {1.0f, 1.1f, 0.9f, 1.05f, 0.97f, 1.2f}, b[] = {1.02f, 1.08f, 0.91f, 1.07f, 0.99f, 1.15f};
    assert_rel(dk_pearson(a, b, 6), 0.98042723934303577, 1e-6);
    assert_rel(dk_cosine(a, b, 6), 0.99967787696001464, 1e-6);
    /* the shuffle null: no shuffle of 6 values beats a perfect match */
    assert_rel(dk_pearson_shuffle_p(a, a, 6, 999, 1), 1.0 / 1000, 1e-12);
    float flat[] = {1, 1, 1, 1, 1, 1};
    assert_true(isnan(dk_pearson(a, flat, 6)));
    assert_true(isnan(dk_pearson_shuffle_p(flat, a, 6, 99, 1)));
    /* unrelated vectors: p is not small */
    float u[512], v[512];
    dk_rng r;
    dk_rng_seed(&r, 3);
    for (int i = 0; i < 512; i++) u[i] = (float)dk_rng_normal(&r), v[i] = (float)dk_rng_normal(&r);
    assert_true(dk_pearson_shuffle_p(u, v, 512, 999, 2) > 0.01);

    /* KS: scipy.stats.kstest(x / 0.02, "norm", method="asymp") */
    float ks[500];
    double D, p;
    for (int i = 1; i <= 500; i++) ks[i - 1] = (float)(0.02 * sin(1.3 * i) * 1.2);
    dk_ks_normal(ks, 500, 0.02, &D, &p);
    assert_rel(D, 0.11542073422067145, 1e-6);
    assert_rel(p, 3.2762905432871903e-06, 1e-4);
    float good[4000];
    for (int i = 0; i < 4000; i++) good[i] = (float)(0.02 * dk_rng_normal(&r));
    dk_ks_normal(good, 4000, 0.02, &D, &p);
    assert_true(p > 1e-3);
    for (int i = 0; i < 4000; i++) good[i] *= 1.25f; /* a quarter too wide: caught */
    dk_ks_normal(good, 4000, 0.02, &D, &p);
    assert_true(p < 1e-6);

    char buf[32];
    dk_format_log_p(log(0.25), buf, sizeof buf);
    assert_string_equal(buf, "0.25");
    dk_format_log_p(-1000 * M_LN10 + log(3.0), buf, sizeof buf);
    assert_string_equal(buf, "3.0e-1000");
}

/* ---- the ledger ---- */

static char *ledger_text(const char *run)
{
    char *path = dk_path_join(run, DK_LEDGER_FILE);
    dk_mmap m;
    assert_int_equal(dk_mmap_open(&m, path), 0);
    char *text = dk_strdupf("%.*s", (int)m.size, (const char *)m.data);
    dk_mmap_close(&m);
    free(path);
    return text;
}

static void write_text(const char *run, const char *text)
{
    char *path = dk_path_join(run, DK_LEDGER_FILE);
    assert_int_equal(dk_write_file_atomic(path, text, strlen(text)), 0);
    free(path);
}

static cJSON *step_fields(int step)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "step", step);
    return f;
}

static void test_ledger_chain(void **s)
{
    (void)s;
    char *run = tu_tempdir();
    dk_ledger l;
    assert_int_equal(dk_ledger_read(run, &l), 0); /* no file: empty */
    assert_int_equal(l.count, 0);
    dk_ledger_free(&l);
    char head[DK_SHA256_HEX];
    assert_int_equal(dk_ledger_append(run, "data", NULL, head), 0);
    for (int i = 1; i <= 3; i++) assert_int_equal(dk_ledger_append(run, "checkpoint", step_fields(10 * i), head), 0);
    assert_int_equal(dk_ledger_read(run, &l), 0);
    assert_int_equal(l.count, 4);
    assert_false(l.torn);
    assert_int_equal(dk_ledger_check(&l), 0);
    assert_string_equal(head, l.lines[3].sha256);
    char *text = ledger_text(run);
    assert_non_null(strstr(text, "{\"seq\":0,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"kind\":\"data\"}\n"));
    /* prev is the sha256 of the previous line's bytes without the newline */
    char *nl = strchr(text, '\n'), sha[DK_SHA256_HEX];
    dk_sha256_buf(text, (size_t)(nl - text), sha);
    assert_string_equal(sha, l.lines[0].sha256);
    assert_non_null(strstr(nl, sha));
    char what[128];
    dk_ledger_describe(&l, 2, what, sizeof what);
    assert_string_equal(what, "line 3 (seq 2, checkpoint step 20)");
    dk_ledger_free(&l);

    /* one changed byte in line 2 breaks line 3's link: both are named */
    char *bad = dk_strdupf("%s", text), *at = strstr(bad, "\"step\":10");
    at[8] = '1';
    write_text(run, bad);
    assert_int_equal(dk_ledger_read(run, &l), 0);
    assert_int_equal(dk_ledger_check(&l), -1);
    tu_assert_error_has("line 3 (seq 2, checkpoint step 20)");
    tu_assert_error_has("line 2 (seq 1, checkpoint step 11)");
    dk_ledger_free(&l);
    /* a removed line shows as a seq out of place */
    write_text(run, strchr(text, '\n') + 1);
    assert_int_equal(dk_ledger_read(run, &l), 0);
    assert_int_equal(dk_ledger_check(&l), -1);
    tu_assert_error_has("\"seq\" should be 0");
    dk_ledger_free(&l);

    /* fields may not overwrite the chain's own keys */
    write_text(run, text);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "seq", 99);
    assert_int_equal(dk_ledger_append(run, "checkpoint", f, NULL), -1);
    tu_assert_error_has("\"seq\"");
    free(bad);
    free(text);
    tu_rmdir(run);
}

/* A crash in the middle of an append leaves a line without its newline: it
 * is reported by check, cut by the next append, and the chain continues from
 * the last complete line. A complete line that is not a record stops appends. */
static void test_ledger_torn(void **s)
{
    (void)s;
    char *run = tu_tempdir();
    assert_int_equal(dk_ledger_append(run, "data", NULL, NULL), 0);
    assert_int_equal(dk_ledger_append(run, "checkpoint", step_fields(10), NULL), 0);
    char *text = ledger_text(run), *torn = dk_strdupf("%s{\"seq\":2,\"prev\":\"ab", text);
    write_text(run, torn);
    dk_ledger l;
    assert_int_equal(dk_ledger_read(run, &l), 0);
    assert_int_equal(l.count, 2);
    assert_true(l.torn);
    assert_int_equal(dk_ledger_check(&l), -1);
    tu_assert_error_has("line 3 is incomplete");
    dk_ledger_free(&l);
    assert_int_equal(dk_ledger_append(run, "checkpoint", step_fields(20), NULL), 0);
    assert_int_equal(dk_ledger_read(run, &l), 0);
    assert_int_equal(l.count, 3);
    assert_int_equal(dk_ledger_check(&l), 0);
    dk_ledger_free(&l);

    char *garbage = dk_strdupf("%snot json\n", text);
    write_text(run, garbage);
    assert_int_equal(dk_ledger_append(run, "checkpoint", step_fields(30), NULL), -1);
    tu_assert_error_has("line 3");
    tu_assert_error_has("damaged");
    free(garbage), free(torn), free(text);
    tu_rmdir(run);
}

/* ---- tokenizer.json vocabularies ---- */

static void test_vocab(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    const char *a = "{\"added_tokens\":[{\"id\":5,\"content\":\"<s>\"}],"
                    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"c\":3,\"abc\":4},"
                    "\"merges\":[\"a b\",\"ab c\"]}}";
    const char *b = "{\"added_tokens\":[{\"id\":0,\"content\":\"<s>\"}],"
                    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"c\":1,\"a\":2,\"x\":3,\"ab\":4},\"merges\":[[\"a\",\"b\"],[\"x\",\"y\"]]}}";
    const char *unigram = "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1.0],[\"zz\",-2.0]]}}";
    char *pa = tu_write(dir, "a.json", a, strlen(a)), *pb = tu_write(dir, "b.json", b, strlen(b)),
         *pu = tu_write(dir, "u.json", unigram, strlen(unigram));
    dk_vocab va, vb, vu;
    assert_int_equal(dk_vocab_load(&va, pa), 0);
    assert_int_equal(dk_vocab_load(&vb, pb), 0);
    assert_int_equal(dk_vocab_load(&vu, pu), 0);
    assert_int_equal(va.count, 6);
    assert_int_equal(vu.count, 2);
    assert_string_equal(vu.token[1], "zz");
    int *ia, *ib, n;
    assert_int_equal(dk_vocab_match(&va, &vb, 100, 100, &ia, &ib, &n), 0);
    /* shared: a(0,2) ab(2,4) c(3,1) <s>(5,0) */
    assert_int_equal(n, 4);
    int want_a[] = {0, 2, 3, 5}, want_b[] = {2, 4, 1, 0};
    assert_memory_equal(ia, want_a, sizeof want_a);
    assert_memory_equal(ib, want_b, sizeof want_b);
    free(ia), free(ib);
    /* limits: ids past an embedding's rows are left out */
    assert_int_equal(dk_vocab_match(&va, &vb, 3, 100, &ia, &ib, &n), 0);
    assert_int_equal(n, 2);
    free(ia), free(ib);
    assert_int_equal(dk_vocab_shared_merges(&va, &vb), 1); /* "a b" in both spellings */
    dk_vocab_free(&va), dk_vocab_free(&vb), dk_vocab_free(&vu);

    const char *bad[] = {"{\"model\":{\"vocab\":{\"a\":-1}}}", "{\"model\":{\"vocab\":{\"a\":\"x\"}}}", "{\"model\":{}}",
                         "{\"model\":{\"vocab\":{\"a\":0},\"merges\":[7]}}", "{\"model\":{\"vocab\":{\"a\":1e30}}}", "[1,",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *p = tu_write(dir, "bad.json", bad[i], strlen(bad[i]));
        dk_vocab v;
        if (dk_vocab_load(&v, p) != -1) fail_msg("accepted bad tokenizer.json %zu: %s", i, bad[i]);
        tu_assert_error_has("bad.json");
        free(p);
    }
    free(pa), free(pb), free(pu);
    tu_rmdir(dir);
}

/* ---- compare on synthetic models in other layouts ---- */

enum { C_ = 48, I_ = 96, L_ = 2, V_ = 120 };

typedef struct {
    float embed[V_ * C_], norm1[L_][C_], norm2[L_][C_], gate[L_][I_ * C_], up[L_][I_ * C_], final[C_];
} mini;

static void random_mini(mini *m, uint64_t seed)
{
    dk_rng r;
    dk_rng_seed(&r, seed);
    for (int i = 0; i < V_ * C_; i++) m->embed[i] = (float)(0.02 * dk_rng_normal(&r));
    for (int l = 0; l < L_; l++) {
        for (int i = 0; i < I_ * C_; i++) m->gate[l][i] = (float)(0.02 * dk_rng_normal(&r)), m->up[l][i] = (float)(0.02 * dk_rng_normal(&r));
        for (int d = 0; d < C_; d++) m->norm1[l][d] = (float)(1 + 0.1 * dk_rng_normal(&r)), m->norm2[l][d] = (float)(1 + 0.1 * dk_rng_normal(&r));
    }
    for (int d = 0; d < C_; d++) m->final[d] = (float)(1 + 0.1 * dk_rng_normal(&r));
}

/* B's units in a random order and its post-attention norm folded into gate
 * and up (the norm becomes 1): the same function. */
static void permute_and_fold(mini *m, uint64_t seed)
{
    dk_rng r;
    dk_rng_seed(&r, seed);
    static float g[I_ * C_], u[I_ * C_];
    for (int l = 0; l < L_; l++) {
        int p[I_];
        for (int i = 0; i < I_; i++) p[i] = i;
        for (int i = I_ - 1; i > 0; i--) {
            int j = (int)dk_rng_below(&r, (uint64_t)i + 1), t = p[i];
            p[i] = p[j], p[j] = t;
        }
        for (int i = 0; i < I_; i++)
            for (int d = 0; d < C_; d++)
                g[i * C_ + d] = m->gate[l][p[i] * C_ + d] * m->norm2[l][d], u[i * C_ + d] = m->up[l][p[i] * C_ + d] * m->norm2[l][d];
        memcpy(m->gate[l], g, sizeof g);
        memcpy(m->up[l], u, sizeof u);
        for (int d = 0; d < C_; d++) m->norm2[l][d] = 1.0f;
    }
}

/* A model directory in the layout of `type`; `shards` 2 splits it with an index. */
static void write_mini(const char *dir, const mini *m, const char *type, dk_dtype dtype, int shards)
{
    assert_int_equal(dk_mkdirs(dir), 0);
    char *cfg = dk_strdupf("{\"model_type\":\"%s\",\"hidden_size\":%d,\"intermediate_size\":%d,\"num_hidden_layers\":%d,"
                           "\"num_attention_heads\":4,\"vocab_size\":%d}",
                           type, C_, I_, L_, V_);
    free(tu_write(dir, "config.json", cfg, strlen(cfg)));
    free(cfg);
    bool fused = !strcmp(type, "phi3"), gemma = !strncmp(type, "gemma", 5);
    static float fusedw[L_][2 * I_ * C_], n1[L_][C_], n2[L_][C_], fin[C_];
    static uint16_t half[L_ * 8][2 * I_ * C_];
    dk_tensor_out t[4 * L_ + 2];
    char names[4 * L_ + 2][96];
    int n = 0;
#define ADD(data_, ndim_, d0, d1, ...)                                                                            \
    do {                                                                                                          \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                                         \
        t[n] = (dk_tensor_out){.name = names[n], .dtype = DK_F32, .ndim = ndim_, .data = data_, .shape = {d0, d1}}; \
        n++;                                                                                                      \
    } while (0)
    ADD(m->embed, 2, V_, C_, "model.embed_tokens.weight");
    for (int d = 0; d < C_; d++) fin[d] = m->final[d] - (gemma ? 1.0f : 0.0f);
    ADD(fin, 1, C_, 0, "model.norm.weight");
    for (int l = 0; l < L_; l++) {
        for (int d = 0; d < C_; d++) n1[l][d] = m->norm1[l][d] - (gemma ? 1.0f : 0.0f), n2[l][d] = m->norm2[l][d] - (gemma ? 1.0f : 0.0f);
        ADD(n1[l], 1, C_, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(n2[l], 1, C_, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        if (fused) {
            memcpy(fusedw[l], m->gate[l], sizeof m->gate[l]);
            memcpy(fusedw[l] + I_ * C_, m->up[l], sizeof m->up[l]);
            ADD(fusedw[l], 2, 2 * I_, C_, "model.layers.%d.mlp.gate_up_proj.weight", l);
        } else {
            ADD(m->gate[l], 2, I_, C_, "model.layers.%d.mlp.gate_proj.weight", l);
            ADD(m->up[l], 2, I_, C_, "model.layers.%d.mlp.up_proj.weight", l);
        }
    }
#undef ADD
    for (int i = 0; dtype != DK_F32 && i < n; i++) { /* round to nearest for BF16, plain truncation suffices for the test */
        const float *src = t[i].data;
        size_t numel = (size_t)dk_shape_numel(t[i].ndim, t[i].shape);
        for (size_t k = 0; k < numel; k++) {
            uint32_t bits;
            memcpy(&bits, &src[k], 4);
            half[i][k] = (uint16_t)(bits >> 16);
        }
        t[i].data = half[i];
        t[i].dtype = DK_BF16;
    }
    if (shards == 1) {
        char *p = dk_path_join(dir, "model.safetensors");
        assert_int_equal(dk_safetensors_write(p, t, n), 0);
        free(p);
        return;
    }
    cJSON *index = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(index, "weight_map");
    for (int sidx = 0; sidx < 2; sidx++) {
        char file[64];
        snprintf(file, sizeof file, "model-%05d-of-00002.safetensors", sidx + 1);
        dk_tensor_out part[4 * L_ + 2];
        int k = 0;
        for (int i = sidx; i < n; i += 2) part[k++] = t[i], cJSON_AddStringToObject(map, t[i].name, file);
        char *p = dk_path_join(dir, file);
        assert_int_equal(dk_safetensors_write(p, part, k), 0);
        free(p);
    }
    char *p = dk_path_join(dir, "model.safetensors.index.json");
    assert_int_equal(dk_json_write_file(p, index), 0);
    free(p);
    cJSON_Delete(index);
}

static cJSON *compare_dirs(const char *a, const char *b, int expect_rc)
{
    dk_compare_opts o = {.alpha = 1e-6, .shuffles = 199, .seed = 1};
    cJSON *report = NULL;
    FILE *out = fopen("/dev/null", "w");
    int rc = dk_audit_compare(a, b, &o, out, &report);
    fclose(out);
    if (rc != expect_rc) fail_msg("compare %s %s returned %d: %s", a, b, rc, dk_error());
    return report;
}

static void test_compare_layouts(void **s)
{
    (void)s;
    char *root = tu_tempdir(), *a = dk_path_join(root, "a"), *b = dk_path_join(root, "b"), *c = dk_path_join(root, "c");
    static mini ma, mb, mc;
    random_mini(&ma, 1);
    mb = ma;
    permute_and_fold(&mb, 9);
    random_mini(&mc, 2);
    write_mini(a, &ma, "llama", DK_F32, 1);
    write_mini(b, &mb, "phi3", DK_BF16, 2); /* fused gate_up, BF16, sharded */
    write_mini(c, &mc, "gemma2", DK_F32, 1);  /* norms stored as weight - 1 */

    cJSON *r = compare_dirs(a, b, 0);
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "derived");
    assert_true(cJSON_GetObjectItem(r, "log10_p")->valuedouble < -100);
    cJSON *layer0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "mlp"), "layers"), 0);
    assert_true(cJSON_GetObjectItem(layer0, "rho")->valuedouble == 1.0);
    assert_true(cJSON_GetObjectItem(layer0, "unit_order_kept")->valuedouble < 20);
    cJSON_Delete(r);

    r = compare_dirs(a, c, 0);
    assert_string_equal(cJSON_GetObjectItem(r, "verdict")->valuestring, "no evidence of shared weights");
    assert_true(cJSON_GetObjectItem(r, "log10_p")->valuedouble > -3);
    /* Gemma's weight - 1 is read back as a scale near 1: the cosine is near 1, Pearson not */
    cJSON *norm0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "norms"), "tensors"), 0);
    assert_true(cJSON_GetObjectItem(norm0, "cosine")->valuedouble > 0.98);
    assert_true(fabs(cJSON_GetObjectItem(norm0, "pearson")->valuedouble) < 0.5);
    cJSON_Delete(r);

    /* hostile and broken directories are named, never crash */
    char *cfg = dk_path_join(c, "config.json");
    const char *unknown = "{\"model_type\":\"gpt2\",\"hidden_size\":48}";
    free(tu_write(c, "config.json", unknown, strlen(unknown)));
    assert_null(compare_dirs(a, c, -1));
    tu_assert_error_has("not supported");
    tu_assert_error_has("phi3");
    const char *missing = "{\"model_type\":\"llama\",\"intermediate_size\":96,\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                          "\"vocab_size\":120}";
    free(tu_write(c, "config.json", missing, strlen(missing)));
    assert_null(compare_dirs(a, c, -1));
    tu_assert_error_has("hidden_size");
    const char *wrong = "{\"model_type\":\"llama\",\"hidden_size\":48,\"intermediate_size\":95,\"num_hidden_layers\":2,"
                        "\"num_attention_heads\":4,\"vocab_size\":120}";
    free(tu_write(c, "config.json", wrong, strlen(wrong))); /* says 95 units, holds 96 */
    assert_null(compare_dirs(c, c, -1));
    tu_assert_error_has("95 rows");
    char *shard = dk_path_join(b, "model-00002-of-00002.safetensors");
    assert_int_equal(truncate(shard, 100), 0);
    assert_null(compare_dirs(a, b, -1));
    tu_assert_error_has("model-00002-of-00002.safetensors");
    unlink(shard);
    assert_null(compare_dirs(a, b, -1));
    tu_assert_error_has("model-00002-of-00002.safetensors");
    assert_null(compare_dirs(a, root, -1));
    tu_assert_error_has("config.json");
    free(shard), free(cfg), free(a), free(b), free(c);
    tu_rmdir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lap_exhaustive), cmocka_unit_test(test_lap_recovers_permutation),
        cmocka_unit_test(test_stats),          cmocka_unit_test(test_ledger_chain),
        cmocka_unit_test(test_ledger_torn),    cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_compare_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
