/* Matmuls through cuBLASLt, fp32 or with bf16 operands (fp32 accumulation
 * and output), and the measured peak they are judged against. */
#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cuda.h"

#define DK_CUBLAS(call) cublas_check((call), #call, __FILE__, __LINE__)
static void cublas_check(cublasStatus_t s, const char *what, const char *file, int line)
{
    if (s == CUBLAS_STATUS_SUCCESS) return;
    fprintf(stderr, "dokja: error: cuBLASLt: status %d (%s) at %s:%d\n", (int)s, what, file, line);
    exit(1);
}

#define WORKSPACE_BYTES ((size_t)32 << 20)

/* The algorithm cuBLASLt's heuristic picks for a shape, kept: asking again
 * for every call costs more than small matmuls do. */
typedef struct {
    bool ta, tb, bf16;
    int m, n, k, lda, ldb, ldc;
    cublasLtMatmulAlgo_t algo;
} plan;

static struct {
    cublasLtHandle_t lt;
    void *workspace;
    plan plans[256];
    int nplans;
} g;

static void init(void)
{
    if (g.lt) return;
    DK_CUBLAS(cublasLtCreate(&g.lt));
    DK_CUDA(cudaMalloc(&g.workspace, WORKSPACE_BYTES));
}

static cublasLtMatrixLayout_t layout(cudaDataType t, int rows, int cols, int ld)
{
    cublasLtMatrixLayout_t l;
    DK_CUBLAS(cublasLtMatrixLayoutCreate(&l, t, (uint64_t)rows, (uint64_t)cols, ld));
    return l;
}

/* Determinism: only algorithms that reduce without atomics (no split-K
 * reduction, or one done in place in a fixed order) are asked for. */
static const plan *find_plan(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                             cublasLtMatrixLayout_t lc, const plan *key)
{
    for (int i = 0; i < g.nplans; i++) {
        const plan *p = &g.plans[i];
        if (p->ta == key->ta && p->tb == key->tb && p->bf16 == key->bf16 && p->m == key->m && p->n == key->n &&
            p->k == key->k && p->lda == key->lda && p->ldb == key->ldb && p->ldc == key->ldc)
            return p;
    }
    cublasLtMatmulPreference_t pref;
    DK_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    size_t ws = WORKSPACE_BYTES;
    uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_NONE | CUBLASLT_REDUCTION_SCHEME_INPLACE;
    DK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    DK_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof schemes));
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    DK_CUBLAS(cublasLtMatmulAlgoGetHeuristic(g.lt, desc, la, lb, lc, lc, pref, 1, &r, &found));
    DK_CUBLAS(cublasLtMatmulPreferenceDestroy(pref));
    if (!found) {
        fprintf(stderr, "dokja: error: cuBLASLt has no algorithm for a %d x %d x %d matmul\n", key->m, key->n, key->k);
        exit(1);
    }
    plan *p = &g.plans[g.nplans < 256 ? g.nplans++ : 255];
    *p = *key;
    p->algo = r.algo;
    return p;
}

