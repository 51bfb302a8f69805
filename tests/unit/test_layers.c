/* Finite-difference checks of every layer's backward: for a random
 * projection R of the output, d(sum(out * R))/dx by central differences
 * must match the analytic gradient that backward gives for dout = R. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/layers.h"
#include "dokja/rng.h"
#include "testutil.h"

static dk_rng rng;

static float *randn(size_t n, double std)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * dk_rng_normal(&rng));
    return x;
}

/* A layer's forward as a closure over its inputs. */
typedef struct layer_case layer_case;
struct layer_case {
    void (*forward)(layer_case *c, float *out);
    size_t nout;
    const float *R;
    /* layer-specific inputs */
    float *x, *w, *w2, *w3, *scratch;
    int *ids;
    int N, C, OC, B, T, NH, NKV, HD;
    float *cos_t, *sin_t;
};

static double projected(layer_case *c, float *out)
{
    c->forward(c, out);
    double s = 0;
    for (size_t i = 0; i < c->nout; i++) s += (double)out[i] * c->R[i];
    return s;
}

/* Compares grad (n) of input x with central differences at up to 48 points. */
static void check(const char *what, layer_case *c, float *x, size_t n, const float *grad)
{
    float *out = malloc(c->nout * sizeof *out);
    const float h = 1e-2f;
    size_t stride = n > 48 ? n / 48 : 1;
    for (size_t i = 0; i < n; i += stride) {
        float saved = x[i];
        x[i] = saved + h;
        double lp = projected(c, out);
        x[i] = saved - h;
        double lm = projected(c, out);
        x[i] = saved;
        double fd = (lp - lm) / (2 * h), an = grad[i];
        if (fabs(fd - an) > 2e-2 * (fabs(fd) + fabs(an)) + 2e-3)
            fail_msg("%s[%zu]: finite difference %.6f, backward %.6f", what, i, fd, an);
    }
    free(out);
}

static void rmsnorm_fwd(layer_case *c, float *out)
{
    float *rstd = malloc(sizeof(float) * (size_t)c->N);
    dk_rmsnorm_forward(out, rstd, c->x, c->w, c->N, c->C, 1e-5f);
    free(rstd);
}

static void test_rmsnorm(void **state)
{
    (void)state;
    int N = 5, C = 12;
    layer_case c = {.forward = rmsnorm_fwd, .nout = (size_t)N * C, .N = N, .C = C};
    c.x = randn((size_t)N * C, 1.0);
    c.w = randn((size_t)C, 1.0);
    c.R = randn((size_t)N * C, 1.0);
    float *out = malloc(sizeof(float) * N * C), *rstd = malloc(sizeof(float) * N);
    float *dx = calloc((size_t)N * C, sizeof(float)), *dw = calloc((size_t)C, sizeof(float));
    dk_rmsnorm_forward(out, rstd, c.x, c.w, N, C, 1e-5f);
    dk_rmsnorm_backward(dx, dw, c.R, c.x, c.w, rstd, N, C);
    check("rmsnorm dinp", &c, c.x, (size_t)N * C, dx);
    check("rmsnorm dweight", &c, c.w, (size_t)C, dw);
    free(out), free(rstd), free(dx), free(dw), free(c.x), free(c.w), free((void *)c.R);
}

static void matmul_fwd(layer_case *c, float *out) { dk_matmul_forward(out, c->x, c->w, c->N, c->C, c->OC); }

static void test_matmul(void **state)
{
    (void)state;
    int N = 6, IC = 10, OC = 7;
    layer_case c = {.forward = matmul_fwd, .nout = (size_t)N * OC, .N = N, .C = IC, .OC = OC};
    c.x = randn((size_t)N * IC, 1.0);
    c.w = randn((size_t)OC * IC, 1.0);
    c.R = randn((size_t)N * OC, 1.0);
    float *dx = randn((size_t)N * IC, 1.0), *dw = calloc((size_t)OC * IC, sizeof(float));
    float *dx_acc = malloc(sizeof(float) * N * IC);
    memcpy(dx_acc, dx, sizeof(float) * N * IC);
    dk_matmul_backward(dx, dw, c.R, c.x, c.w, N, IC, OC, false);
    check("matmul dinp", &c, c.x, (size_t)N * IC, dx);
    check("matmul dweight", &c, c.w, (size_t)OC * IC, dw);
    /* accumulate adds onto what was there */
    float *dw2 = calloc((size_t)OC * IC, sizeof(float)), *before = malloc(sizeof(float) * N * IC);
    memcpy(before, dx_acc, sizeof(float) * N * IC);
    dk_matmul_backward(dx_acc, dw2, c.R, c.x, c.w, N, IC, OC, true);
    for (int i = 0; i < N * IC; i++) assert_float_equal(dx_acc[i], before[i] + dx[i], 1e-4);
    free(dx), free(dw), free(dx_acc), free(dw2), free(before), free(c.x), free(c.w), free((void *)c.R);
}

