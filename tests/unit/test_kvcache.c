/* Decoding with the KV cache must give the logits of a full recomputation,
 * whether the prompt is prefilled in one pass or fed a token at a time. */
#include <stdlib.h>
#include <string.h>

#include "dokja/infer.h"
#include "dokja/layers.h"
#include "testutil.h"

static void make_model(dk_model *m, bool tied, int nkv)
{
    dk_model_config c;
    dk_model_config_default(&c);
    c.hidden_size = 32, c.intermediate_size = 40, c.num_hidden_layers = 2, c.num_attention_heads = 4;
    c.num_key_value_heads = nkv, c.vocab_size = 50, c.max_position_embeddings = 24, c.tie_word_embeddings = tied;
    assert_int_equal(dk_model_config_validate(&c, "test"), 0);
    assert_int_equal(dk_model_create(m, &c), 0);
    tu_random_weights(m, 7, 0.2);
}

static void check_cache(bool tied, int nkv, int prefill)
{
    dk_model m;
    make_model(&m, tied, nkv);
    int T = 12, V = m.cfg.vocab_size;
    int tokens[12] = {3, 17, 5, 5, 42, 0, 9, 31, 2, 2, 48, 11};
    /* full recomputation: logits of every position */
    assert_int_equal(dk_model_alloc_acts(&m, 1, T, T, true), 0);
    memcpy(m.acts.tokens, tokens, sizeof tokens);
    for (int i = 0; i < T; i++) m.acts.targets[i] = -1;
    dk_model_forward(&m, 1, T);
    float *full = malloc(sizeof(float) * T * V);
    memcpy(full, m.acts.logits, sizeof(float) * T * V);

    int slot = 0, zero = 0;
    assert_int_equal(dk_infer_begin(&m, 1, prefill, T), 0);
    float *logits = dk_infer_batch(&m, 1, prefill, tokens, &slot, &zero);
    tu_assert_close("prefill logits", logits, full + (size_t)(prefill - 1) * V, (size_t)V, 1e-5);
    for (int t = prefill; t < T; t++) {
        logits = dk_infer_batch(&m, 1, 1, tokens + t, &slot, &t);
        tu_assert_close("cached decode logits", logits, full + (size_t)t * V, (size_t)V, 1e-5);
    }
    free(full);
    dk_model_free(&m);
}

static void test_gqa_prefill(void **s) { (void)s, check_cache(false, 2, 5); }
static void test_tied_one_by_one(void **s) { (void)s, check_cache(true, 4, 1); }
static void test_mqa(void **s) { (void)s, check_cache(false, 1, 3); }

static int stop_after_two(int token, void *user)
{
    (void)token;
    return ++*(int *)user == 2;
}

static void test_generate_limits(void **s)
{
    (void)s;
    dk_model m;
    make_model(&m, true, 2);
    dk_sampler sm;
    dk_sampler_config sc = {.temperature = 0};
    assert_int_equal(dk_sampler_init(&sm, &sc, m.cfg.vocab_size), 0);
    int prompt[30] = {1, 2, 3};
    /* the context (24) bounds generation rather than overflowing the cache */
    assert_int_equal(dk_generate(&m, prompt, 3, 100, -1, &sm, NULL, NULL), 21);
    assert_int_equal(dk_generate(&m, prompt, 24, 4, -1, &sm, NULL, NULL), -1);
    tu_assert_error_has("context");
    assert_int_equal(dk_generate(&m, prompt, 0, 4, -1, &sm, NULL, NULL), -1);
    prompt[1] = 50;
    assert_int_equal(dk_generate(&m, prompt, 3, 4, -1, &sm, NULL, NULL), -1);
    tu_assert_error_has("vocabulary");
    prompt[1] = 2;
    int calls = 0;
    assert_int_equal(dk_generate(&m, prompt, 3, 10, -1, &sm, stop_after_two, &calls), 2);
    dk_sampler_free(&sm);
    dk_model_free(&m);
}

/* Two sequences packed in one training row (positions restarting, segments
 * marked) give the second the logits it has alone. */
static void test_packed_rows(void **s)
{
    (void)s;
    dk_model m;
    make_model(&m, false, 2);
    int V = m.cfg.vocab_size, T = 10, a[4] = {5, 9, 1, 33}, b[6] = {7, 7, 40, 2, 18, 3};
    int pos[10], seg[10];
    assert_int_equal(dk_model_alloc_acts(&m, 1, 6, 6, true), 0);
    memcpy(m.acts.tokens, b, sizeof b);
    for (int i = 0; i < 6; i++) m.acts.targets[i] = -1;
    dk_model_forward(&m, 1, 6);
    float *alone = malloc(sizeof(float) * 6 * V);
    memcpy(alone, m.acts.logits, sizeof(float) * 6 * V);

    assert_int_equal(dk_model_alloc_acts(&m, 1, T, T, true), 0);
    memcpy(m.acts.tokens, a, sizeof a);
    memcpy(m.acts.tokens + 4, b, sizeof b);
    for (int i = 0; i < T; i++) {
        m.acts.targets[i] = -1;
        pos[i] = i < 4 ? i : i - 4;
        seg[i] = i < 4 ? 0 : 4;
    }
    m.acts.pos = pos;
    m.acts.seg = seg;
    dk_model_forward(&m, 1, T);
    tu_assert_close("packed logits", m.acts.logits + (size_t)4 * V, alone, (size_t)6 * V, 1e-5);
    m.acts.pos = m.acts.seg = NULL;
    free(alone);
    dk_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gqa_prefill), cmocka_unit_test(test_tied_one_by_one),
                                       cmocka_unit_test(test_mqa), cmocka_unit_test(test_generate_limits),
                                       cmocka_unit_test(test_packed_rows)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
