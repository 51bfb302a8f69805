#include "dokja/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/layers.h"
#include "dokja/quant.h"
#include "dokja/rng.h"

/* Sizes (in floats) of the members of one dk_layer_params, in block order. */
static void layer_sizes(const dk_model_config *c, size_t sizes[9])
{
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size, HD = C / (size_t)c->num_attention_heads,
           qd = HD * (size_t)c->num_attention_heads, kvd = HD * (size_t)c->num_key_value_heads;
    size_t s[9] = {C, qd * C, kvd * C, kvd * C, C * qd, C, I * C, I * C, C * I};
    memcpy(sizes, s, sizeof s);
}

static size_t layer_size(const dk_model_config *c)
{
    size_t sizes[9], n = 0;
    layer_sizes(c, sizes);
    for (int i = 0; i < 9; i++) n += sizes[i];
    return n;
}

int dk_model_bind(const dk_model *m, float *block, dk_params *p)
{
    const dk_model_config *c = &m->cfg;
    size_t sizes[9], V = (size_t)c->vocab_size, C = (size_t)c->hidden_size;
    layer_sizes(c, sizes);
    p->layers = dk_calloc((size_t)c->num_hidden_layers, sizeof *p->layers);
    if (!p->layers) return -1;
    p->embed = block;
    block += V * C;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        dk_layer_params *lp = &p->layers[l];
        float **ptrs[9] = {&lp->ln1, &lp->wq, &lp->wk, &lp->wv, &lp->wo, &lp->ln2, &lp->wgate, &lp->wup, &lp->wdown};
        for (int i = 0; i < 9; i++) {
            *ptrs[i] = block;
            block += sizes[i];
        }
    }
    p->norm = block;
    block += C;
    p->lm_head = c->tie_word_embeddings ? p->embed : block;
    return 0;
}

void dk_model_layer_range(const dk_model *m, int l, size_t *lo, size_t *hi)
{
    size_t first = (size_t)m->cfg.vocab_size * (size_t)m->cfg.hidden_size, n = layer_size(&m->cfg);
    *lo = first + (size_t)l * n;
    *hi = *lo + n;
}

static void add_tensor(dk_model *m, const float *base, const float *at, int ndim, int64_t d0, int64_t d1, bool decay,
                       bool residual, const char *fmt, int layer)
{
    dk_param_tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, fmt, layer);
    t->offset = (size_t)(at - base);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)(ndim == 1 ? d0 : d0 * d1);
    t->decay = decay;
    t->residual = residual;
}

int dk_model_create(dk_model *m, const dk_model_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->be = dk_backend_cpu();
    const dk_model_config *c = cfg;
    int C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers, V = c->vocab_size;
    int HD = C / c->num_attention_heads, qd = HD * c->num_attention_heads, kvd = HD * c->num_key_value_heads;
    m->head_dim = HD;
    m->nparams = (size_t)V * C * (c->tie_word_embeddings ? 1 : 2) + (size_t)L * layer_size(c) + (size_t)C;
    m->param_block = dk_calloc(m->nparams, sizeof(float));
    m->dev_block = m->param_block;
    m->tensors = dk_calloc((size_t)(9 * L + 3), sizeof *m->tensors);
    m->rope_cos = dk_malloc(sizeof(float) * (size_t)c->max_position_embeddings * (size_t)(HD / 2));
    m->rope_sin = dk_malloc(sizeof(float) * (size_t)c->max_position_embeddings * (size_t)(HD / 2));
    if (!m->param_block || !m->tensors || !m->rope_cos || !m->rope_sin || dk_model_bind(m, m->param_block, &m->params) ||
        dk_model_bind(m, m->dev_block, &m->dev)) {
        dk_model_free(m);
        return -1;
    }
    dk_rope_tables(m->rope_cos, m->rope_sin, c->max_position_embeddings, HD, c->rope_theta);

    const dk_params *p = &m->params;
    const float *b = m->param_block;
    add_tensor(m, b, p->embed, 2, V, C, true, false, "model.embed_tokens.weight", 0);
    for (int l = 0; l < L; l++) {
        const dk_layer_params *lp = &p->layers[l];
        add_tensor(m, b, lp->ln1, 1, C, 0, false, false, "model.layers.%d.input_layernorm.weight", l);
        add_tensor(m, b, lp->wq, 2, qd, C, true, false, "model.layers.%d.self_attn.q_proj.weight", l);
        add_tensor(m, b, lp->wk, 2, kvd, C, true, false, "model.layers.%d.self_attn.k_proj.weight", l);
        add_tensor(m, b, lp->wv, 2, kvd, C, true, false, "model.layers.%d.self_attn.v_proj.weight", l);
        add_tensor(m, b, lp->wo, 2, C, qd, true, true, "model.layers.%d.self_attn.o_proj.weight", l);
        add_tensor(m, b, lp->ln2, 1, C, 0, false, false, "model.layers.%d.post_attention_layernorm.weight", l);
        add_tensor(m, b, lp->wgate, 2, I, C, true, false, "model.layers.%d.mlp.gate_proj.weight", l);
        add_tensor(m, b, lp->wup, 2, I, C, true, false, "model.layers.%d.mlp.up_proj.weight", l);
        add_tensor(m, b, lp->wdown, 2, C, I, true, true, "model.layers.%d.mlp.down_proj.weight", l);
    }
    add_tensor(m, b, p->norm, 1, C, 0, false, false, "model.norm.weight", 0);
    if (!c->tie_word_embeddings) add_tensor(m, b, p->lm_head, 2, V, C, true, false, "lm_head.weight", 0);
    return 0;
}

