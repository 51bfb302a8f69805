#include <math.h>

#include "dokja/layers.h"

int dk_crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets, int N, int V)
{
    int counted = 0;
#pragma omp parallel for schedule(static) reduction(+ : counted)
    for (int i = 0; i < N; i++) {
        const float *z = logits + (size_t)i * V;
        float mx = z[0];
        for (int j = 1; j < V; j++) mx = z[j] > mx ? z[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < V; j++) sum += expf(z[j] - mx);
        lse[i] = mx + (float)log(sum);
        if (targets[i] < 0) {
            losses[i] = 0.0f;
        } else {
            losses[i] = lse[i] - z[targets[i]];
            counted++;
        }
    }
    return counted;
}

void dk_crossentropy_backward(float *logits, const float *lse, const int *targets, int N, int V, float dloss)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *z = logits + (size_t)i * V;
        if (targets[i] < 0) {
            for (int j = 0; j < V; j++) z[j] = 0.0f;
            continue;
        }
        for (int j = 0; j < V; j++) z[j] = expf(z[j] - lse[i]) * dloss;
        z[targets[i]] -= dloss;
    }
}
