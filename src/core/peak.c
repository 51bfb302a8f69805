#include "dokja/peak.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

#include "dokja/progress.h"

double dk_sgemm_peak(int n, double seconds)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof(float)), *b = malloc(nn * sizeof(float)), *c = malloc(nn * sizeof(float));
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    double best = 0, start = dk_now();
    for (int rep = 0; rep < 3 || dk_now() - start < seconds; rep++) {
        double t0 = dk_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = dk_now() - t0;
        double f = 2.0 * n * (double)n * n / dt;
        if (f > best) best = f;
        if (rep > 1000) break;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

void dk_set_threads(int threads)
{
    if (threads <= 0) return;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}