/* Releases the activations and gradients (backend memory). */
static void free_acts(dk_model *m)
{
    const dk_backend *be = m->be;
    dk_acts *a = &m->acts;
    if (a->block) be->release(a->block);
    if (a->dev_ints) be->release(a->dev_ints);
    if (m->gacts.block) be->release(m->gacts.block);
    free(a->tokens);
    free(a->targets);
    free(a->ints);
    free(a->host_out);
    free(a->host_ints);
    memset(a, 0, sizeof *a);
    memset(&m->gacts, 0, sizeof m->gacts);
}

static void free_grads(dk_model *m)
{
    if (m->grad_block) m->be->release(m->grad_block);
    free(m->grads.layers);
    m->grad_block = NULL;
    m->grads.layers = NULL;
}

void dk_model_free(dk_model *m)
{
    if (!m->be) m->be = dk_backend_cpu(); /* a model that dk_model_create gave up on */
    free_acts(m);
    free_grads(m);
    if (m->dev_block && m->dev_block != m->param_block) m->be->release(m->dev_block);
    if (m->rope_cos) m->be->release(m->rope_cos);
    if (m->rope_sin) m->be->release(m->rope_sin);
    free(m->param_block);
    free(m->params.layers);
    free(m->dev.layers);
    free(m->tensors);
    dk_model_q8_free(m);
    memset(m, 0, sizeof *m);
}

int dk_model_use(dk_model *m, const dk_backend *be)
{
    if (be == m->be) return 0;
    if (m->q8) return dk_fail("int8 models run on the CPU only; quantized weights cannot move to %s", be->name);
    if (!m->be->host_memory) return dk_fail("the model is already on %s; it moves once, from the CPU", m->be->name);
    if (be->max_head_dim && m->head_dim > be->max_head_dim)
        return dk_fail("--device %s takes head_dim <= %d; this model's is %d", be->name, be->max_head_dim, m->head_dim);
    size_t rope = sizeof(float) * (size_t)m->cfg.max_position_embeddings * (size_t)(m->head_dim / 2);
    float *dev = be->alloc(sizeof(float) * m->nparams), *cs = be->alloc(rope), *sn = be->alloc(rope);
    dk_params bound = {0};
    if (!dev || !cs || !sn || dk_model_bind(m, dev, &bound)) {
        if (dev) be->release(dev);
        if (cs) be->release(cs);
        if (sn) be->release(sn);
        return -1;
    }
    be->upload(dev, m->param_block, sizeof(float) * m->nparams);
    be->upload(cs, m->rope_cos, rope);
    be->upload(sn, m->rope_sin, rope);
    free_acts(m);
    free_grads(m);
    m->be->release(m->rope_cos);
    m->be->release(m->rope_sin);
    free(m->dev.layers);
    m->be = be;
    m->dev_block = dev;
    m->dev = bound;
    m->rope_cos = cs;
    m->rope_sin = sn;
    return 0;
}

void dk_model_upload(dk_model *m)
{
    if (m->dev_block != m->param_block) m->be->upload(m->dev_block, m->param_block, sizeof(float) * m->nparams);
}

void dk_model_download(dk_model *m)
{
    if (m->dev_block != m->param_block) m->be->download(m->param_block, m->dev_block, sizeof(float) * m->nparams);
}

double dk_model_init_std(const dk_model *m, const dk_param_tensor *t)
{
    if (t->ndim == 1) return 0.0;
    return t->residual ? DK_INIT_STD / sqrt(2.0 * m->cfg.num_hidden_layers) : DK_INIT_STD;
}

