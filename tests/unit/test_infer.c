/* Batched decoding gives each sequence the bits it gets alone (fp32 and q8);
 * int8 weights: the quantization error bound, the vector kernels against the
 * portable one, the file round trip and hostile files; streamed text: stop
 * strings cut across tokens, whole UTF-8 characters only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/bytes.h"
#include "dokja/infer.h"
#include "dokja/io.h"
#include "dokja/quant.h"
#include "dokja/safetensors.h"
#include "testutil.h"

static void make_model(dk_model *m, int ctx)
{
    dk_model_config c;
    dk_model_config_default(&c);
    c.hidden_size = 64, c.intermediate_size = 96, c.num_hidden_layers = 2, c.num_attention_heads = 4;
    c.num_key_value_heads = 2, c.vocab_size = 70, c.max_position_embeddings = ctx, c.tie_word_embeddings = false;
    assert_int_equal(dk_model_config_validate(&c, "test"), 0);
    assert_int_equal(dk_model_create(m, &c), 0);
    tu_random_weights(m, 11, 0.2);
}

enum { NSEQ = 3, STEPS = 6 };
static const int prompt_len[NSEQ] = {5, 1, 9};
static int prompt_tok(int s, int i) { return (7 * s + 13 * i + 3) % 70; }
static int step_tok(int s, int t) { return (5 * s + 11 * t + 1) % 70; }

/* Logits of each sequence after its prompt and after each of STEPS fed
 * tokens: alone (one slot) or all together (NSEQ slots, one batch per step). */
static void decode(dk_model *m, bool together, float *out /* (NSEQ, STEPS + 1, V) */)
{
    int V = m->cfg.vocab_size;
    for (int pass = 0; pass < (together ? 1 : NSEQ); pass++) {
        int first = together ? 0 : pass, n = together ? NSEQ : 1;
        assert_int_equal(dk_infer_begin(m, n, 16, 32), 0);
        for (int s = first; s < first + n; s++) {
            int ids[16], slot = s - first, zero = 0;
            for (int i = 0; i < prompt_len[s]; i++) ids[i] = prompt_tok(s, i);
            memcpy(out + (size_t)s * (STEPS + 1) * V, dk_infer_batch(m, 1, prompt_len[s], ids, &slot, &zero), sizeof(float) * V);
        }
        for (int t = 0; t < STEPS; t++) {
            int tok[NSEQ], slot[NSEQ], start[NSEQ];
            for (int b = 0; b < n; b++) tok[b] = step_tok(first + b, t), slot[b] = b, start[b] = prompt_len[first + b] + t;
            float *l = dk_infer_batch(m, n, 1, tok, slot, start);
            for (int b = 0; b < n; b++)
                memcpy(out + ((size_t)(first + b) * (STEPS + 1) + t + 1) * V, l + (size_t)b * V, sizeof(float) * V);
        }
    }
}

static void check_batched(bool q8)
{
    dk_model m;
    make_model(&m, 32);
    if (q8) assert_int_equal(dk_model_quantize(&m), 0);
    size_t n = (size_t)NSEQ * (STEPS + 1) * m.cfg.vocab_size;
    float *alone = malloc(sizeof(float) * n), *batch = malloc(sizeof(float) * n);
    decode(&m, false, alone);
    decode(&m, true, batch);
    assert_memory_equal(alone, batch, sizeof(float) * n);
    /* and the cache holds what a full recomputation (training forward) sees: sequence 2's last step */
    int V = m.cfg.vocab_size, T = prompt_len[2] + STEPS;
    assert_int_equal(dk_model_alloc_acts(&m, 1, T, T, true), 0);
    for (int i = 0; i < T; i++) {
        m.acts.tokens[i] = i < prompt_len[2] ? prompt_tok(2, i) : step_tok(2, i - prompt_len[2]);
        m.acts.targets[i] = -1;
    }
    dk_model_forward(&m, 1, T);
    /* int8 activations cost some precision; fp32 differs by rounding only */
    tu_assert_close("batched decode vs full forward", batch + ((size_t)2 * (STEPS + 1) + STEPS) * V,
                    m.acts.logits + (size_t)(T - 1) * V, (size_t)V, q8 ? 0.05 : 1e-5);
    free(alone);
    free(batch);
    dk_model_free(&m);
}

static void test_batched_fp32(void **s) { (void)s, check_batched(false); }
static void test_batched_q8(void **s) { (void)s, check_batched(true); }

/* dk_gen: several sequences stepped together generate what each does alone,
 * with every sampling setting on. */
typedef struct {
    int ids[12];
    int n;
} record;

static int record_token(int token, void *user)
{
    record *r = user;
    r->ids[r->n++] = token;
    return 0;
}

