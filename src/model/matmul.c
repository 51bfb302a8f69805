#include <cblas.h>

#include "dokja/layers.h"

void dk_matmul_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, weight, IC, 0.0f, out, OC);
}

void dk_matmul_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight, int N, int IC,
                        int OC, bool accumulate)
{
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, weight, IC, accumulate ? 1.0f : 0.0f,
                    dinp, IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dweight, IC);
}

/* Decoding's kernel: four weight rows at a time against one input row, each
 * in 16 independent lanes. The compiler vectorises the lanes without
 * reordering any sum; four rows give four memory streams and reuse each load
 * of the input. Every output's sum runs in the same order whatever N is. */
#define LANES 16

static void dot_rows(const float *w, size_t ld, int rows, const float *x, int n, float *out)
{
    float acc[4][LANES] = {{0}};
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float xv = x[i + j];
            acc[0][j] += w[i + j] * xv;
            acc[1][j] += w[ld + i + j] * xv;
            acc[2][j] += w[2 * ld + i + j] * xv;
            acc[3][j] += w[3 * ld + i + j] * xv;
        }
    for (int r = 0; r < rows; r++) {
        float s = 0.0f;
        for (int k = i; k < n; k++) s += w[r * ld + k] * x[k];
        for (int j = 0; j < LANES; j++) s += acc[r][j];
        out[r] = s;
    }
}

void dk_matmul_rows_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC)
{
    /* Four weight rows are read once and stay in L1 while the N rows use them. */
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o += 4) {
        float r[4];
        int rows = OC - o < 4 ? OC - o : 4;
        /* a last block of fewer rows reads its own rows only: the others point at row o */
        const float *w = weight + (size_t)o * IC;
        for (int n = 0; n < N; n++) {
            if (rows == 4) dot_rows(w, (size_t)IC, 4, inp + (size_t)n * IC, IC, r);
            else
                for (int k = 0; k < rows; k++) dot_rows(w + (size_t)k * IC, 0, 1, inp + (size_t)n * IC, IC, r + k);
            for (int k = 0; k < rows; k++) out[(size_t)n * OC + o + k] = r[k];
        }
    }
}
