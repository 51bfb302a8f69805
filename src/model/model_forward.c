/* The whole model, forward then backward, following the residual stream. */
#include <string.h>

#include "dokja/layers.h"
#include "dokja/model.h"
#include "dokja/quant.h"

/* In inference mode the layers share one set of buffers (stride 0), and the
 * residual stream alternates between two slots. */
#define LAYER(a, buf, l, n) ((a)->buf + ((a)->per_layer ? (size_t)(l) * (n) : 0))
#define RESID(a, l, n) ((a)->residual + (size_t)((a)->per_layer ? (l) : (l) % 2) * (n))

/* Decode steps (one token per row) go through the row-wise kernels, int8
 * when the model has int8 weights: a row's result then does not depend on the
 * other rows, so batched and single-sequence decoding agree to the bit.
 * Longer inputs (training, prefill) go through sgemm. */
static void linear(const dk_model *m, float *out, const float *inp, const float *w, int N, int IC, int OC, bool rows)
{
    if (!rows) dk_matmul_forward(out, inp, w, N, IC, OC);
    else if (m->q8) dk_q8_matmul(out, inp, dk_model_q8_of(m, w), N);
    else dk_matmul_rows_forward(out, inp, w, N, IC, OC);
}

/* Copies the new keys and values of a call (B, T, kvd) into the rows' caches. */
static void kv_store(float *kc, float *vc, const dk_acts *a, int B, int T, int pos0, int kvd)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t slot = (size_t)(a->slot ? a->slot[b] : b), at = (size_t)(a->start ? a->start[b] : pos0) + (size_t)t;
            size_t dst = (slot * a->S + at) * kvd, src = ((size_t)b * T + t) * kvd;
            memcpy(kc + dst, a->knew + src, sizeof(float) * (size_t)kvd);
            memcpy(vc + dst, a->vnew + src, sizeof(float) * (size_t)kvd);
        }
}

void dk_model_forward_layers(dk_model *m, int B, int T, int pos0)
{
    const dk_model_config *c = &m->cfg;
    const dk_params *p = &m->params;
    dk_acts *a = &m->acts;
    int C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers, NH = c->num_attention_heads,
        NKV = c->num_key_value_heads, HD = m->head_dim, qd = NH * HD, kvd = NKV * HD, N = B * T, S = a->S;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, Nq = (size_t)N * qd;
    float eps = (float)c->rms_norm_eps;
    /* Inference: the cache has a->B slots whatever the rows of this call. */
    bool infer = !a->per_layer, rows = infer && T == 1;
    size_t cache = (size_t)(infer ? a->B : B) * S * kvd;

    dk_embedding_forward(RESID(a, 0, NC), a->tokens, p->embed, N, C);
    for (int l = 0; l < L; l++) {
        const dk_layer_params *lp = &p->layers[l];
        float *x = RESID(a, l, NC), *xout = RESID(a, l + 1, NC);
        float *ln1 = LAYER(a, ln1, l, NC), *ln1_rstd = LAYER(a, ln1_rstd, l, N), *q = LAYER(a, q, l, Nq);
        float *k = a->k + (size_t)l * cache, *v = a->v + (size_t)l * cache;
        float *att = LAYER(a, att, l, (size_t)B * NH * T * S), *atty = LAYER(a, atty, l, Nq);
        float *res_mid = LAYER(a, res_mid, l, NC), *ln2 = LAYER(a, ln2, l, NC), *ln2_rstd = LAYER(a, ln2_rstd, l, N);
        float *gate = LAYER(a, gate, l, NI), *up = LAYER(a, up, l, NI), *hmlp = LAYER(a, hmlp, l, NI);
        /* Training writes keys and values in place (S = T, rows contiguous);
         * inference writes them aside, then into each row's slot. */
        float *knew = infer ? a->knew : k, *vnew = infer ? a->vnew : v;

        dk_rmsnorm_forward(ln1, ln1_rstd, x, lp->ln1, N, C, eps);
        linear(m, q, ln1, lp->wq, N, C, qd, rows);
        linear(m, knew, ln1, lp->wk, N, C, kvd, rows);
        linear(m, vnew, ln1, lp->wv, N, C, kvd, rows);
        dk_rope_forward(q, m->rope_cos, m->rope_sin, B, T, NH, HD, pos0, a->pos);
        dk_rope_forward(knew, m->rope_cos, m->rope_sin, B, T, NKV, HD, pos0, a->pos);
        if (infer) kv_store(k, v, a, B, T, pos0, kvd);
        dk_attention_forward(atty, att, q, k, v, B, T, S, pos0, a->start, a->slot, NH, NKV, HD, a->seg);
        linear(m, res_mid, atty, lp->wo, N, qd, C, rows);
        dk_residual_forward(res_mid, res_mid, x, (long)NC);

        dk_rmsnorm_forward(ln2, ln2_rstd, res_mid, lp->ln2, N, C, eps);
        linear(m, gate, ln2, lp->wgate, N, C, I, rows);
        linear(m, up, ln2, lp->wup, N, C, I, rows);
        dk_swiglu_forward(hmlp, gate, up, (long)NI);
        linear(m, xout, hmlp, lp->wdown, N, I, C, rows);
        dk_residual_forward(xout, xout, res_mid, (long)NC);
    }
    dk_rmsnorm_forward(a->lnf, a->lnf_rstd, RESID(a, L, NC), p->norm, N, C, eps);
}