/* Fixed-size chunks with their own seeds make initialisation parallel and
 * still independent of the thread count. */
#define INIT_CHUNK 65536

int dk_model_init(dk_model *m, uint64_t seed)
{
    for (int ti = 0; ti < m->ntensors; ti++) {
        const dk_param_tensor *t = &m->tensors[ti];
        float *w = m->param_block + t->offset;
        if (t->ndim == 1) {
            for (size_t i = 0; i < t->numel; i++) w[i] = 1.0f;
            continue;
        }
        double std = dk_model_init_std(m, t);
        long nchunks = (long)((t->numel + INIT_CHUNK - 1) / INIT_CHUNK);
#pragma omp parallel for schedule(static)
        for (long ch = 0; ch < nchunks; ch++) {
            dk_rng r;
            dk_rng_seed(&r, seed ^ ((uint64_t)(ti + 1) << 40) ^ (uint64_t)ch * 0x9e3779b97f4a7c15ULL);
            size_t i1 = (size_t)(ch + 1) * INIT_CHUNK < t->numel ? (size_t)(ch + 1) * INIT_CHUNK : t->numel;
            for (size_t i = (size_t)ch * INIT_CHUNK; i < i1; i++) w[i] = (float)(std * dk_rng_normal(&r));
        }
    }
    return 0;
}

/* Points each part at its place in one allocation of the backend's memory,
 * and an empty part at NULL. Each part starts on a 256-byte boundary: GPU matmul kernels need aligned
 * operands, and odd row counts (a 7-token prompt) would shift the rest. */
typedef struct {
    float **ptr;
    size_t n;
} act_part;

#define PART_ALIGN 64 /* floats */

static float *alloc_parts(const dk_backend *be, act_part *parts, size_t nparts)
{
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        parts[i].n = (parts[i].n + PART_ALIGN - 1) / PART_ALIGN * PART_ALIGN;
        total += parts[i].n;
    }
    float *block = be->alloc(total * sizeof(float)), *p = block;
    if (!block) {
        dk_fail("out of %s memory for activations (%zu MB)", be->name, total * 4 >> 20);
        return NULL;
    }
    for (size_t i = 0; i < nparts; i++) {
        *parts[i].ptr = parts[i].n ? p : NULL;
        p += parts[i].n;
    }
    return block;
}

