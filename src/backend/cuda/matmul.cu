/* Matmuls through cuBLASLt, fp32 or with bf16 operands (fp32 accumulation
 * and output), and the measured peak they are judged against. */
#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda.h"

#define DK_CUBLAS(call) cublas_check((call), #call, __FILE__, __LINE__)
static void cublas_check(cublasStatus_t s, const char *what, const char *file, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS) return;
    char msg[512];
    snprintf(msg, sizeof msg, "cuBLASLt: status %d (%s) at %s:%d", (int)s, what, file, line);
    dk_dist_fatal(msg);
}

#define WORKSPACE_BYTES ((size_t)32 << 20)

/* What cuBLASLt is set up for, per shape and operand alignment: the
 * descriptors and the algorithm its heuristic picks, kept, since asking
 * again for every call would cost more than small matmuls do. */
typedef struct {
    bool ta, tb, bf16, out_bf16;
    int m, n, k, lda, ldb, ldc;
    uint32_t align[4]; /* bytes of A, B, C, D */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} plan;

#define MAX_PLANS 512

static struct {
    cublasLtHandle_t lt;
    void *workspace;
    plan plans[MAX_PLANS];
    int nplans;
} g;

static cublasLtMatrixLayout_t layout(cudaDataType t, int rows, int cols, int ld)
{
    cublasLtMatrixLayout_t l;
    DK_CUBLAS(cublasLtMatrixLayoutCreate(&l, t, (uint64_t)rows, (uint64_t)cols, ld));
    return l;
}

/* The largest power of two (up to 256) that divides the address. */
static uint32_t alignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t al = 256;
    while (al > 4 && a % al) al /= 2;
    return al;
}

static bool same(const plan *p, const plan *key)
{
    return p->ta == key->ta && p->tb == key->tb && p->bf16 == key->bf16 && p->out_bf16 == key->out_bf16 &&
           p->m == key->m && p->n == key->n && p->k == key->k && p->lda == key->lda && p->ldb == key->ldb &&
           p->ldc == key->ldc && !memcmp(p->align, key->align, sizeof p->align);
}

/* Determinism: split-K reductions are allowed only in place, in a fixed
 * order (algorithms without split-K always pass the mask). */
static const plan *find_plan(const plan *key)
{
    for (int i = 0; i < g.nplans; i++)
        if (same(&g.plans[i], key)) return &g.plans[i];
    if (!g.lt) {
        DK_CUBLAS(cublasLtCreate(&g.lt));
        DK_CUDA(cudaMalloc(&g.workspace, WORKSPACE_BYTES));
    }
    plan p = *key;
    cudaDataType ab = p.bf16 ? CUDA_R_16BF : CUDA_R_32F;
    DK_CUBLAS(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t opa = p.ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = p.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    DK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    DK_CUBLAS(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    /* stored shapes, before the op */
    p.la = p.ta ? layout(ab, p.k, p.m, p.lda) : layout(ab, p.m, p.k, p.lda);
    p.lb = p.tb ? layout(ab, p.n, p.k, p.ldb) : layout(ab, p.k, p.n, p.ldb);
    p.lc = layout(p.out_bf16 ? CUDA_R_16BF : CUDA_R_32F, p.m, p.n, p.ldc);
    cublasLtMatmulPreference_t pref;
    DK_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = WORKSPACE_BYTES;
    uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_INPLACE;
    DK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    DK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof schemes));
    /* the heuristic assumes 256-byte operands unless told */
    const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; i++)
        DK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i], &p.align[i], sizeof(uint32_t)));
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    DK_CUBLAS(cublasLtMatmulAlgoGetHeuristic(g.lt, p.desc, p.la, p.lb, p.lc, p.lc, pref, 1, &r, &found));
    DK_CUBLAS(cublasLtMatmulPreferenceDestroy(pref));
    if (!found) {
        char msg[128];
        snprintf(msg, sizeof msg, "cuBLASLt has no algorithm for a %d x %d x %d matmul", p.m, p.n, p.k);
        dk_dist_fatal(msg);
    }
    p.algo = r.algo;
    if (g.nplans == MAX_PLANS) { /* a run with this many shapes starts over */
        for (int i = 0; i < g.nplans; i++) {
            cublasLtMatrixLayoutDestroy(g.plans[i].la);
            cublasLtMatrixLayoutDestroy(g.plans[i].lb);
            cublasLtMatrixLayoutDestroy(g.plans[i].lc);
            cublasLtMatmulDescDestroy(g.plans[i].desc);
        }
        g.nplans = 0;
    }
    g.plans[g.nplans] = p;
    return &g.plans[g.nplans++];
}

