/* The CUDA backend's shared pieces: one stream (the default one, so every
 * call is ordered after the last), the cuBLASLt handle, scratch memory and
 * the kernels of each file. Compiled by nvcc only. */
#ifndef DK_CUDA_H
#define DK_CUDA_H

#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <stddef.h>

extern "C" {
#include "dokja/backend.h"
#include "dokja/dist.h"
#include "dokja/error.h"
}

/* A failed CUDA call mid-step leaves the device in an unknown state: dokja
 * stops with the call and the driver's message (allocation failures are
 * returned instead, by dk_cuda_alloc). */
#define DK_CUDA(call) dk_cuda_check((call), #call, __FILE__, __LINE__)
void dk_cuda_check(cudaError_t e, const char *what, const char *file, int line);
/* After a kernel launch: its configuration errors. */
#define DK_CUDA_LAUNCHED() DK_CUDA(cudaGetLastError())

/* Scratch device memory that grows as needed; slot names one buffer each. */
enum { DK_SCRATCH_A, DK_SCRATCH_B, DK_SCRATCH_W, DK_SCRATCH_HEAD, DK_SCRATCH_REDUCE, DK_SCRATCH_INTS, DK_SCRATCH_COUNT };
void *dk_cuda_scratch(int slot, size_t bytes);
/* The compute capability's major number of the GPU in use (0: unknown). */
int dk_cuda_compute_major(void);
/* Kernels whose shared memory passes the default 48 KiB opt in (once for
 * each kernel and size). */
void dk_cuda_allow_smem(const void *kernel, size_t bytes);
/* Host memory of the same kind (pinned is not needed: the copies are small). */
void *dk_cuda_host_scratch(int slot, size_t bytes);

static inline unsigned dk_blocks(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

/* matmul.cu: D (m, n) = op(A) op(B) + beta C, column-major as BLAS, with A
 * and B already in the precision (bf16 or fp32), C and D fp32 (bf16 with
 * out_bf16, for bf16 operands) with the same ld (C may be D; it is not read
 * when beta = 0). */
void dk_cuda_gemm_raw(bool bf16, bool ta, bool tb, int m, int n, int k, const void *A, int lda, const void *B, int ldb,
                      const void *C, void *D, bool out_bf16, int ldc, float beta);
/* An operand in the matmul precision: x.x itself for fp32, else x.lp where
 * there is one, else the n floats of x.x rounded to bf16 in scratch `slot`
 * (valid until that slot is used again). */
const void *dk_cuda_operand(bool bf16, int slot, dk_operand x, size_t n);
void dk_cuda_matmul_forward(bool bf16, float *out, void *out_lp, dk_operand inp, dk_operand weight, const float *residual,
                            int N, int IC, int OC);
void dk_cuda_matmul_backward(bool bf16, float *dinp, float *dweight, dk_operand dout, dk_operand inp, dk_operand weight, int N,
                             int IC, int OC, bool accumulate);
void dk_cuda_round_bf16(void *dst, const float *x, size_t n);
/* Where a kernel writes an output value: into out (when not NULL) and, when
 * lp is not NULL, its bf16 rounding into lp (backend.h's *_lp outputs). */
__device__ inline void dk_store(float *out, __nv_bfloat16 *lp, size_t i, float v)
{
    if (out) out[i] = v;
    if (lp) lp[i] = __float2bfloat16_rn(v);
}
/* Element i of an input, from its bf16 values x.lp where it has them (kept
 * in bf16 alone), else from x.x. */
__device__ inline float dk_load(dk_operand x, size_t i)
{
    return x.lp ? __bfloat162float(((const __nv_bfloat16 *)x.lp)[i]) : x.x[i];
}
/* Decoding's fp32 kernel: a row's result does not depend on N. */
void dk_cuda_matmul_rows_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC);

/* layers.cu */
void dk_cuda_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C);
void dk_cuda_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);
void dk_cuda_rmsnorm_forward(float *out, void *out_lp, float *rstd, const float *inp, const float *weight, int N, int C,
                             float eps);
void dk_cuda_rmsnorm_backward(float *dinp, void *dinp_lp, float *dweight, const float *dout, const float *inp,
                              const float *weight, const float *rstd, int N, int C);
void dk_cuda_rope_forward(float *x, void *x_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                          int pos0, const int *pos);
void dk_cuda_rope_backward(float *dx, void *dx_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                           const int *pos);
void dk_cuda_kv_store(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start, int B,
                      int T, int S, int pos0, int kvd);
void dk_cuda_swiglu_forward(float *h, void *h_lp, dk_operand gate, dk_operand up, long n);
void dk_cuda_swiglu_backward(float *dgate, float *dup, void *dgate_lp, void *dup_lp, const float *dh, dk_operand gate,
                             dk_operand up, long n);
void dk_cuda_residual_forward(float *out, const float *a, const float *b, long n);

/* attention.cu */
size_t dk_cuda_attention_floats(int B, int NH, int T, int S);
size_t dk_cuda_attention_scratch_floats(int B, int NH, int T);
void dk_cuda_attention_forward(bool bf16, float *out, void *out_lp, float *lse, dk_operand q, dk_operand k, dk_operand v,
                               int B, int T, int S, int pos0, const int *start, const int *slot, int NH, int NKV, int HD,
                               const int *seg);
void dk_cuda_attention_backward(bool bf16, float *dq, float *dk, float *dv, void *dv_lp, float *scratch, const float *dout,
                                const float *out, const float *lse, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                int NH, int NKV, int HD, const int *seg);

/* classifier.cu */
size_t dk_cuda_logits_floats(int N, int V);
void dk_cuda_classifier(bool bf16, float *losses, float *lse, float *logits, const float *x, const float *w,
                        const int *targets, int N, int C, int V, float *dx, float *dw, float dloss);

/* optimizer.cu */
void dk_cuda_adamw(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a);
double dk_cuda_sumsq(const float *x, size_t n);

/* Deterministic block reductions: a fixed tree, so the same inputs sum in
 * the same order on every run. blockDim.x must be a multiple of 32, at most
 * 1024; `shared` holds 32 values. Every thread gets the total. */
template <typename F> __device__ inline F dk_warp_sum(F x)
{
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
__device__ inline float dk_warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}
template <typename F> __device__ inline F dk_block_sum(F x, F *shared)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    x = dk_warp_sum(x);
    __syncthreads(); /* shared may still be read by a previous call */
    if (lane == 0) shared[warp] = x;
    __syncthreads();
    x = lane < warps ? shared[lane] : (F)0;
    return dk_warp_sum(x);
}

#endif
