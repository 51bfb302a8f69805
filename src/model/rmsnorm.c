#include <math.h>
#include <stdlib.h>

#include "dokja/layers.h"

void dk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= DK_PARALLEL_MIN)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float ss = 0.0f;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[i] = r;
        for (int c = 0; c < C; c++) o[c] = x[c] * r * weight[c];
    }
}

/* The weight gradient sums over rows: rows are cut into a fixed number of
 * chunks, each summed apart, then the chunks in order, so the result does
 * not depend on the thread count. */
#define RMSNORM_CHUNKS 16

void dk_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int N, int C)
{
    float *partial = calloc((size_t)RMSNORM_CHUNKS * C, sizeof(float));
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < RMSNORM_CHUNKS; ch++) {
        int i0 = (int)((long)N * ch / RMSNORM_CHUNKS), i1 = (int)((long)N * (ch + 1) / RMSNORM_CHUNKS);
        float *pw = partial + (size_t)ch * C;
        for (int i = i0; i < i1; i++) {
            const float *x = inp + (size_t)i * C, *g = dout + (size_t)i * C;
            float *dx = dinp + (size_t)i * C;
            float r = rstd[i];
            /* y = x r w: dx = r (g w) - x r^3 mean(g w x) */
            float dot = 0.0f;
            for (int c = 0; c < C; c++) {
                dot += g[c] * weight[c] * x[c];
                pw[c] += g[c] * x[c] * r;
            }
            float k = dot * r * r * r / (float)C;
            for (int c = 0; c < C; c++) dx[c] += g[c] * weight[c] * r - x[c] * k;
        }
    }
    for (int ch = 0; ch < RMSNORM_CHUNKS; ch++)
        for (int c = 0; c < C; c++) dweight[c] += partial[(size_t)ch * C + c];
    free(partial);
}
