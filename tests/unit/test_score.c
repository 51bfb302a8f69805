/* Log-likelihood scoring, with and without prefix reuse and at any batch
 * size, equals the log-softmax of a full training forward pass of each
 * sequence alone (the reference, computed in double here). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/score.h"
#include "testutil.h"

#define V 50
#define CTX 24

static void make_model(dk_model *m)
{
    dk_model_config c;
    dk_model_config_default(&c);
    c.hidden_size = 32, c.intermediate_size = 40, c.num_hidden_layers = 2, c.num_attention_heads = 4;
    c.num_key_value_heads = 2, c.vocab_size = V, c.max_position_embeddings = CTX, c.tie_word_embeddings = false;
    assert_int_equal(dk_model_config_validate(&c, "test"), 0);
    assert_int_equal(dk_model_create(m, &c), 0);
    tu_random_weights(m, 11, 0.3);
}

/* sum of ln p(tokens[t]) for t >= from, and whether each was the argmax */
static double reference(dk_model *m, const int *tokens, int n, int from, bool *greedy)
{
    assert_int_equal(dk_model_alloc_acts(m, 1, n, n, true), 0);
    memcpy(m->acts.tokens, tokens, sizeof *tokens * (size_t)n);
    for (int i = 0; i < n; i++) m->acts.targets[i] = -1;
    dk_model_forward(m, 1, n);
    double lp = 0;
    *greedy = true;
    for (int t = from; t < n; t++) {
        const float *row = m->acts.logits + (size_t)(t - 1) * V;
        double mx = row[0], s = 0;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        mx = row[best];
        for (int v = 0; v < V; v++) s += exp((double)row[v] - mx);
        lp += row[tokens[t]] - mx - log(s);
        *greedy = *greedy && best == tokens[t];
    }
    return lp;
}

/* Questions: a context and choices; some continuations one token long, some
 * sharing their first tokens, one group of a single sequence (as bpb windows
 * are), one as long as the context allows. */
static const int ctx_a[] = {49, 3, 17, 5, 5, 42};
static const int ctx_b[] = {49, 8};
static const int ctx_c[] = {49, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const struct {
    const int *ctx;
    int nctx;
    int nch;
    int cont[5][8];
    int ncont[5];
} questions[] = {
    {ctx_a, 6, 4, {{7}, {9}, {11}, {13}}, {1, 1, 1, 1}},                   /* one token each: one row */
    {ctx_a, 6, 3, {{7, 1, 2}, {7, 1, 3, 4}, {7, 9}}, {3, 4, 2}},             /* shared first tokens */
    {ctx_b, 2, 2, {{30, 31, 32, 33, 34}, {35}}, {5, 1}},
    {ctx_b, 2, 1, {{20, 21, 22, 23, 24, 25, 26}}, {7}},                      /* a single sequence */
    {ctx_c, 17, 2, {{40, 41, 42, 43, 44, 45, 46}, {40, 41, 42}}, {7, 3}},    /* 24 tokens: the whole context */
    {ctx_b, 2, 2, {{5, 6}, {5, 6}}, {2, 2}},                                 /* identical choices */
    {ctx_a, 6, 5, {{1, 2}, {3, 4, 5}, {6}, {7, 8}, {9, 10, 11, 12}}, {2, 3, 1, 2, 4}}, /* more choices than slots */
};
#define NQ (int)(sizeof questions / sizeof *questions)

static void check(bool reuse, int rows, int tokens)
{
    dk_model m;
    make_model(&m);
    dk_score_group g[NQ];
    double want[NQ][5];
    bool want_greedy[NQ][5];
    for (int q = 0; q < NQ; q++) {
        g[q].n = questions[q].nch;
        g[q].seqs = calloc((size_t)g[q].n, sizeof *g[q].seqs);
        for (int j = 0; j < g[q].n; j++) {
            int n = questions[q].nctx + questions[q].ncont[j];
            int *t = malloc(sizeof *t * (size_t)n);
            memcpy(t, questions[q].ctx, sizeof *t * (size_t)questions[q].nctx);
            memcpy(t + questions[q].nctx, questions[q].cont[j], sizeof *t * (size_t)questions[q].ncont[j]);
            g[q].seqs[j] = (dk_score_seq){t, n, questions[q].nctx};
            want[q][j] = reference(&m, t, n, questions[q].nctx, &want_greedy[q][j]);
        }
    }
    dk_scorer s;
    assert_int_equal(dk_scorer_init(&s, &m, rows, tokens, 0, reuse), 0);
    assert_int_equal(dk_score_groups(&s, g, NQ, NULL, NULL), 0);
    for (int q = 0; q < NQ; q++)
        for (int j = 0; j < g[q].n; j++) {
            if (fabs(g[q].seqs[j].logprob - want[q][j]) > 1e-4 * (1 + fabs(want[q][j])))
                fail_msg("question %d choice %d: %.6f, reference %.6f (reuse %d, rows %d)", q, j, g[q].seqs[j].logprob,
                         want[q][j], reuse, rows);
            assert_int_equal(g[q].seqs[j].greedy, want_greedy[q][j]);
        }
    /* reuse runs fewer tokens through the layers: 6 context tokens once for 4 choices, and so on */
    int64_t all = 0;
    for (int q = 0; q < NQ; q++)
        for (int j = 0; j < g[q].n; j++) all += g[q].seqs[j].n;
    if (reuse) assert_true(s.tokens < all * 2 / 3);
    else assert_int_equal(s.tokens, all);
    assert_true(s.flops > 0);
    dk_scorer_free(&s);
    for (int q = 0; q < NQ; q++) {
        for (int j = 0; j < g[q].n; j++) free((int *)g[q].seqs[j].tokens);
        free(g[q].seqs);
    }
    dk_model_free(&m);
}

static void test_reuse_batched(void **st) { (void)st, check(true, 4, 64); }
static void test_reuse_one_row(void **st) { (void)st, check(true, 1, 1); }
static void test_reuse_two_rows(void **st) { (void)st, check(true, 2, 30); }
static void test_full_batched(void **st) { (void)st, check(false, 8, 100); }
static void test_full_one_row(void **st) { (void)st, check(false, 1, 24); }

static void test_bad_input(void **st)
{
    (void)st;
    dk_model m;
    make_model(&m);
    dk_scorer s;
    assert_int_equal(dk_scorer_init(&s, &m, 2, 0, 0, true), 0);
    int t[CTX + 1] = {1, 2, 3};
    dk_score_seq q = {t, 3, 1};
    dk_score_group g = {&q, 1};
    t[1] = V;
    assert_int_equal(dk_score_groups(&s, &g, 1, NULL, NULL), -1);
    tu_assert_error_has("outside the vocabulary");
    t[1] = 2;
    q.n = CTX + 1;
    assert_int_equal(dk_score_groups(&s, &g, 1, NULL, NULL), -1);
    tu_assert_error_has("context 24");
    q.n = 3, q.from = 0;
    assert_int_equal(dk_score_groups(&s, &g, 1, NULL, NULL), -1);
    /* nothing to score is not an error: the sum is 0 */
    q.from = 3;
    assert_int_equal(dk_score_groups(&s, &g, 1, NULL, NULL), 0);
    assert_true(q.logprob == 0.0);
    assert_int_equal(dk_score_groups(&s, &g, 0, NULL, NULL), 0);
    dk_scorer_free(&s);
    dk_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_batched), cmocka_unit_test(test_reuse_one_row), cmocka_unit_test(test_reuse_two_rows),
        cmocka_unit_test(test_full_batched),
        cmocka_unit_test(test_full_one_row), cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
