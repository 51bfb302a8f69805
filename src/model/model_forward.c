/* The whole model, forward then backward, following the residual stream.
 * Every layer runs through the model's backend (backend.h). */
#include <stdint.h>
#include <string.h>

#include "dokja/model.h"
#include "dokja/quant.h"

/* Without per-layer activations (inference, or training with recomputation)
 * the layers share one set of buffers (stride 0); the residual stream is kept
 * whole in training, and alternates between two slots in inference. A buffer
 * the model does not keep is NULL in every layer. */
#define LAYER(a, buf, l, n) ((a)->buf ? (a)->buf + ((a)->per_layer ? (size_t)(l) * (n) : 0) : NULL)
#define RESID(a, l, n) ((a)->residual + (size_t)((a)->training ? (l) : (l) % 2) * (n))
/* Layer l's bf16 copy of an activation of n values (ln1_lp and the like). */
#define LOWP(a, buf, l, n) ((void *)LAYER(a, buf, l, DK_HALVES(n)))

static dk_operand operand(const float *x, const void *lp) { return (dk_operand){x, lp}; }

/* A weight as a matmul operand: with its copy in the rounded parameter
 * block when training keeps one. */
static dk_operand weight(const dk_model *m, const float *w)
{
    const uint16_t *lp = (const uint16_t *)m->acts.params_lp;
    return operand(w, lp ? lp + (w - m->dev_block) : NULL);
}

/* out = inp @ w^T (+ residual, where not NULL); in bf16 alone into out_lp
 * where that is given (training only). Decode steps (one token per row) go
 * through the row-wise kernels, int8 when the model has int8 weights: a
 * row's result then does not depend on the other rows, so batched and
 * single-sequence decoding agree to the bit. Longer inputs (training,
 * prefill) go through the GEMMs. */
static void linear(const dk_model *m, float *out, void *out_lp, dk_operand inp, const float *w, const float *residual, int N,
                   int IC, int OC, bool rows)
{
    if (!rows) {
        m->be->matmul_forward(out, out_lp, inp, weight(m, w), residual, N, IC, OC);
        return;
    }
    if (m->q8) dk_q8_matmul(out, inp.x, dk_model_q8_of(m, w), N);
    else m->be->matmul_rows_forward(out, inp.x, w, N, IC, OC);
    if (residual) m->be->residual_forward(out, out, residual, (long)N * OC);
}

/* Gives the backend this call's row integers: the host arrays themselves on
 * the CPU; otherwise packed into one host buffer with the layout of
 * dev_ints (tokens, targets, pos, seg: room each; slot, start: a->B each)
 * and sent in one copy. */
static void stage_ints(dk_model *m, int B, int T)
{
    dk_acts *a = &m->acts;
    size_t N = (size_t)B * T, room = (size_t)a->B * a->T, at[6] = {0, room, 2 * room, 3 * room, 4 * room, 4 * room + a->B};
    const int *host[6] = {a->tokens, a->training ? a->targets : NULL, a->pos, a->seg, a->slot, a->start};
    size_t n[6] = {N, N, N, N, (size_t)B, (size_t)B};
    const int *dev[6];
    for (int i = 0; i < 6; i++) {
        dev[i] = host[i];
        if (m->be->host_memory || !host[i]) continue;
        memcpy(a->host_ints + at[i], host[i], n[i] * sizeof(int));
        dev[i] = a->dev_ints + at[i];
    }
    if (!m->be->host_memory) m->be->upload(a->dev_ints, a->host_ints, (4 * room + 2 * (size_t)a->B) * sizeof(int));
    a->dev = (dk_row_ints){.tokens = dev[0], .targets = dev[1], .pos = dev[2], .seg = dev[3], .slot = dev[4], .start = dev[5]};
}

/* n floats of the backend's memory, readable on the host. */
static float *to_host(dk_model *m, float *p, size_t n)
{
    if (m->be->host_memory) return p;
    m->be->download(m->acts.host_out, p, n * sizeof(float));
    return m->acts.host_out;
}

