#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/train.h"

int dk_adamw_create(dk_adamw *o, size_t n)
{
    o->n = n;
    o->m = dk_calloc(n, sizeof(float));
    o->v = dk_calloc(n, sizeof(float));
    if (!o->m || !o->v) {
        dk_adamw_free(o);
        return -1;
    }
    return 0;
}

void dk_adamw_free(dk_adamw *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

void dk_adamw_step(dk_adamw *o, dk_model *model, const dk_train_config *c, int64_t t, float lr, float grad_scale)
{
    /* The same operations in the same order as torch.optim.AdamW. */
    float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->adam_eps;
    double bc1 = 1.0 - pow(c->beta1, (double)t), bc2 = 1.0 - pow(c->beta2, (double)t);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (int ti = 0; ti < model->ntensors; ti++) {
        const dk_param_tensor *tt = &model->tensors[ti];
        float *p = model->param_block + tt->offset, *g = model->grad_block + tt->offset;
        float *m = o->m + tt->offset, *v = o->v + tt->offset;
        float decay = tt->decay ? 1.0f - lr * (float)c->weight_decay : 1.0f;
        long n = (long)tt->numel;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            float gi = g[i] * grad_scale; /* clipping, fused: one pass over the gradients */
            p[i] *= decay;
            m[i] = m[i] * b1 + gi * (1.0f - b1);
            v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
            float denom = sqrtf(v[i]) / bc2_sqrt + eps;
            p[i] -= step_size * (m[i] / denom);
        }
    }
}

#define NORM_CHUNK 65536

double dk_grad_norm(const float *g, size_t n)
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
    return sqrt(total);
}