static void test_gen_together(void **st)
{
    (void)st;
    dk_model m;
    make_model(&m, 40);
    dk_sampler_config sc = {.temperature = 0.9, .top_k = 20, .top_p = 0.95, .min_p = 0.02, .repetition_penalty = 1.3, .seed = 5};
    record rec[2][NSEQ] = {0};
    dk_sampler smp[NSEQ];
    dk_gen g[NSEQ];
    int ids[NSEQ][16];
    for (int s = 0; s < NSEQ; s++)
        for (int i = 0; i < prompt_len[s]; i++) ids[s][i] = prompt_tok(s, i);
    for (int round = 0; round < 2; round++) {
        if (round) assert_int_equal(dk_infer_begin(&m, NSEQ, 16, 40), 0);
        for (int s = 0; s < NSEQ; s++) {
            assert_int_equal(dk_sampler_init(&smp[s], &sc, m.cfg.vocab_size), 0);
            g[s] = (dk_gen){.sampler = &smp[s], .max_new = 12, .fn = record_token, .user = &rec[round][s]};
            if (round) assert_int_equal(dk_gen_start(&m, &g[s], ids[s], prompt_len[s], s), 0);
            else assert_int_equal(dk_gen_run(&m, &g[s], ids[s], prompt_len[s]), 12);
        }
        dk_gen *ptr[NSEQ] = {&g[0], &g[1], &g[2]};
        while (round && !(g[0].done && g[1].done && g[2].done)) dk_gen_step(&m, ptr, NSEQ);
        for (int s = 0; s < NSEQ; s++) {
            assert_int_equal(g[s].finish, DK_FINISH_LENGTH);
            dk_sampler_free(&smp[s]);
        }
    }
    for (int s = 0; s < NSEQ; s++) {
        assert_int_equal(rec[1][s].n, 12);
        assert_memory_equal(rec[0][s].ids, rec[1][s].ids, sizeof rec[0][s].ids);
    }
    dk_model_free(&m);
}

/* A prompt longer than DK_PREFILL_CHUNK is prefilled in pieces that continue
 * one another through the cache: the next token's logits match a full forward. */
static void test_chunked_prefill(void **st)
{
    (void)st;
    dk_model m;
    enum { T = DK_PREFILL_CHUNK + 77 };
    make_model(&m, T + 1);
    int *ids = malloc(sizeof(int) * T), V = m.cfg.vocab_size;
    for (int i = 0; i < T; i++) ids[i] = (i * 29 + 5) % V;
    dk_sampler smp;
    dk_sampler_config sc = {.temperature = 0, .top_p = 1};
    assert_int_equal(dk_sampler_init(&smp, &sc, V), 0);
    dk_gen g = {.sampler = &smp, .max_new = 1};
    assert_int_equal(dk_infer_begin(&m, 1, DK_PREFILL_CHUNK, T + 1), 0);
    assert_int_equal(dk_gen_start(&m, &g, ids, T, 0), 0);
    float *chunked = malloc(sizeof(float) * V);
    int slot = 0, pos = T - 1;
    /* the last prompt token again, at its own position: the logits the prefill sampled from */
    memcpy(chunked, dk_infer_batch(&m, 1, 1, ids + T - 1, &slot, &pos), sizeof(float) * V);
    assert_int_equal(dk_model_alloc_acts(&m, 1, T, T, true), 0);
    memcpy(m.acts.tokens, ids, sizeof(int) * T);
    for (int i = 0; i < T; i++) m.acts.targets[i] = -1;
    dk_model_forward(&m, 1, T);
    tu_assert_close("chunked prefill", chunked, m.acts.logits + (size_t)(T - 1) * V, (size_t)V, 1e-4);
    free(chunked);
    free(ids);
    dk_sampler_free(&smp);
    dk_model_free(&m);
}

static void test_q8_quantize(void **st)
{
    (void)st;
    enum { R = 5, Cn = 96 };
    float w[R * Cn], back[R * Cn];
    dk_rng r;
    dk_rng_seed(&r, 3);
    for (int i = 0; i < R * Cn; i++) w[i] = (float)dk_rng_normal(&r) * (i < Cn ? 0.0f : 1.0f); /* row 0: zeros */
    w[Cn + 7] = 40.0f;                                                                       /* an outlier */
    dk_q8_matrix q;
    assert_int_equal(dk_q8_quantize(&q, w, R, Cn), 0);
    dk_q8_dequantize(back, &q);
    for (int i = 0; i < R * Cn; i++) {
        float s = q.scale[i / DK_Q8_GROUP];
        assert_true(fabsf(back[i] - w[i]) <= s * 0.5f + 1e-7f);
        assert_true(q.q[i] >= -127 && q.q[i] <= 127);
    }
    for (int i = 0; i < Cn; i++) assert_true(back[i] == 0.0f);
    /* the vector kernel sums the same int32s as the scalar one */
    for (int row = 1; row < R; row++) {
        float a = dk_q8_dot(q.q + row * Cn, q.scale + row * 3, q.q + Cn, q.scale + 3, Cn);
        float b = dk_q8_dot_scalar(q.q + row * Cn, q.scale + row * 3, q.q + Cn, q.scale + 3, Cn);
        assert_true(fabsf(a - b) <= 1e-5f * fmaxf(1.0f, fabsf(b)));
    }
    dk_q8_free(&q);
    assert_int_equal(dk_q8_quantize(&q, w, 2, 40), -1);
    tu_assert_error_has("multiple of 32");
}