/* Layer l on its input RESID(l): everything its backward reads, and RESID(l + 1). */
static void layer_forward(dk_model *m, int l, int B, int T, int pos0)
{
    const dk_model_config *c = &m->cfg;
    const dk_backend *be = m->be;
    const dk_layer_params *lp = &m->dev.layers[l];
    dk_acts *a = &m->acts;
    const dk_row_ints *ri = &a->dev;
    int C = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, NKV = c->num_key_value_heads,
        HD = m->head_dim, qd = NH * HD, kvd = NKV * HD, N = B * T, S = a->S;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, Nq = (size_t)N * qd;
    float eps = (float)c->rms_norm_eps;
    /* Inference: the cache has a->B slots whatever the rows of this call, one per layer. */
    bool infer = !a->training, rows = infer && T == 1;
    size_t cache = (size_t)(infer ? a->B : B) * S * kvd, att_n = be->attention_floats(B, NH, T, S);
    float *x = RESID(a, l, NC), *xout = RESID(a, l + 1, NC);
    /* where training keeps q, k and v in bf16 alone, q and k are fp32 here only on their way through RoPE */
    bool kept16 = a->q_lp != NULL;
    float *ln1 = LAYER(a, ln1, l, NC), *ln1_rstd = LAYER(a, ln1_rstd, l, N), *q = kept16 ? a->q : LAYER(a, q, l, Nq);
    float *k = infer ? a->k + (size_t)l * cache : kept16 ? a->k : LAYER(a, k, l, cache),
          *v = infer ? a->v + (size_t)l * cache : LAYER(a, v, l, cache);
    float *att = LAYER(a, att, l, att_n), *atty = LAYER(a, atty, l, Nq);
    float *res_mid = LAYER(a, res_mid, l, NC), *ln2 = LAYER(a, ln2, l, NC), *ln2_rstd = LAYER(a, ln2_rstd, l, N);
    float *gate = LAYER(a, gate, l, NI), *up = LAYER(a, up, l, NI), *hmlp = LAYER(a, hmlp, l, NI);
    void *ln1_lp = LOWP(a, ln1_lp, l, NC), *atty_lp = LOWP(a, atty_lp, l, Nq), *ln2_lp = LOWP(a, ln2_lp, l, NC),
         *hmlp_lp = LOWP(a, hmlp_lp, l, NI), *gate_lp = LOWP(a, gate_lp, l, NI), *up_lp = LOWP(a, up_lp, l, NI),
         *q_lp = LOWP(a, q_lp, l, Nq), *k_lp = LOWP(a, k_lp, l, cache), *v_lp = LOWP(a, v_lp, l, cache);
    /* Training writes keys and values in place (S = T, rows contiguous);
     * inference writes them aside, then into each row's slot. */
    float *knew = infer ? a->knew : k, *vnew = infer ? a->vnew : v;

    be->rmsnorm_forward(ln1, ln1_lp, ln1_rstd, x, lp->ln1, N, C, eps);
    linear(m, q, NULL, operand(ln1, ln1_lp), lp->wq, NULL, N, C, qd, rows);
    linear(m, knew, NULL, operand(ln1, ln1_lp), lp->wk, NULL, N, C, kvd, rows);
    linear(m, vnew, v_lp, operand(ln1, ln1_lp), lp->wv, NULL, N, C, kvd, rows);
    be->rope_forward(q, q_lp, m->rope_cos, m->rope_sin, B, T, NH, HD, pos0, ri->pos);
    be->rope_forward(knew, k_lp, m->rope_cos, m->rope_sin, B, T, NKV, HD, pos0, ri->pos);
    if (infer) be->kv_store(k, v, a->knew, a->vnew, ri->slot, ri->start, B, T, S, pos0, kvd);
    /* kept in bf16, q, k and v are read in bf16 alone, as the backward reads them */
    be->attention_forward(atty, atty_lp, att, operand(kept16 ? NULL : q, q_lp), operand(kept16 ? NULL : k, k_lp),
                          operand(v, v_lp), B, T, S, pos0, ri->start, ri->slot, NH, NKV, HD, ri->seg);
    linear(m, res_mid, NULL, operand(atty, atty_lp), lp->wo, x, N, qd, C, rows);

    be->rmsnorm_forward(ln2, ln2_lp, ln2_rstd, res_mid, lp->ln2, N, C, eps);
    linear(m, gate, gate_lp, operand(ln2, ln2_lp), lp->wgate, NULL, N, C, I, rows);
    linear(m, up, up_lp, operand(ln2, ln2_lp), lp->wup, NULL, N, C, I, rows);
    be->swiglu_forward(hmlp, hmlp_lp, operand(gate, gate_lp), operand(up, up_lp), (long)NI);
    linear(m, xout, NULL, operand(hmlp, hmlp_lp), lp->wdown, res_mid, N, I, C, rows);
}

