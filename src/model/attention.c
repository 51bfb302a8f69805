#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "dokja/layers.h"

/* Each (batch, head) pair is one task: scores by sgemm, causal softmax, then
 * the weighted sum of values by sgemm. OpenBLAS runs single-threaded inside
 * our parallel region, so tasks never share a core. */
void dk_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int B, int T, int S, int pos0,
                          const int *start, const int *slot, int NH, int NKV, int HD, const int *seg)
{
    int group = NH / NKV, qs = NH * HD, kvs = NKV * HD;
    float scale = 1.0f / sqrtf((float)HD);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int g = h / group, p0 = start ? start[b] : pos0, keys = p0 + T;
            size_t sb = (size_t)(slot ? slot[b] : b) * S * kvs;
            const float *qb = q + (size_t)b * T * qs + (size_t)h * HD;
            const float *kb = k + sb + (size_t)g * HD;
            const float *vb = v + sb + (size_t)g * HD;
            float *a = att + ((size_t)b * NH + h) * T * S;
            /* a (T, keys) = q (T, HD) @ k (keys, HD)^T * scale */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, keys, HD, scale, qb, qs, kb, kvs, 0.0f, a, S);
            for (int t = 0; t < T; t++) {
                float *row = a + (size_t)t * S;
                /* causal: keys first..pos0+t, first > 0 inside a packed row */
                int first = seg ? seg[(size_t)b * T + t] : 0, n = p0 + t + 1;
                float mx = row[first];
                for (int j = first + 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
                for (int j = first; j < n; j++) {
                    row[j] = expf(row[j] - mx);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < first; j++) row[j] = 0.0f;
                for (int j = first; j < n; j++) row[j] *= inv;
                for (int j = n; j < S; j++) row[j] = 0.0f;
            }
            /* out (T, HD) = a (T, keys) @ v (keys, HD) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, keys, 1.0f, a, S, vb, kvs, 0.0f,
                        out + (size_t)b * T * qs + (size_t)h * HD, qs);
        }
}

/* Tasks are (batch, kv head): the query heads of a group add into the same
 * dk and dv rows one after another, so no two threads write the same memory
 * and the sums keep their order. */
void dk_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att, const float *q,
                           const float *k, const float *v, int B, int T, int NH, int NKV, int HD)
{
    int group = NH / NKV, qs = NH * HD, kvs = NKV * HD;
    float scale = 1.0f / sqrtf((float)HD);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < NKV; g++) {
            float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
            const float *kb = k + (size_t)b * T * kvs + (size_t)g * HD;
            const float *vb = v + (size_t)b * T * kvs + (size_t)g * HD;
            float *dkb = dk + (size_t)b * T * kvs + (size_t)g * HD;
            float *dvb = dv + (size_t)b * T * kvs + (size_t)g * HD;
            for (int hi = 0; hi < group; hi++) {
                int h = g * group + hi;
                float beta = hi == 0 ? 0.0f : 1.0f;
                const float *a = att + ((size_t)b * NH + h) * T * T;
                const float *qb = q + (size_t)b * T * qs + (size_t)h * HD;
                const float *gb = dout + (size_t)b * T * qs + (size_t)h * HD;
                /* dv (T, HD) += a^T (T, T) @ dout (T, HD) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, a, T, gb, qs, beta, dvb, kvs);
                /* da (T, T) = dout (T, HD) @ v^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, 1.0f, gb, qs, vb, kvs, 0.0f, ds, T);
                /* softmax backward: ds = a * (da - sum(da * a)) * scale, causal part only */
                for (int t = 0; t < T; t++) {
                    const float *ar = a + (size_t)t * T;
                    float *dr = ds + (size_t)t * T;
                    float dot = 0.0f;
                    for (int j = 0; j <= t; j++) dot += dr[j] * ar[j];
                    for (int j = 0; j <= t; j++) dr[j] = ar[j] * (dr[j] - dot) * scale;
                    for (int j = t + 1; j < T; j++) dr[j] = 0.0f;
                }
                /* dq (T, HD) = ds @ k; dk (T, HD) += ds^T @ q */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, ds, T, kb, kvs, 0.0f,
                            dq + (size_t)b * T * qs + (size_t)h * HD, qs);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, ds, T, qb, qs, beta, dkb, kvs);
            }
        }
}