void dk_cuda_gemm_raw(bool bf16, bool ta, bool tb, int m, int n, int k, const void *A, int lda, const void *B, int ldb,
                      const void *C, void *D, bool out_bf16, int ldc, float beta)
{
    plan key = {ta, tb, bf16, out_bf16, m, n, k, lda, ldb, ldc, {alignment(A), alignment(B), alignment(C), alignment(D)},
                {}, {}, {}, {}, {}};
    const plan *p = find_plan(&key);
    float alpha = 1.0f;
    DK_CUBLAS(cublasLtMatmul(g.lt, p->desc, &alpha, A, p->la, B, p->lb, &beta, C, p->lc, D, p->lc, &p->algo, g.workspace,
                             WORKSPACE_BYTES, 0));
}

/* Four floats a thread where the input is 16-byte aligned (every buffer
 * the model hands over is): one 16-byte load and one 8-byte store. */
__global__ void to_bf16_kernel(__nv_bfloat16 *out, const float *in, size_t n)
{
    size_t i = 4 * ((size_t)blockIdx.x * blockDim.x + threadIdx.x);
    if (i + 4 <= n && (uintptr_t)in % 16 == 0) {
        float4 x = *(const float4 *)(in + i);
        __nv_bfloat162 lo = __floats2bfloat162_rn(x.x, x.y), hi = __floats2bfloat162_rn(x.z, x.w);
        uint2 packed = {*(uint32_t *)&lo, *(uint32_t *)&hi};
        *(uint2 *)(out + i) = packed;
    } else {
        for (size_t j = i; j < n && j < i + 4; j++) out[j] = __float2bfloat16_rn(in[j]);
    }
}

void dk_cuda_round_bf16(void *dst, const float *x, size_t n)
{
    to_bf16_kernel<<<dk_blocks((n + 3) / 4, 256), 256>>>((__nv_bfloat16 *)dst, x, n);
    DK_CUDA_LAUNCHED();
}

const void *dk_cuda_operand(bool bf16, int slot, dk_operand x, size_t n)
{
    if (!bf16) return x.x;
    if (x.lp) return x.lp;
    void *out = dk_cuda_scratch(slot, n * sizeof(__nv_bfloat16));
    dk_cuda_round_bf16(out, x.x, n);
    return out;
}

/* Floats a stored operand spans: ld times its columns. */
static size_t span(int ld, int cols) { return (size_t)ld * cols; }

/* Row-major matrices are column-major transposes: each row-major product
 * below is written as the column-major one cuBLASLt computes. */
void dk_cuda_matmul_forward(bool bf16, float *out, void *out_lp, dk_operand inp, dk_operand weight, const float *residual,
                            int N, int IC, int OC)
{
    /* out^T (OC, N) = weight (IC, OC)^T @ inp^T (IC, N) (+ residual^T), all
     * column-major: the residual is added in cuBLASLt's epilogue, and an
     * out_lp is written in bf16 by it */
    const void *w = dk_cuda_operand(bf16, DK_SCRATCH_A, weight, span(IC, OC)),
               *x = dk_cuda_operand(bf16, DK_SCRATCH_B, inp, span(IC, N));
    void *d = out_lp ? out_lp : (void *)out;
    dk_cuda_gemm_raw(bf16, true, false, OC, N, IC, w, IC, x, IC, residual ? residual : d, d, out_lp != NULL, OC,
                     residual ? 1.0f : 0.0f);
}

void dk_cuda_matmul_backward(bool bf16, float *dinp, float *dweight, dk_operand dout, dk_operand inp, dk_operand weight, int N,
                             int IC, int OC, bool accumulate)
{
    /* dout is an operand of both products: rounded once */
    const void *g = dk_cuda_operand(bf16, DK_SCRATCH_B, dout, span(OC, N));
    /* dinp^T (IC, N) = weight^T-stored (IC, OC) @ dout^T (OC, N) */
    if (dinp)
        dk_cuda_gemm_raw(bf16, false, false, IC, N, OC, dk_cuda_operand(bf16, DK_SCRATCH_A, weight, span(IC, OC)), IC, g,
                         OC, dinp, dinp, false, IC, accumulate ? 1.0f : 0.0f);
    /* dweight^T (IC, OC) += inp^T (IC, N) @ dout (N, OC) */
    const void *x = dk_cuda_operand(bf16, DK_SCRATCH_W, inp, span(IC, N));
    dk_cuda_gemm_raw(bf16, false, true, IC, OC, N, x, IC, g, OC, dweight, dweight, false, IC, 1.0f);
}