int dk_model_alloc_acts(dk_model *m, int B, int T, int S, bool training)
{
    const dk_model_config *c = &m->cfg;
    const dk_backend *be = m->be;
    size_t C = (size_t)c->hidden_size, I = (size_t)c->intermediate_size, L = (size_t)c->num_hidden_layers,
           V = (size_t)c->vocab_size, NH = (size_t)c->num_attention_heads, HD = (size_t)m->head_dim,
           qd = NH * HD, kvd = HD * (size_t)c->num_key_value_heads;
    /* Inference keeps one layer's activations (shared by all layers) and a
     * per-layer KV cache. */
    bool per_layer = training && !m->recompute, lowp = training && be->round_operand,
         bf16 = training && be->bf16_products;
    size_t Lact = per_layer ? L : 1, BT = (size_t)B * (size_t)T, Lkv = training && !per_layer ? 1 : L;
    dk_acts *a = &m->acts;
    free_acts(m);
    a->B = B;
    a->T = T;
    a->S = S;
    a->training = training;
    a->per_layer = per_layer;
    act_part parts[] = {
        {&a->residual, ((training ? L : 1) + 1) * BT * C},
        {&a->ln1, lowp ? 0 : Lact * BT * C},
        {&a->ln1_rstd, Lact * BT},
        /* kept in bf16 (bf16 products), q and k pass through one layer's fp32 room on their way through RoPE */
        {&a->q, (bf16 ? 1 : Lact) * BT * qd},
        {&a->k, (bf16 ? 1 : Lkv) * (size_t)B * (size_t)S * kvd},
        {&a->v, bf16 ? 0 : Lkv * (size_t)B * (size_t)S * kvd},
        {&a->att, Lact * be->attention_floats(B, (int)NH, T, S)},
        {&a->atty, Lact * BT * qd},
        {&a->res_mid, Lact * BT * C},
        {&a->ln2, lowp ? 0 : Lact * BT * C},
        {&a->ln2_rstd, Lact * BT},
        {&a->gate, bf16 ? 0 : Lact * BT * I},
        {&a->up, bf16 ? 0 : Lact * BT * I},
        {&a->hmlp, lowp ? 0 : Lact * BT * I},
        {&a->ln1_lp, lowp ? Lact * DK_HALVES(BT * C) : 0},
        {&a->atty_lp, lowp ? Lact * DK_HALVES(BT * qd) : 0},
        {&a->ln2_lp, lowp ? Lact * DK_HALVES(BT * C) : 0},
        {&a->hmlp_lp, lowp ? Lact * DK_HALVES(BT * I) : 0},
        {&a->params_lp, lowp ? DK_HALVES(m->nparams) : 0},
        {&a->q_lp, bf16 ? Lact * DK_HALVES(BT * qd) : 0},
        {&a->k_lp, bf16 ? Lact * DK_HALVES(BT * kvd) : 0},
        {&a->v_lp, bf16 ? Lact * DK_HALVES(BT * kvd) : 0},
        {&a->gate_lp, bf16 ? Lact * DK_HALVES(BT * I) : 0},
        {&a->up_lp, bf16 ? Lact * DK_HALVES(BT * I) : 0},
        {&a->lnf, BT * C},
        {&a->lnf_rstd, BT},
        {&a->logits, training ? be->logits_floats((int)BT, (int)V) : (size_t)B * V},
        {&a->lse, BT},
        {&a->losses, BT},
        {&a->knew, training ? 0 : BT * kvd},
        {&a->vnew, training ? 0 : BT * kvd},
    };
    a->block = alloc_parts(be, parts, sizeof parts / sizeof *parts);
    a->tokens = dk_calloc(BT, sizeof(int));
    a->targets = dk_calloc(BT, sizeof(int));
    if (!training) a->ints = dk_calloc(BT + 2 * (size_t)B, sizeof(int));
    if (!a->block || !a->tokens || !a->targets || (!training && !a->ints)) return -1;
    if (!be->host_memory) {
        /* tokens, targets, pos, seg (B, T) and slot, start (B) */
        a->dev_ints = be->alloc(sizeof(int) * (4 * BT + 2 * (size_t)B));
        a->host_ints = dk_calloc(4 * BT + 2 * (size_t)B, sizeof(int));
        a->host_out = dk_calloc(BT > (size_t)B * V ? BT : (size_t)B * V, sizeof(float));
        if (!a->dev_ints || !a->host_ints || !a->host_out) return -1;
    }
    if (!training) return 0;

    dk_grad_acts *g = &m->gacts;
    act_part gparts[] = {
        {&g->dres, BT * C}, {&g->dln, BT * C},   {&g->dq, BT * qd},  {&g->dk, BT * kvd},
        {&g->dv, lowp ? 0 : BT * kvd}, {&g->datty, BT * qd}, {&g->datt, be->attention_scratch_floats(B, (int)NH, T)},
        {&g->dgate, lowp ? 0 : BT * I}, {&g->dup, lowp ? 0 : BT * I}, {&g->dh, BT * I},
        {&g->dres_lp, lowp ? DK_HALVES(BT * C) : 0}, {&g->dq_lp, lowp ? DK_HALVES(BT * qd) : 0},
        {&g->dk_lp, lowp ? DK_HALVES(BT * kvd) : 0}, {&g->dv_lp, lowp ? DK_HALVES(BT * kvd) : 0},
        {&g->dgate_lp, lowp ? DK_HALVES(BT * I) : 0}, {&g->dup_lp, lowp ? DK_HALVES(BT * I) : 0},
    };
    g->block = alloc_parts(be, gparts, sizeof gparts / sizeof *gparts);
    if (!g->block) return -1;
    if (!m->grad_block) {
        m->grad_block = be->alloc(m->nparams * sizeof(float));
        if (!m->grad_block || dk_model_bind(m, m->grad_block, &m->grads)) return -1;
    }
    return 0;
}

void dk_model_zero_grad(dk_model *m) { m->be->zero(m->grad_block, m->nparams * sizeof(float)); }

double dk_model_flops_per_token(const dk_model_config *c, int T)
{
    /* 6 flops per weight per token for the matmuls (2 forward, 4 backward),
     * plus attention's QK^T and AV over the full T x T (we compute the whole
     * square and mask it). The embedding lookup is not a matmul. */
    double C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers, V = c->vocab_size;
    double HD = C / c->num_attention_heads, qd = C, kvd = HD * c->num_key_value_heads;
    double per_layer = C * qd * 2 + C * kvd * 2 + 3 * C * I;
    double matmul = L * per_layer + V * C;
    double attention = L * 2.0 * 2.0 * T * qd; /* QK^T and AV, forward */
    return 6.0 * matmul + 3.0 * attention;
}