static void swiglu_fwd(layer_case *c, float *out) { dk_swiglu_forward(out, c->x, c->w, (long)c->N); }

static void test_swiglu(void **state)
{
    (void)state;
    int n = 40;
    layer_case c = {.forward = swiglu_fwd, .nout = (size_t)n, .N = n};
    c.x = randn((size_t)n, 2.0);
    c.w = randn((size_t)n, 1.0);
    c.R = randn((size_t)n, 1.0);
    float *dg = malloc(sizeof(float) * n), *du = malloc(sizeof(float) * n);
    dk_swiglu_backward(dg, du, c.R, c.x, c.w, n);
    check("swiglu dgate", &c, c.x, (size_t)n, dg);
    check("swiglu dup", &c, c.w, (size_t)n, du);
    free(dg), free(du), free(c.x), free(c.w), free((void *)c.R);
}

static void rope_fwd(layer_case *c, float *out)
{
    memcpy(out, c->x, sizeof(float) * c->nout);
    dk_rope_forward(out, c->cos_t, c->sin_t, c->B, c->T, c->NH, c->HD, 0, c->ids);
}

static void test_rope(void **state)
{
    (void)state;
    int B = 2, T = 5, H = 3, HD = 8;
    size_t n = (size_t)B * T * H * HD;
    layer_case c = {.forward = rope_fwd, .nout = n, .B = B, .T = T, .NH = H, .HD = HD};
    c.cos_t = malloc(sizeof(float) * T * HD / 2);
    c.sin_t = malloc(sizeof(float) * T * HD / 2);
    dk_rope_tables(c.cos_t, c.sin_t, T, HD, 10000.0);
    c.x = randn(n, 1.0);
    c.R = randn(n, 1.0);
    float *dx = malloc(sizeof(float) * n);
    memcpy(dx, c.R, sizeof(float) * n);
    dk_rope_backward(dx, c.cos_t, c.sin_t, B, T, H, HD, NULL);
    check("rope dx", &c, c.x, n, dx);
    /* Position 0 is the identity; a rotation keeps each pair's length. */
    float *y = malloc(sizeof(float) * n);
    rope_fwd(&c, y);
    for (int i = 0; i < H * HD; i++) assert_float_equal(y[i], c.x[i], 1e-6);
    free(dx), free(y), free(c.x), free((void *)c.R), free(c.cos_t), free(c.sin_t);
}

static void attention_fwd(layer_case *c, float *out)
{
    float *att = malloc(sizeof(float) * (size_t)c->B * c->NH * c->T * c->T);
    dk_attention_forward(out, att, c->x, c->w, c->w2, c->B, c->T, c->T, 0, NULL, NULL, c->NH, c->NKV, c->HD, c->ids);
    free(att);
}

static void test_attention_gqa(void **state)
{
    (void)state;
    int B = 2, T = 6, NH = 4, NKV = 2, HD = 4;
    size_t nq = (size_t)B * T * NH * HD, nkv = (size_t)B * T * NKV * HD;
    layer_case c = {.forward = attention_fwd, .nout = nq, .B = B, .T = T, .NH = NH, .NKV = NKV, .HD = HD};
    c.x = randn(nq, 1.0);
    c.w = randn(nkv, 1.0);
    c.w2 = randn(nkv, 1.0);
    c.R = randn(nq, 1.0);
    float *out = malloc(sizeof(float) * nq), *att = malloc(sizeof(float) * B * NH * T * T);
    float *dq = malloc(sizeof(float) * nq), *dk = malloc(sizeof(float) * nkv), *dv = malloc(sizeof(float) * nkv);
    float *scratch = malloc(sizeof(float) * 64 * T * T);
    dk_attention_forward(out, att, c.x, c.w, c.w2, B, T, T, 0, NULL, NULL, NH, NKV, HD, NULL);
    dk_attention_backward(dq, dk, dv, scratch, c.R, att, c.x, c.w, c.w2, B, T, NH, NKV, HD);
    check("attention dq", &c, c.x, nq, dq);
    check("attention dk", &c, c.w, nkv, dk);
    check("attention dv", &c, c.w2, nkv, dv);
    /* Causal: the first query sees only the first key, so its output is v[0]. */
    for (int h = 0; h < NH; h++)
        for (int d = 0; d < HD; d++) assert_float_equal(out[h * HD + d], c.w2[(h / (NH / NKV)) * HD + d], 1e-6);
    free(out), free(att), free(dq), free(dk), free(dv), free(scratch), free(c.x), free(c.w), free(c.w2), free((void *)c.R);
}