/* Decoding: one warp per (row, output), the lanes splitting the dot product
 * the same way and summing in a fixed tree whatever the number of rows, so
 * a sequence decodes to the same bits alone or batched (layers.h). */
__global__ void matmul_rows_kernel(float *out, const float *inp, const float *weight, int N, int IC, int OC)
{
    size_t id = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (id >= (size_t)N * OC) return;
    size_t n = id / OC, o = id % OC;
    const float *x = inp + n * IC, *w = weight + o * IC;
    float s = 0.0f;
    for (int i = lane; i < IC; i += 32) s += x[i] * w[i];
    s = dk_warp_sum(s);
    if (lane == 0) out[n * OC + o] = s;
}

void dk_cuda_matmul_rows_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC)
{
    size_t warps = (size_t)N * OC;
    if (!warps) return;
    matmul_rows_kernel<<<dk_blocks(warps * 32, 256), 256>>>(out, inp, weight, N, IC, OC);
    DK_CUDA_LAUNCHED();
}

/* Values in [-1, 1) from a hash of the index: the peak's operands. */
__global__ void fill_random_kernel(void *x, size_t n, bool bf16, uint32_t seed)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t h = (uint32_t)i * 2654435761u ^ seed * 0x9e3779b9u;
    h ^= h >> 15, h *= 0x2c1b3c6du, h ^= h >> 12;
    float v = (float)(h >> 8) / 8388608.0f - 1.0f;
    if (bf16) ((__nv_bfloat16 *)x)[i] = __float2bfloat16_rn(v);
    else ((float *)x)[i] = v;
}

extern "C" double dk_cuda_gemm_peak(const dk_backend *be, int n, double seconds)
{
    if (!be || be->host_memory) {
        dk_fail("the GEMM peak is measured on --device cuda");
        return 0;
    }
    size_t nn = (size_t)n * n, elem = be->bf16 ? 2 : 4;
    void *a = NULL, *b = NULL;
    float *c = NULL;
    if (cudaMalloc(&a, nn * elem) != cudaSuccess || cudaMalloc(&b, nn * elem) != cudaSuccess ||
        cudaMalloc((void **)&c, nn * 4) != cudaSuccess) {
        cudaGetLastError();
        cudaFree(a), cudaFree(b), cudaFree(c); /* cudaFree(NULL) does nothing */
        dk_fail("out of GPU memory for a %d x %d peak measurement", n, n);
        return 0;
    }
    /* random operands: zeros run measurably faster than real data */
    fill_random_kernel<<<dk_blocks(nn, 256), 256>>>(a, nn, be->bf16, 1);
    fill_random_kernel<<<dk_blocks(nn, 256), 256>>>(b, nn, be->bf16, 2);
    DK_CUDA_LAUNCHED();
    /* operands already in the backend's precision: the peak of the matmul itself */
    dk_cuda_gemm_raw(be->bf16, true, false, n, n, n, a, n, b, n, c, c, false, n, 0.0f);
    DK_CUDA(cudaDeviceSynchronize());
    cudaEvent_t t0, t1;
    DK_CUDA(cudaEventCreate(&t0));
    DK_CUDA(cudaEventCreate(&t1));
    double best = 0, spent = 0;
    while (spent < seconds) {
        const int reps = 10;
        DK_CUDA(cudaEventRecord(t0, 0));
        for (int r = 0; r < reps; r++) dk_cuda_gemm_raw(be->bf16, true, false, n, n, n, a, n, b, n, c, c, false, n, 0.0f);
        DK_CUDA(cudaEventRecord(t1, 0));
        DK_CUDA(cudaEventSynchronize(t1));
        float ms;
        DK_CUDA(cudaEventElapsedTime(&ms, t0, t1));
        double flops = 2.0 * n * (double)n * n * reps / (ms / 1e3);
        best = flops > best ? flops : best;
        spent += ms / 1e3;
        if (ms <= 0) break;
    }
    DK_CUDA(cudaEventDestroy(t0));
    DK_CUDA(cudaEventDestroy(t1));
    DK_CUDA(cudaFree(a));
    DK_CUDA(cudaFree(b));
    DK_CUDA(cudaFree(c));
    return best;
}