/* A q8 model written and read back decodes the same bits; damaged files are refused. */
static void test_q8_files(void **st)
{
    (void)st;
    char *dir = tu_tempdir();
    char *path = dk_path_join(dir, "q8.safetensors");
    dk_model m, back;
    make_model(&m, 32);
    assert_int_equal(dk_model_quantize(&m), 0);
    assert_int_equal(dk_model_save_weights(&m, path), 0);
    assert_int_equal(dk_model_create(&back, &m.cfg), 0);
    assert_int_equal(dk_model_load_weights(&back, path), 0);
    assert_non_null(back.q8);
    assert_memory_equal(m.param_block, back.param_block, m.nparams * sizeof(float));
    for (int i = 0; i < m.ntensors; i++)
        if (m.q8[i].q) assert_memory_equal(m.q8[i].q, back.q8[i].q, (size_t)(m.q8[i].rows * m.q8[i].cols));
    assert_true(dk_model_decode_bytes(&back) < dk_model_decode_bytes(&m) + 1);
    dk_model_free(&back);

    /* a scale that is not finite, and a scale of the wrong shape */
    const dk_q8_matrix *wq = dk_model_q8_of(&m, m.params.layers[0].wq);
    wq->scale[3] = NAN;
    assert_int_equal(dk_model_save_weights(&m, path), 0);
    assert_int_equal(dk_model_create(&back, &m.cfg), 0);
    assert_int_equal(dk_model_load_weights(&back, path), -1);
    tu_assert_error_has("not a finite");
    dk_model_free(&back);
    dk_model_free(&m);

    dk_model f;
    make_model(&f, 32);
    dk_tensor_out t[2] = {{.name = "model.embed_tokens.weight", .dtype = DK_I8, .ndim = 2, .shape = {70, 64}, .data = f.param_block},
                          {.name = "model.embed_tokens.weight_scale", .dtype = DK_F32, .ndim = 2, .shape = {70, 3}, .data = f.param_block}};
    assert_int_equal(dk_safetensors_write(path, t, 2), 0);
    assert_int_equal(dk_model_load_weights(&f, path), -1);
    tu_assert_error_has("weight_scale");
    dk_model_free(&f);
    free(path);
    tu_rmdir(dir);
}

/* Text streamed token by token: a stop string split across tokens is never
 * shown, and a character split across tokens is shown whole. */
static void test_textstream(void **st)
{
    (void)st;
    char *json = dk_bytes_tokenizer_json();
    dk_tokenizer *tok;
    assert_int_equal(dk_tokenizer_load_text(&tok, json, strlen(json), "bytes"), 0);
    free(json);
    char *stop[] = {"END", "\n\n"};
    dk_textstream ts;
    dk_textstream_init(&ts, tok, stop, 2);
    const char *text = "ab 한E EN ENDxyz", *d;
    char shown[64] = "";
    for (const char *p = text; *p; p++) {
        assert_int_equal(dk_textstream_push(&ts, (unsigned char)*p, false, &d), 0);
        /* never a partial character, never the start of a stop string at the end */
        strcat(shown, d);
        if (ts.stopped) break;
    }
    assert_true(ts.stopped);
    assert_string_equal(shown, "ab 한E EN ");
    dk_textstream_free(&ts);

    /* flush: a cut character becomes U+FFFD, a dangling stop prefix is shown */
    dk_textstream_init(&ts, tok, stop, 2);
    assert_int_equal(dk_textstream_push(&ts, 'E', false, &d), 0);
    assert_string_equal(d, "");
    assert_int_equal(dk_textstream_push(&ts, 0xed, false, &d), 0);
    assert_string_equal(d, "E");
    assert_int_equal(dk_textstream_push(&ts, DK_BYTES_BOS, true, &d), 0);
    assert_string_equal(d, "\xef\xbf\xbd");
    dk_textstream_free(&ts);
    dk_tokenizer_free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_batched_fp32), cmocka_unit_test(test_batched_q8),
                                       cmocka_unit_test(test_gen_together), cmocka_unit_test(test_chunked_prefill),
                                       cmocka_unit_test(test_q8_quantize),
                                       cmocka_unit_test(test_q8_files),     cmocka_unit_test(test_textstream)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
