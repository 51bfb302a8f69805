#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/train.h"

static int create_range(dk_adamw *o, size_t n, size_t lo, size_t hi)
{
    memset(o, 0, sizeof *o);
    o->n = n;
    o->lo = lo;
    o->hi = hi;
    o->m = dk_calloc(hi - lo, sizeof(float));
    o->v = dk_calloc(hi - lo, sizeof(float));
    if (!o->m || !o->v) {
        dk_adamw_free(o);
        return -1;
    }
    return 0;
}

int dk_adamw_create(dk_adamw *o, size_t n) { return create_range(o, n, 0, n); }

int dk_adamw_create_sharded(dk_adamw *o, size_t n, const dk_dist *d)
{
    size_t lo, hi;
    dk_dist_shard(d, d->rank, n, &lo, &hi);
    if (create_range(o, n, lo, hi)) return -1;
    o->dist = d;
    if (d->size > 1 && dk_reducer_create(&o->reducer, d, n)) {
        dk_adamw_free(o);
        return -1;
    }
    return 0;
}

void dk_adamw_free(dk_adamw *o)
{
    if (o->be) {
        o->be->release(o->m);
        o->be->release(o->v);
    } else {
        free(o->m);
        free(o->v);
    }
    dk_reducer_free(o->reducer);
    dk_nccl_free(o->nccl);
    memset(o, 0, sizeof *o);
}

int dk_adamw_use(dk_adamw *o, const dk_backend *be)
{
    if (be->host_memory) return 0;
    if (o->dist && o->dist->size > 1) {
        if (dk_nccl_create(&o->nccl, o->dist, o->n)) return -1;
        dk_reducer_free(o->reducer);
        o->reducer = NULL;
    }
    size_t bytes = sizeof(float) * (o->hi - o->lo);
    float *m = be->alloc(bytes), *v = be->alloc(bytes);
    if (!m || !v) {
        if (m) be->release(m);
        if (v) be->release(v);
        return -1;
    }
    be->upload(m, o->m, bytes);
    be->upload(v, o->v, bytes);
    free(o->m);
    free(o->v);
    o->m = m, o->v = v, o->be = be;
    return 0;
}

int dk_adamw_download(const dk_adamw *o, float *m, float *v)
{
    size_t bytes = sizeof(float) * (o->hi - o->lo);
    if (!o->be) {
        memcpy(m, o->m, bytes);
        memcpy(v, o->v, bytes);
    } else {
        o->be->download(m, o->m, bytes);
        o->be->download(v, o->v, bytes);
    }
    return 0;
}

void dk_adamw_step(dk_adamw *o, dk_model *model, const dk_train_config *c, int64_t t, float lr, float grad_scale)
{
    /* The same operations in the same order as torch.optim.AdamW. */
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    dk_adamw_args a = {.beta1 = (float)c->beta1, .beta2 = (float)c->beta2, .eps = (float)c->adam_eps,
                       .step_size = (float)(lr / bc1), .bc2_sqrt = (float)sqrt(bc2), .grad_scale = grad_scale};
    for (int ti = 0; ti < model->ntensors; ti++) {
        const dk_param_tensor *tt = &model->tensors[ti];
        /* the part of this tensor inside [lo, hi) */
        size_t lo = tt->offset > o->lo ? tt->offset : o->lo, hi = tt->offset + tt->numel < o->hi ? tt->offset + tt->numel : o->hi;
        if (lo >= hi) continue;
        a.decay = tt->decay ? 1.0f - lr * (float)c->weight_decay : 1.0f;
        model->be->adamw(model->dev_block + lo, model->grad_block + lo, o->m + (lo - o->lo), o->v + (lo - o->lo),
                         (long)(hi - lo), &a);
    }
}

void dk_adamw_update(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a)
{
    float b1 = a->beta1, b2 = a->beta2;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float gi = g[i] * a->grad_scale; /* clipping, fused: one pass over the gradients */
        p[i] *= a->decay;
        m[i] = m[i] * b1 + gi * (1.0f - b1);
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / a->bc2_sqrt + a->eps;
        p[i] -= a->step_size * (m[i] / denom);
    }
}

#define NORM_CHUNK 65536

double dk_grad_sumsq(const float *g, size_t n)
{
    long nchunks = (long)((n + NORM_CHUNK - 1) / NORM_CHUNK);
    double *partial = calloc((size_t)nchunks + 1, sizeof(double));
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nchunks; ch++) {
        size_t i1 = (size_t)(ch + 1) * NORM_CHUNK < n ? (size_t)(ch + 1) * NORM_CHUNK : n;
        double s = 0.0;
        for (size_t i = (size_t)ch * NORM_CHUNK; i < i1; i++) s += (double)g[i] * g[i];
        partial[ch] = s;
    }
    double total = 0.0;
    for (long ch = 0; ch < nchunks; ch++) total += partial[ch];
    free(partial);
    return total;
}