/* A and B as given (fp32 or bf16), C fp32. */
static void lt_gemm(bool bf16, bool ta, bool tb, int m, int n, int k, const void *A, int lda, const void *B, int ldb, float *C,
                    int ldc, float beta)
{
    init();
    cudaDataType ab = bf16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasLtMatmulDesc_t desc;
    DK_CUBLAS(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    DK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    DK_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    /* stored shapes, before the op */
    cublasLtMatrixLayout_t la = ta ? layout(ab, k, m, lda) : layout(ab, m, k, lda);
    cublasLtMatrixLayout_t lb = tb ? layout(ab, n, k, ldb) : layout(ab, k, n, ldb);
    cublasLtMatrixLayout_t lc = layout(CUDA_R_32F, m, n, ldc);
    plan key = {ta, tb, bf16, m, n, k, lda, ldb, ldc, {}};
    const plan *p = find_plan(desc, la, lb, lc, &key);
    float alpha = 1.0f;
    DK_CUBLAS(cublasLtMatmul(g.lt, desc, &alpha, A, la, B, lb, &beta, C, lc, C, lc, &p->algo, g.workspace, WORKSPACE_BYTES, 0));
    DK_CUBLAS(cublasLtMatrixLayoutDestroy(la));
    DK_CUBLAS(cublasLtMatrixLayoutDestroy(lb));
    DK_CUBLAS(cublasLtMatrixLayoutDestroy(lc));
    DK_CUBLAS(cublasLtMatmulDescDestroy(desc));
}

__global__ void to_bf16_kernel(__nv_bfloat16 *out, const float *in, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2bfloat16_rn(in[i]);
}

/* n floats rounded to bf16, in scratch `slot`. */
static const __nv_bfloat16 *to_bf16(int slot, const float *x, size_t n)
{
    __nv_bfloat16 *out = (__nv_bfloat16 *)dk_cuda_scratch(slot, n * sizeof(__nv_bfloat16));
    to_bf16_kernel<<<dk_blocks(n, 256), 256>>>(out, x, n);
    DK_CUDA_LAUNCHED();
    return out;
}

void dk_cuda_gemm(bool bf16, bool ta, bool tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                  float *C, int ldc, float beta)
{
    if (!bf16) {
        lt_gemm(false, ta, tb, m, n, k, A, lda, B, ldb, C, ldc, beta);
        return;
    }
    size_t na = (size_t)lda * (ta ? m : k), nb = (size_t)ldb * (tb ? k : n);
    const __nv_bfloat16 *a16 = to_bf16(DK_SCRATCH_A, A, na), *b16 = to_bf16(DK_SCRATCH_B, B, nb);
    lt_gemm(true, ta, tb, m, n, k, a16, lda, b16, ldb, C, ldc, beta);
}

/* Row-major matrices are column-major transposes: each row-major product
 * below is written as the column-major one cuBLASLt computes. */
void dk_cuda_matmul_forward(bool bf16, float *out, const float *inp, const float *weight, int N, int IC, int OC)
{
    /* out^T (OC, N) = weight (IC, OC)^T @ inp^T (IC, N), all column-major */
    dk_cuda_gemm(bf16, true, false, OC, N, IC, weight, IC, inp, IC, out, OC, 0.0f);
}

void dk_cuda_matmul_backward(bool bf16, float *dinp, float *dweight, const float *dout, const float *inp,
                             const float *weight, int N, int IC, int OC, bool accumulate)
{
    /* dinp^T (IC, N) = weight^T-stored (IC, OC) @ dout^T (OC, N) */
    if (dinp) dk_cuda_gemm(bf16, false, false, IC, N, OC, weight, IC, dout, OC, dinp, IC, accumulate ? 1.0f : 0.0f);
    /* dweight^T (IC, OC) += inp^T (IC, N) @ dout (N, OC) */
    dk_cuda_gemm(bf16, false, true, IC, OC, N, inp, IC, dout, OC, dweight, IC, 1.0f);
}

extern "C" double dk_cuda_gemm_peak(const dk_backend *be, int n, double seconds)
{
    if (!be || be->host_memory) {
        dk_fail("the GEMM peak is measured on --device cuda");
        return 0;
    }
    size_t nn = (size_t)n * n, elem = be->bf16 ? 2 : 4;
    void *a, *b;
    float *c;
    if (cudaMalloc(&a, nn * elem) != cudaSuccess || cudaMalloc(&b, nn * elem) != cudaSuccess ||
        cudaMalloc((void **)&c, nn * 4) != cudaSuccess) {
        cudaGetLastError();
        dk_fail("out of GPU memory for a %d x %d peak measurement", n, n);
        return 0;
    }
    DK_CUDA(cudaMemset(a, 0, nn * elem));
    DK_CUDA(cudaMemset(b, 0, nn * elem));
    /* operands already in the backend's precision: the peak of the matmul itself */
    lt_gemm(be->bf16, true, false, n, n, n, a, n, b, n, c, n, 0.0f);
    DK_CUDA(cudaDeviceSynchronize());
    cudaEvent_t t0, t1;
    DK_CUDA(cudaEventCreate(&t0));
    DK_CUDA(cudaEventCreate(&t1));
    double best = 0, spent = 0;
    while (spent < seconds) {
        const int reps = 10;
        DK_CUDA(cudaEventRecord(t0, 0));
        for (int r = 0; r < reps; r++) lt_gemm(be->bf16, true, false, n, n, n, a, n, b, n, c, n, 0.0f);
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