static void crossentropy_fwd(layer_case *c, float *out)
{
    float *lse = malloc(sizeof(float) * c->N);
    int counted = dk_crossentropy_forward(out, lse, c->x, c->ids, c->N, c->C);
    assert_int_equal(counted, c->N - 1);
    free(lse);
}

static void test_crossentropy(void **state)
{
    (void)state;
    int N = 4, V = 9;
    int ids[4] = {3, -1, 0, 8};
    layer_case c = {.forward = crossentropy_fwd, .nout = (size_t)N, .N = N, .C = V, .ids = ids};
    c.x = randn((size_t)N * V, 2.0);
    c.R = randn((size_t)N, 1.0);
    float *losses = malloc(sizeof(float) * N), *lse = malloc(sizeof(float) * N), *g = malloc(sizeof(float) * N * V);
    dk_crossentropy_forward(losses, lse, c.x, ids, N, V);
    assert_float_equal(losses[1], 0.0f, 0);
    /* Per-row weights R[i] become the dloss of each row; do it row by row. */
    memcpy(g, c.x, sizeof(float) * N * V);
    for (int i = 0; i < N; i++) dk_crossentropy_backward(g + (size_t)i * V, lse + i, ids + i, 1, V, c.R[i]);
    check("crossentropy dlogits", &c, c.x, (size_t)N * V, g);
    free(losses), free(lse), free(g), free(c.x), free((void *)c.R);
}

static void test_embedding(void **state)
{
    (void)state;
    int N = 5, C = 70, V = 4; /* C > 64 crosses a column chunk */
    int ids[5] = {1, 3, 1, 0, 1};
    float *w = randn((size_t)V * C, 1.0), *out = malloc(sizeof(float) * N * C), *R = randn((size_t)N * C, 1.0);
    float *dw = calloc((size_t)V * C, sizeof(float));
    dk_embedding_forward(out, ids, w, N, C);
    for (int i = 0; i < N; i++) assert_memory_equal(out + i * C, w + ids[i] * C, sizeof(float) * C);
    dk_embedding_backward(dw, R, ids, N, C);
    for (int c = 0; c < C; c++) {
        assert_float_equal(dw[1 * C + c], R[0 * C + c] + R[2 * C + c] + R[4 * C + c], 1e-5);
        assert_float_equal(dw[2 * C + c], 0.0f, 0);
    }
    free(w), free(out), free(R), free(dw);
}

/* Two sequences packed in one row: the second (from t = 3) sees only itself,
 * and the gradients still match finite differences. */
static void test_attention_packed(void **state)
{
    (void)state;
    int B = 1, T = 7, NH = 2, NKV = 1, HD = 4, seg[7] = {0, 0, 0, 3, 3, 3, 3};
    size_t nq = (size_t)B * T * NH * HD, nkv = (size_t)B * T * NKV * HD;
    layer_case c = {.forward = attention_fwd, .nout = nq, .B = B, .T = T, .NH = NH, .NKV = NKV, .HD = HD, .ids = seg};
    c.x = randn(nq, 1.0);
    c.w = randn(nkv, 1.0);
    c.w2 = randn(nkv, 1.0);
    c.R = randn(nq, 1.0);
    float *out = malloc(sizeof(float) * nq), *att = malloc(sizeof(float) * NH * T * T);
    float *dq = malloc(sizeof(float) * nq), *dk = malloc(sizeof(float) * nkv), *dv = malloc(sizeof(float) * nkv);
    float *scratch = malloc(sizeof(float) * 64 * T * T);
    dk_attention_forward(out, att, c.x, c.w, c.w2, B, T, T, 0, NULL, NULL, NH, NKV, HD, seg);
    for (int h = 0; h < NH; h++)
        for (int t = 3; t < T; t++)
            for (int j = 0; j < 3; j++) assert_float_equal(att[((size_t)h * T + t) * T + j], 0.0f, 0);
    /* the first token of the second sequence attends only to itself: its output is its own v */
    for (int h = 0; h < NH; h++)
        for (int d = 0; d < HD; d++) assert_float_equal(out[(3 * NH + h) * HD + d], c.w2[3 * HD + d], 1e-6);
    dk_attention_backward(dq, dk, dv, scratch, c.R, att, c.x, c.w, c.w2, B, T, NH, NKV, HD);
    check("packed attention dq", &c, c.x, nq, dq);
    check("packed attention dk", &c, c.w, nkv, dk);
    check("packed attention dv", &c, c.w2, nkv, dv);
    free(out), free(att), free(dq), free(dk), free(dv), free(scratch), free(c.x), free(c.w), free(c.w2), free((void *)c.R);
}

int main(void)
{
    dk_rng_seed(&rng, 42);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm),   cmocka_unit_test(test_matmul),        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_rope),      cmocka_unit_test(test_attention_gqa), cmocka_unit_test(test_crossentropy),
        cmocka_unit_test(test_embedding), cmocka_unit_test(test_attention_packed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
