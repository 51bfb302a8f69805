/* Sequences through the model: a prompt prefilled in one pass (GEMMs over
 * its tokens), then one token at a time against the KV cache, several
 * sequences at different positions in one batch. */
#include <string.h>

#include "dokja/error.h"
#include "dokja/infer.h"

int dk_infer_begin(dk_model *m, int slots, int max_tokens, int context)
{
    if (context > m->cfg.max_position_embeddings)
        return dk_fail("a context of %d tokens exceeds the model's max_position_embeddings (%d)", context,
                       m->cfg.max_position_embeddings);
    if (slots < 1 || max_tokens < slots || context < 1) return dk_fail("inference needs 1 <= slots <= tokens per call");
    /* slots rows of enough tokens that one row may hold max_tokens */
    return dk_model_alloc_acts(m, slots, (max_tokens + slots - 1) / slots, context, false);
}

float *dk_infer_batch(dk_model *m, int B, int T, const int *tokens, const int *slot, const int *start)
{
    dk_acts *a = &m->acts;
    /* the rows' places hold for this call only */
    a->pos = a->ints;
    a->slot = a->pos + (size_t)a->B * a->T;
    a->start = a->slot + a->B;
    memmove(a->tokens, tokens, sizeof *tokens * (size_t)B * T);
    memmove(a->slot, slot, sizeof *slot * (size_t)B);
    memmove(a->start, start, sizeof *start * (size_t)B);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) a->pos[b * T + t] = a->start[b] + t;
    dk_model_forward_layers(m, B, T, 0);
    float *logits = dk_model_logits_last(m, B, T);
    a->pos = a->slot = a->start = NULL;
    return logits;
}

/* Takes a sampled token: the callback sees it, then the limits apply. */
static void accept(dk_gen *g, float *logits)
{
    int tok = dk_sampler_sample(g->sampler, logits);
    dk_sampler_observe(g->sampler, tok);
    g->made++;
    g->next = tok;
    bool stop = g->fn && g->fn(tok, g->user);
    for (int i = 0; i < g->nstop_ids; i++) stop |= tok == g->stop_ids[i];
    if (stop || g->made >= g->max_new) {
        g->done = true;
        g->finish = stop ? DK_FINISH_STOP : DK_FINISH_LENGTH;
    }
}

int dk_gen_start(dk_model *m, dk_gen *g, const int *prompt, int n, int slot)
{
    int ctx = m->acts.S;
    g->slot = slot, g->pos = 0, g->made = 0, g->done = false, g->finish = DK_FINISH_NONE;
    if (n <= 0) return dk_fail("the prompt is empty");
    if (n >= ctx) return dk_fail("the prompt has %d tokens; the model's context is %d", n, ctx);
    for (int i = 0; i < n; i++)
        if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab_size)
            return dk_fail("prompt token %d (id %d) is outside the vocabulary of %d", i, prompt[i], m->cfg.vocab_size);
    /* Generation stops at the end of the context rather than sliding it. */
    if (g->max_new > ctx - n) g->max_new = ctx - n;
    if (g->max_new <= 0) {
        g->done = true;
        g->finish = DK_FINISH_LENGTH;
        return 0;
    }
    /* the repetition penalty looks at this sequence only */
    memset(g->sampler->seen, 0, (size_t)g->sampler->V);
    for (int i = 0; i < n; i++) dk_sampler_observe(g->sampler, prompt[i]);
    float *logits = NULL;
    for (int at = 0; at < n; at += DK_PREFILL_CHUNK) {
        int len = n - at < DK_PREFILL_CHUNK ? n - at : DK_PREFILL_CHUNK;
        logits = dk_infer_batch(m, 1, len, prompt + at, &slot, &at);
    }
    g->pos = n;
    accept(g, logits);
    return 0;
}

void dk_gen_step(dk_model *m, dk_gen *const *gens, int n)
{
    int B = 0, V = m->cfg.vocab_size;
    dk_gen *rows[n > 0 ? n : 1];
    int tokens[n > 0 ? n : 1], slot[n > 0 ? n : 1], start[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        if (gens[i]->done) continue;
        rows[B] = gens[i];
        tokens[B] = gens[i]->next;
        slot[B] = gens[i]->slot;
        start[B] = gens[i]->pos;
        B++;
    }
    if (!B) return;
    float *logits = dk_infer_batch(m, B, 1, tokens, slot, start);
    for (int b = 0; b < B; b++) {
        rows[b]->pos++;
        accept(rows[b], logits + (size_t)b * V);
    }
}

int dk_gen_run(dk_model *m, dk_gen *g, const int *prompt, int n)
{
    /* The cache holds what this sequence can use: the prompt and its reply, at
     * most the model's context (a prompt that does not fit is then refused). */
    int ctx = m->cfg.max_position_embeddings, reply = g->max_new > 1 ? g->max_new : 1;
    int S = n >= 0 && n < ctx && reply < ctx - n ? n + reply : ctx;
    int tokens = n < 1 ? 1 : n < DK_PREFILL_CHUNK ? n : DK_PREFILL_CHUNK;
    if (dk_infer_begin(m, 1, tokens, S) || dk_gen_start(m, g, prompt, n, 0)) return -1;
    while (!g->done) dk_gen_step(m, &g, 1);
    return g->made;
}

int dk_generate(dk_model *m, const int *prompt, int n, int max_new, int stop_id, dk_sampler *s, dk_token_fn fn, void *user)
{
    dk_gen g = {.sampler = s, .max_new = max_new, .stop_ids = &stop_id, .nstop_ids = stop_id >= 0, .fn = fn, .user = user};
    return dk_gen_run(m, &g, prompt, n);
}