void dk_model_forward_layers(dk_model *m, int B, int T, int pos0)
{
    dk_acts *a = &m->acts;
    int C = m->cfg.hidden_size, L = m->cfg.num_hidden_layers, N = B * T;
    size_t NC = (size_t)N * C;
    stage_ints(m, B, T);
    /* the weights as this pass's matmuls take them, rounded once for all */
    if (a->params_lp) m->be->round_operand(a->params_lp, m->dev_block, m->nparams);
    m->be->embedding_forward(RESID(a, 0, NC), a->dev.tokens, m->dev.embed, N, C);
    for (int l = 0; l < L; l++) layer_forward(m, l, B, T, pos0);
    m->be->rmsnorm_forward(a->lnf, NULL, a->lnf_rstd, RESID(a, L, NC), m->dev.norm, N, C, (float)m->cfg.rms_norm_eps);
}

float *dk_model_logits_last(dk_model *m, int B, int T)
{
    dk_acts *a = &m->acts;
    size_t C = (size_t)m->cfg.hidden_size, V = (size_t)m->cfg.vocab_size;
    /* Row b's last state moves to row b (b <= b*T + T-1, so in order is safe). */
    for (int b = 0; T > 1 && b < B; b++)
        m->be->copy(a->lnf + b * C, a->lnf + ((size_t)b * T + (size_t)T - 1) * C, sizeof(float) * C);
    linear(m, a->logits, NULL, operand(a->lnf, NULL), m->dev.lm_head, NULL, B, (int)C, (int)V, true);
    return to_host(m, a->logits, (size_t)B * V);
}

static int counted_targets(const dk_acts *a, int N)
{
    int n = 0;
    for (int i = 0; i < N; i++) n += a->targets[i] >= 0;
    return n;
}

/* The head and the loss, with the head's backward when dx is given; the
 * mean loss, summed in row order (deterministic). */
static float head(dk_model *m, int B, int T, float *dx, float loss_scale)
{
    dk_acts *a = &m->acts;
    int N = B * T, counted = counted_targets(a, N);
    /* With no counted target every gradient is zero, but the pass still runs
     * so that data-parallel ranks take part in every reduction. */
    float dloss = counted ? loss_scale / (float)counted : 0.0f;
    m->be->classifier(a->losses, a->lse, a->logits, a->lnf, m->dev.lm_head, a->dev.targets, N, m->cfg.hidden_size,
                      m->cfg.vocab_size, dx, dx ? m->grads.lm_head : NULL, dloss);
    const float *losses = to_host(m, a->losses, (size_t)N);
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += losses[i];
    return counted ? (float)(sum / counted) : 0.0f;
}

float dk_model_forward(dk_model *m, int B, int T)
{
    dk_model_forward_layers(m, B, T, 0);
    return head(m, B, T, NULL, 0.0f);
}

/* Accumulates the parameter gradients below the head; d->dln holds the
 * gradient of the final norm's output. */
