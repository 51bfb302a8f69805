#include "dokja/layers.h"

void dk_residual_forward(float *out, const float *a, const float *b, long n)
{
#pragma omp parallel for schedule(static) if (n >= DK_PARALLEL_MIN)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}
