#include <math.h>

#include "dokja/layers.h"

void dk_swiglu_forward(float *h, const float *gate, const float *up, long n)
{
#pragma omp parallel for schedule(static) if (n >= DK_PARALLEL_MIN)
    for (long i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void dk_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, long n)
{
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float g = gate[i], sig = 1.0f / (1.0f + expf(-g));
        dup[i] = dh[i] * g * sig;
        dgate[i] = dh[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}
