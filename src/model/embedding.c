#include "dokja/layers.h"

#include <string.h>

void dk_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= DK_PARALLEL_MIN)
    for (int i = 0; i < N; i++) memcpy(out + (size_t)i * C, wte + (size_t)tokens[i] * C, sizeof(float) * (size_t)C);
}

void dk_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C)
{
    /* Threads own columns, and rows are added in order, so repeated tokens
     * sum in the same order whatever the thread count. */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += 64) {
        int c1 = c0 + 64 < C ? c0 + 64 : C;
        for (int i = 0; i < N; i++) {
            float *d = dwte + (size_t)tokens[i] * C;
            const float *g = dout + (size_t)i * C;
            for (int c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}