void dk_model_logits_last(dk_model *m, int B, int T)
{
    dk_acts *a = &m->acts;
    size_t C = (size_t)m->cfg.hidden_size;
    /* Row b's last state moves to row b (b <= b*T + T-1, so in order is safe). */
    for (int b = 0; b < B; b++) memmove(a->lnf + b * C, a->lnf + ((size_t)b * T + (size_t)T - 1) * C, sizeof(float) * C);
    linear(m, a->logits, a->lnf, m->params.lm_head, B, (int)C, m->cfg.vocab_size, true);
}

float dk_model_forward(dk_model *m, int B, int T)
{
    dk_acts *a = &m->acts;
    int N = B * T, C = m->cfg.hidden_size, V = m->cfg.vocab_size;
    dk_model_forward_layers(m, B, T, 0);
    dk_matmul_forward(a->logits, a->lnf, m->params.lm_head, N, C, V);
    int counted = dk_crossentropy_forward(a->losses, a->lse, a->logits, a->targets, N, V);
    double sum = 0.0; /* in row order: deterministic */
    for (int i = 0; i < N; i++) sum += a->losses[i];
    return counted ? (float)(sum / counted) : 0.0f;
}

void dk_model_backward(dk_model *m, int B, int T, float loss_scale)
{
    const dk_model_config *c = &m->cfg;
    const dk_params *p = &m->params;
    const dk_params *g = &m->grads;
    dk_acts *a = &m->acts;
    dk_grad_acts *d = &m->gacts;
    int C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers, V = c->vocab_size,
        NH = c->num_attention_heads, NKV = c->num_key_value_heads, HD = m->head_dim, qd = NH * HD, kvd = NKV * HD, N = B * T;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, Nq = (size_t)N * qd;

    int counted = 0;
    for (int i = 0; i < N; i++) counted += a->targets[i] >= 0;
    /* With no counted target every gradient is zero, but the pass still runs
     * so that data-parallel ranks take part in every reduction. */
    dk_crossentropy_backward(a->logits, a->lse, a->targets, N, V, counted ? loss_scale / (float)counted : 0.0f);
    dk_matmul_backward(d->dln, g->lm_head, a->logits, a->lnf, p->lm_head, N, C, V, false);
    memset(d->dres, 0, NC * sizeof(float));
    dk_rmsnorm_backward(d->dres, g->norm, d->dln, RESID(a, L, NC), p->norm, a->lnf_rstd, N, C);
    if (m->grads_done) m->grads_done(m->grads_done_user, (size_t)(g->norm - m->grad_block), m->nparams);

    for (int l = L - 1; l >= 0; l--) {
        const dk_layer_params *lp = &p->layers[l], *lg = &g->layers[l];
        float *x = RESID(a, l, NC), *ln1 = LAYER(a, ln1, l, NC), *ln1_rstd = LAYER(a, ln1_rstd, l, N);
        float *q = LAYER(a, q, l, Nq), *k = a->k + (size_t)l * N * kvd, *v = a->v + (size_t)l * N * kvd;
        float *att = LAYER(a, att, l, (size_t)B * NH * T * T), *atty = LAYER(a, atty, l, Nq);
        float *res_mid = LAYER(a, res_mid, l, NC), *ln2 = LAYER(a, ln2, l, NC), *ln2_rstd = LAYER(a, ln2_rstd, l, N);
        float *gate = LAYER(a, gate, l, NI), *up = LAYER(a, up, l, NI), *hmlp = LAYER(a, hmlp, l, NI);

        /* xout = res_mid + down(swiglu(gate(ln2), up(ln2))); d->dres holds d(xout) */
        dk_matmul_backward(d->dh, lg->wdown, d->dres, hmlp, lp->wdown, N, I, C, false);
        dk_swiglu_backward(d->dgate, d->dup, d->dh, gate, up, (long)NI);
        dk_matmul_backward(d->dln, lg->wgate, d->dgate, ln2, lp->wgate, N, C, I, false);
        dk_matmul_backward(d->dln, lg->wup, d->dup, ln2, lp->wup, N, C, I, true);
        dk_rmsnorm_backward(d->dres, lg->ln2, d->dln, res_mid, lp->ln2, ln2_rstd, N, C);

        /* res_mid = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))); d->dres holds d(res_mid) */
        dk_matmul_backward(d->datty, lg->wo, d->dres, atty, lp->wo, N, qd, C, false);
        dk_attention_backward(d->dq, d->dk, d->dv, d->datt, d->datty, att, q, k, v, B, T, NH, NKV, HD);
        dk_rope_backward(d->dq, m->rope_cos, m->rope_sin, B, T, NH, HD, a->pos);
        dk_rope_backward(d->dk, m->rope_cos, m->rope_sin, B, T, NKV, HD, a->pos);
        dk_matmul_backward(d->dln, lg->wq, d->dq, ln1, lp->wq, N, C, qd, false);
        dk_matmul_backward(d->dln, lg->wk, d->dk, ln1, lp->wk, N, C, kvd, true);
        dk_matmul_backward(d->dln, lg->wv, d->dv, ln1, lp->wv, N, C, kvd, true);
        dk_rmsnorm_backward(d->dres, lg->ln1, d->dln, x, lp->ln1, ln1_rstd, N, C);
        if (m->grads_done) {
            size_t lo, hi;
            dk_model_layer_range(m, l, &lo, &hi);
            m->grads_done(m->grads_done_user, lo, hi);
        }
    }
    dk_embedding_backward(g->embed, d->dres, a->tokens, N, C);
    if (m->grads_done) m->grads_done(m->grads_done_user, 0, (size_t)V * C);
}
