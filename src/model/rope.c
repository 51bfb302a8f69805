#include <math.h>

#include "dokja/layers.h"

void dk_rope_tables(float *cos_t, float *sin_t, int P, int HD, double theta)
{
    int half = HD / 2;
    for (int i = 0; i < half; i++) {
        /* HF: inv_freq = 1 / theta ** (arange(0, HD, 2) / HD), all in float32 */
        float inv = 1.0f / powf((float)theta, (float)(2 * i) / (float)HD);
        for (int p = 0; p < P; p++) {
            float angle = (float)p * inv;
            cos_t[(size_t)p * half + i] = (float)cos((double)angle);
            sin_t[(size_t)p * half + i] = (float)sin((double)angle);
        }
    }
}

/* Rotates pairs (i, i + HD/2) of every head by the position's angle, times
 * `sign` (+1 forward, -1 for the gradient). */
static void rotate(float *x, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, int pos0, const int *pos,
                   float sign)
{
    int half = HD / 2;
#pragma omp parallel for collapse(2) schedule(static) if ((long)B * T * H * HD >= DK_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int p = pos ? pos[(size_t)b * T + t] : pos0 + t;
            const float *c = cos_t + (size_t)p * half, *s = sin_t + (size_t)p * half;
            for (int h = 0; h < H; h++) {
                float *v = x + (((size_t)b * T + t) * H + h) * HD;
                for (int i = 0; i < half; i++) {
                    float x1 = v[i], x2 = v[i + half], sn = sign * s[i];
                    v[i] = x1 * c[i] - x2 * sn;
                    v[i + half] = x2 * c[i] + x1 * sn;
                }
            }
        }
}

void dk_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, int pos0, const int *pos)
{
    rotate(x, cos_t, sin_t, B, T, H, HD, pos0, pos, 1.0f);
}

void dk_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, const int *pos)
{
    rotate(dx, cos_t, sin_t, B, T, H, HD, 0, pos, -1.0f);
}
