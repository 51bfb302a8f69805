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

/* RoPE's result as an input: given a bf16 copy, RoPE wrote it there alone
 * and x still holds RoPE's input (backend.h). */
static dk_operand roped(const float *x, const void *lp) { return operand(lp ? NULL : x, lp); }

/* An activation: its fp32 buffer and its bf16 copy, each NULL where the
 * model does not keep it (dk_acts). */
typedef struct {
    float *x;
    void *lp;
} act;

static dk_operand in(act t) { return operand(t.x, t.lp); }

/* Layer l's activations for a call of B rows of T, as forward and backward
 * find them: with per-layer activations, layer l's part of each buffer;
 * in inference k and v are the layer's cache (a->B slots of S). Where
 * training keeps q and k in bf16 alone, their fp32 room is one layer's,
 * holding the matmuls' output on its way through RoPE. */
typedef struct {
    float *x, *xout, *ln1_rstd, *att, *res_mid, *ln2_rstd;
    act ln1, q, k, v, atty, ln2, gate, up, hmlp;
} layer_acts;

static layer_acts layer_acts_of(const dk_model *m, int l, int B, int T)
{
    const dk_model_config *c = &m->cfg;
    const dk_acts *a = &m->acts;
    int C = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, HD = m->head_dim,
        kvd = c->num_key_value_heads * HD, N = B * T, S = a->S;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, Nq = (size_t)N * NH * HD,
           cache = (size_t)(a->training ? B : a->B) * S * kvd, att_n = m->be->attention_floats(B, NH, T, S);
    bool kept16 = a->q_lp != NULL;
    layer_acts y = {
        .x = RESID(a, l, NC),
        .xout = RESID(a, l + 1, NC),
        .ln1_rstd = LAYER(a, ln1_rstd, l, N),
        .att = LAYER(a, att, l, att_n),
        .res_mid = LAYER(a, res_mid, l, NC),
        .ln2_rstd = LAYER(a, ln2_rstd, l, N),
        .ln1 = {LAYER(a, ln1, l, NC), LOWP(a, ln1_lp, l, NC)},
        .q = {kept16 ? a->q : LAYER(a, q, l, Nq), LOWP(a, q_lp, l, Nq)},
        .k = {a->training ? (kept16 ? a->k : LAYER(a, k, l, cache)) : a->k + (size_t)l * cache, LOWP(a, k_lp, l, cache)},
        .v = {a->training ? LAYER(a, v, l, cache) : a->v + (size_t)l * cache, LOWP(a, v_lp, l, cache)},
        .atty = {LAYER(a, atty, l, Nq), LOWP(a, atty_lp, l, Nq)},
        .ln2 = {LAYER(a, ln2, l, NC), LOWP(a, ln2_lp, l, NC)},
        .gate = {LAYER(a, gate, l, NI), LOWP(a, gate_lp, l, NI)},
        .up = {LAYER(a, up, l, NI), LOWP(a, up_lp, l, NI)},
        .hmlp = {LAYER(a, hmlp, l, NI), LOWP(a, hmlp_lp, l, NI)},
    };
    return y;
}

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
    float eps = (float)c->rms_norm_eps;
    bool infer = !a->training, rows = infer && T == 1;
    layer_acts y = layer_acts_of(m, l, B, T);
    /* Training writes keys and values in place (S = T, rows contiguous);
     * inference writes them aside, then into each row's slot. */
    float *knew = infer ? a->knew : y.k.x, *vnew = infer ? a->vnew : y.v.x;

    be->rmsnorm_forward(y.ln1.x, y.ln1.lp, y.ln1_rstd, y.x, lp->ln1, N, C, eps);
    linear(m, y.q.x, NULL, in(y.ln1), lp->wq, NULL, N, C, qd, rows);
    linear(m, knew, NULL, in(y.ln1), lp->wk, NULL, N, C, kvd, rows);
    linear(m, vnew, y.v.lp, in(y.ln1), lp->wv, NULL, N, C, kvd, rows);
    be->rope_forward(y.q.x, y.q.lp, m->rope_cos, m->rope_sin, B, T, NH, HD, pos0, ri->pos);
    be->rope_forward(knew, y.k.lp, m->rope_cos, m->rope_sin, B, T, NKV, HD, pos0, ri->pos);
    if (infer) be->kv_store(y.k.x, y.v.x, a->knew, a->vnew, ri->slot, ri->start, B, T, S, pos0, kvd);
    be->attention_forward(y.atty.x, y.atty.lp, y.att, roped(y.q.x, y.q.lp), roped(y.k.x, y.k.lp), in(y.v), B, T, S, pos0,
                          ri->start, ri->slot, NH, NKV, HD, ri->seg);
    linear(m, y.res_mid, NULL, in(y.atty), lp->wo, y.x, N, qd, C, rows);

    be->rmsnorm_forward(y.ln2.x, y.ln2.lp, y.ln2_rstd, y.res_mid, lp->ln2, N, C, eps);
    linear(m, y.gate.x, y.gate.lp, in(y.ln2), lp->wgate, NULL, N, C, I, rows);
    linear(m, y.up.x, y.up.lp, in(y.ln2), lp->wup, NULL, N, C, I, rows);
    be->swiglu_forward(y.hmlp.x, y.hmlp.lp, in(y.gate), in(y.up), (long)N * I);
    linear(m, y.xout, NULL, in(y.hmlp), lp->wdown, y.res_mid, N, I, C, rows);
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
    size_t NC = (size_t)N * C;

    be->zero(d->dres, NC * sizeof(float));
    be->rmsnorm_backward(d->dres, d->dres_lp, g->norm, d->dln, RESID(a, L, NC), p->norm, a->lnf_rstd, N, C);
    if (m->grads_done) m->grads_done(m->grads_done_user, (size_t)(g->norm - m->grad_block), m->nparams);
    dk_operand dres = operand(d->dres, d->dres_lp);

    for (int l = L - 1; l >= 0; l--) {
        /* the last layer's activations are still there from the forward */
        if (!a->per_layer && l < L - 1) layer_forward(m, l, B, T, 0);
        const dk_layer_params *lp = &p->layers[l], *lg = &g->layers[l];
        layer_acts y = layer_acts_of(m, l, B, T);

        /* xout = res_mid + down(swiglu(gate(ln2), up(ln2))); d->dres holds d(xout) */
        be->matmul_backward(d->dh, lg->wdown, dres, in(y.hmlp), weight(m, lp->wdown), N, I, C, false);
        be->swiglu_backward(d->dgate, d->dup, d->dgate_lp, d->dup_lp, d->dh, in(y.gate), in(y.up), (long)N * I);
        be->matmul_backward(d->dln, lg->wgate, operand(d->dgate, d->dgate_lp), in(y.ln2), weight(m, lp->wgate), N, C, I,
                            false);
        be->matmul_backward(d->dln, lg->wup, operand(d->dup, d->dup_lp), in(y.ln2), weight(m, lp->wup), N, C, I, true);
        be->rmsnorm_backward(d->dres, d->dres_lp, lg->ln2, d->dln, y.res_mid, lp->ln2, y.ln2_rstd, N, C);

        /* res_mid = x + o(attention(rope(q(ln1)), rope(k(ln1)), v(ln1))); d->dres holds d(res_mid) */
        be->matmul_backward(d->datty, lg->wo, dres, in(y.atty), weight(m, lp->wo), N, qd, C, false);
        be->attention_backward(d->dq, d->dk, d->dv, d->dv_lp, d->datt, d->datty, y.atty.x, y.att, roped(y.q.x, y.q.lp),
                               roped(y.k.x, y.k.lp), in(y.v), B, T, NH, NKV, HD, ri->seg);
        be->rope_backward(d->dq, d->dq_lp, m->rope_cos, m->rope_sin, B, T, NH, HD, ri->pos);
        be->rope_backward(d->dk, d->dk_lp, m->rope_cos, m->rope_sin, B, T, NKV, HD, ri->pos);
        be->matmul_backward(d->dln, lg->wq, roped(d->dq, d->dq_lp), in(y.ln1), weight(m, lp->wq), N, C, qd, false);
        be->matmul_backward(d->dln, lg->wk, roped(d->dk, d->dk_lp), in(y.ln1), weight(m, lp->wk), N, C, kvd, true);
        be->matmul_backward(d->dln, lg->wv, operand(d->dv, d->dv_lp), in(y.ln1), weight(m, lp->wv), N, C, kvd, true);
        be->rmsnorm_backward(d->dres, d->dres_lp, lg->ln1, d->dln, y.x, lp->ln1, y.ln1_rstd, N, C);
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