static void backward_layers(dk_model *m, int B, int T)
{
    const dk_model_config *c = &m->cfg;
    const dk_backend *be = m->be;
    const dk_params *p = &m->dev;
    const dk_params *g = &m->grads;
    dk_acts *a = &m->acts;
    dk_grad_acts *d = &m->gacts;
    const dk_row_ints *ri = &a->dev;
    int C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers, V = c->vocab_size,
        NH = c->num_attention_heads, NKV = c->num_key_value_heads, HD = m->head_dim, qd = NH * HD, kvd = NKV * HD, N = B * T;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, Nq = (size_t)N * qd, att_n = be->attention_floats(B, NH, T, T),
           cache = (size_t)N * kvd;

    be->zero(d->dres, NC * sizeof(float));
    be->rmsnorm_backward(d->dres, d->dres_lp, g->norm, d->dln, RESID(a, L, NC), p->norm, a->lnf_rstd, N, C);
    if (m->grads_done) m->grads_done(m->grads_done_user, (size_t)(g->norm - m->grad_block), m->nparams);
    dk_operand dres = operand(d->dres, d->dres_lp);

    for (int l = L - 1; l >= 0; l--) {
        /* the last layer's activations are still there from the forward */
        if (!a->per_layer && l < L - 1) layer_forward(m, l, B, T, 0);
        const dk_layer_params *lp = &p->layers[l], *lg = &g->layers[l];
        float *x = RESID(a, l, NC), *ln1 = LAYER(a, ln1, l, NC), *ln1_rstd = LAYER(a, ln1_rstd, l, N);
        /* q, k, v in bf16 alone where kept so (their fp32 room holds another layer's) */
        bool kept16 = a->q_lp != NULL;
        dk_operand q = operand(kept16 ? NULL : LAYER(a, q, l, Nq), LOWP(a, q_lp, l, Nq)),
                   k = operand(kept16 ? NULL : LAYER(a, k, l, cache), LOWP(a, k_lp, l, cache)),
                   v = operand(LAYER(a, v, l, cache), LOWP(a, v_lp, l, cache));
        float *att = LAYER(a, att, l, att_n), *atty = LAYER(a, atty, l, Nq);
        float *res_mid = LAYER(a, res_mid, l, NC), *ln2 = LAYER(a, ln2, l, NC), *ln2_rstd = LAYER(a, ln2_rstd, l, N);
        float *gate = LAYER(a, gate, l, NI), *up = LAYER(a, up, l, NI), *hmlp = LAYER(a, hmlp, l, NI);
        dk_operand ln1_in = operand(ln1, LOWP(a, ln1_lp, l, NC)), atty_in = operand(atty, LOWP(a, atty_lp, l, Nq)),
                   ln2_in = operand(ln2, LOWP(a, ln2_lp, l, NC)), hmlp_in = operand(hmlp, LOWP(a, hmlp_lp, l, NI));

        /* xout = res_mid + down(swiglu(gate(ln2), up(ln2))); d->dres holds d(xout) */
        be->matmul_backward(d->dh, lg->wdown, dres, hmlp_in, weight(m, lp->wdown), N, I, C, false);
        be->swiglu_backward(d->dgate, d->dup, d->dgate_lp, d->dup_lp, d->dh, operand(gate, LOWP(a, gate_lp, l, NI)),
                            operand(up, LOWP(a, up_lp, l, NI)), (long)NI);
        be->matmul_backward(d->dln, lg->wgate, operand(d->dgate, d->dgate_lp), ln2_in, weight(m, lp->wgate), N, C, I, false);
        be->matmul_backward(d->dln, lg->wup, operand(d->dup, d->dup_lp), ln2_in, weight(m, lp->wup), N, C, I, true);
        be->rmsnorm_backward(d->dres, d->dres_lp, lg->ln2, d->dln, res_mid, lp->ln2, ln2_rstd, N, C);

        /* res_mid = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))); d->dres holds d(res_mid) */
        be->matmul_backward(d->datty, lg->wo, dres, atty_in, weight(m, lp->wo), N, qd, C, false);
        be->attention_backward(d->dq, d->dk, d->dv, d->dv_lp, d->datt, d->datty, atty, att, q, k, v, B, T, NH, NKV, HD,
                               ri->seg);
        be->rope_backward(d->dq, d->dq_lp, m->rope_cos, m->rope_sin, B, T, NH, HD, ri->pos);
        be->rope_backward(d->dk, d->dk_lp, m->rope_cos, m->rope_sin, B, T, NKV, HD, ri->pos);
        /* with bf16 copies RoPE left dq and dk in bf16 alone (their fp32 rooms hold its inputs) */
        dk_operand dq = operand(d->dq_lp ? NULL : d->dq, d->dq_lp), dk = operand(d->dk_lp ? NULL : d->dk, d->dk_lp);
        be->matmul_backward(d->dln, lg->wq, dq, ln1_in, weight(m, lp->wq), N, C, qd, false);
        be->matmul_backward(d->dln, lg->wk, dk, ln1_in, weight(m, lp->wk), N, C, kvd, true);
        be->matmul_backward(d->dln, lg->wv, operand(d->dv, d->dv_lp), ln1_in, weight(m, lp->wv), N, C, kvd, true);
        be->rmsnorm_backward(d->dres, d->dres_lp, lg->ln1, d->dln, x, lp->ln1, ln1_rstd, N, C);
        if (m->grads_done) {
            size_t lo, hi;
            dk_model_layer_range(m, l, &lo, &hi);
            m->grads_done(m->grads_done_user, lo, hi);
        }
    }
    be->embedding_backward(g->embed, d->dres, ri->tokens, N, C);
    if (m->grads_done) m->grads_done(m->grads_done_user, 0, (size_t)V * C);
}

float dk_model_forward_backward(dk_model *m, int B, int T, float loss_scale)
{
    dk_model_forward_layers(m, B, T, 0);
    float loss = head(m, B, T, m->gacts.dln, loss_scale);
    backward_layers(m, B, T);
    return loss;
}
