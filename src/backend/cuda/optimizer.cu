/* AdamW and the gradient norm's sum of squares, as src/train/adamw.c. */
#include "cuda.h"

__global__ void adamw_kernel(float *p, const float *g, float *m, float *v, long n, dk_adamw_args a)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = g[i] * a.grad_scale;
    float pi = p[i] * a.decay;
    float mi = m[i] * a.beta1 + gi * (1.0f - a.beta1);
    float vi = v[i] * a.beta2 + (1.0f - a.beta2) * gi * gi;
    float denom = sqrtf(vi) / a.bc2_sqrt + a.eps;
    p[i] = pi - a.step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
}

void dk_cuda_adamw(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a)
{
    if (n <= 0) return;
    adamw_kernel<<<dk_blocks((size_t)n, 256), 256>>>(p, g, m, v, n, *a);
    DK_CUDA_LAUNCHED();
}

#define NORM_CHUNK 65536

/* One block per chunk, in double; the host adds the chunks in order. */
__global__ void sumsq_kernel(double *partial, const float *x, size_t n)
{
    __shared__ double shared[32];
    size_t lo = (size_t)blockIdx.x * NORM_CHUNK, hi = lo + NORM_CHUNK < n ? lo + NORM_CHUNK : n;
    double s = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += blockDim.x) s += (double)x[i] * x[i];
    s = dk_block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

double dk_cuda_sumsq(const float *x, size_t n)
{
    if (n == 0) return 0.0;
    size_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *dev = (double *)dk_cuda_scratch(DK_SCRATCH_REDUCE, chunks * sizeof(double));
    double *host = (double *)dk_cuda_host_scratch(DK_SCRATCH_REDUCE, chunks * sizeof(double));
    sumsq_kernel<<<(unsigned)chunks, 256>>>(dev, x, n);
    DK_CUDA_LAUNCHED();
    DK_CUDA(cudaMemcpy(host, dev, chunks * sizeof(double), cudaMemcpyDeviceToHost));
    double total = 0.0;
    for (size_t c = 0; c < chunks; c++) total += host[c];
    return total;
}
