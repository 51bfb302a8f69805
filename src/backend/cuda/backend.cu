/* The CUDA backend's table, its memory and the device it runs on. */
#include <stdio.h>
#include <stdlib.h>

#include "cuda.h"

void dk_cuda_check(cudaError_t e, const char *what, const char *file, int line)
{
    if (e == cudaSuccess) return;
    char msg[512];
    snprintf(msg, sizeof msg, "CUDA: %s (%s) at %s:%d", cudaGetErrorString(e), what, file, line);
    dk_dist_fatal(msg);
}

static struct {
    void *buf[DK_SCRATCH_COUNT];
    size_t size[DK_SCRATCH_COUNT];
    void *host[DK_SCRATCH_COUNT];
    size_t host_size[DK_SCRATCH_COUNT];
    bool props_read; /* name and major describe the GPU in use */
    char name[256];
    int major;
} g;

void *dk_cuda_scratch(int slot, size_t bytes)
{
    if (bytes > g.size[slot]) {
        /* cudaFree waits for the kernels that may still use the old buffer */
        if (g.buf[slot]) DK_CUDA(cudaFree(g.buf[slot]));
        g.buf[slot] = NULL;
        size_t grown = bytes + bytes / 4;
        DK_CUDA(cudaMalloc(&g.buf[slot], grown));
        g.size[slot] = grown;
    }
    return g.buf[slot];
}

void *dk_cuda_host_scratch(int slot, size_t bytes)
{
    if (bytes > g.host_size[slot]) {
        free(g.host[slot]);
        g.host[slot] = malloc(bytes);
        if (!g.host[slot]) dk_dist_fatal("out of host memory for the GPU's staging buffers");
        g.host_size[slot] = bytes;
    }
    return g.host[slot];
}

void dk_cuda_allow_smem(const void *kernel, size_t bytes)
{
    /* what was allowed so far: asking the driver again at every launch costs time on the hot path */
    static struct {
        const void *kernel;
        size_t bytes;
    } allowed[64];
    static int n;
    if (bytes <= 48 * 1024) return;
    int i = 0;
    while (i < n && allowed[i].kernel != kernel) i++;
    if (i < n && allowed[i].bytes >= bytes) return;
    DK_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    if (i == n && n < 64) allowed[n++].kernel = kernel;
    if (i < n) allowed[i].bytes = bytes;
}

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        cudaGetLastError(); /* clear it: the caller decides what happens next */
        dk_fail("%s %zu MB on the GPU (%s)", e == cudaErrorMemoryAllocation ? "out of memory for" : "cannot allocate",
                bytes >> 20, cudaGetErrorString(e));
        return NULL;
    }
    DK_CUDA(cudaMemset(p, 0, bytes ? bytes : 1));
    return p;
}

static void cuda_release(void *p) { DK_CUDA(cudaFree(p)); }
static void cuda_upload(void *dst, const void *src, size_t bytes) { DK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice)); }
static void cuda_download(void *dst, const void *src, size_t bytes) { DK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost)); }
static void cuda_copy(void *dst, const void *src, size_t bytes) { DK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, 0)); }
static void cuda_zero(void *p, size_t bytes) { DK_CUDA(cudaMemsetAsync(p, 0, bytes, 0)); }

/* The two precisions differ in their matmuls and attention. */
#define PRECISION_WRAPPERS(suffix, bf16)                                                                                 \
    static void matmul_forward_##suffix(float *out, void *out_lp, dk_operand inp, dk_operand w, const float *residual, \
                                        int N, int IC, int OC)                                                           \
    {                                                                                                                    \
        dk_cuda_matmul_forward(bf16, out, out_lp, inp, w, residual, N, IC, OC);                                         \
    }                                                                                                                    \
    static void matmul_backward_##suffix(float *dinp, float *dw, dk_operand dout, dk_operand inp, dk_operand w, int N,  \
                                         int IC, int OC, bool acc)                                                       \
    {                                                                                                                    \
        dk_cuda_matmul_backward(bf16, dinp, dw, dout, inp, w, N, IC, OC, acc);                                          \
    }                                                                                                                    \
    static void attention_forward_##suffix(float *out, void *out_lp, float *lse, dk_operand q, dk_operand k,            \
                                           dk_operand v, int B, int T, int S, int pos0, const int *start,                \
                                           const int *slot, int NH, int NKV, int HD, const int *seg)                     \
    {                                                                                                                    \
        dk_cuda_attention_forward(bf16, out, out_lp, lse, q, k, v, B, T, S, pos0, start, slot, NH, NKV, HD, seg);       \
    }                                                                                                                    \
    static void attention_backward_##suffix(float *dq, float *dk, float *dv, void *dv_lp, float *scratch,                \
                                            const float *dout, const float *out, const float *lse, dk_operand q,         \
                                            dk_operand k, dk_operand v, int B, int T, int NH, int NKV, int HD,           \
                                            const int *seg)                                                              \
    {                                                                                                                    \
        dk_cuda_attention_backward(bf16, dq, dk, dv, dv_lp, scratch, dout, out, lse, q, k, v, B, T, NH, NKV, HD, seg);   \
    }                                                                                                                    \
    static void classifier_##suffix(float *losses, float *lse, float *logits, const float *x, const float *w,           \
                                    const int *targets, int N, int C, int V, float *dx, float *dw, float dloss)         \
    {                                                                                                                    \
        dk_cuda_classifier(bf16, losses, lse, logits, x, w, targets, N, C, V, dx, dw, dloss);                           \
    }
PRECISION_WRAPPERS(fp32, false)
PRECISION_WRAPPERS(bf16, true)

#define CUDA_TABLE(suffix, is_bf16)                                                                                      \
    {                                                                                                                    \
        .name = "cuda", .host_memory = false, .bf16 = is_bf16, .bf16_products = is_bf16, .max_head_dim = 256,            \
        .alloc = cuda_alloc,                                                                                             \
        .release = cuda_release, .upload = cuda_upload, .download = cuda_download, .copy = cuda_copy, .zero = cuda_zero, \
        .embedding_forward = dk_cuda_embedding_forward, .embedding_backward = dk_cuda_embedding_backward,                \
        .rmsnorm_forward = dk_cuda_rmsnorm_forward, .rmsnorm_backward = dk_cuda_rmsnorm_backward,                        \
        .matmul_forward = matmul_forward_##suffix, .matmul_rows_forward = dk_cuda_matmul_rows_forward,                   \
        .matmul_backward = matmul_backward_##suffix, .round_operand = is_bf16 ? dk_cuda_round_bf16 : NULL,               \
        .rope_forward = dk_cuda_rope_forward, .rope_backward = dk_cuda_rope_backward,                                    \
        .attention_floats = dk_cuda_attention_floats, .attention_scratch_floats = dk_cuda_attention_scratch_floats,      \
        .attention_forward = attention_forward_##suffix, .attention_backward = attention_backward_##suffix,              \
        .kv_store = dk_cuda_kv_store, .swiglu_forward = dk_cuda_swiglu_forward,                                          \
        .swiglu_backward = dk_cuda_swiglu_backward, .residual_forward = dk_cuda_residual_forward,                        \
        .logits_floats = dk_cuda_logits_floats, .classifier = classifier_##suffix, .adamw = dk_cuda_adamw,               \
        .sumsq = dk_cuda_sumsq,                                                                                          \
    }
static const dk_backend cuda_fp32 = CUDA_TABLE(fp32, false);
static const dk_backend cuda_bf16 = CUDA_TABLE(bf16, true);

extern "C" const dk_backend *dk_backend_cuda(bool bf16)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        cudaGetLastError();
        dk_fail("--device cuda: no usable GPU (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        return NULL;
    }
    return bf16 ? &cuda_bf16 : &cuda_fp32;
}

extern "C" int dk_cuda_set_device(int index)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        cudaGetLastError();
        return dk_fail("no usable GPU for this rank");
    }
    if (index >= n) return dk_fail("this machine has %d GPU(s) and more ranks than that; start one rank per GPU", n);
    DK_CUDA(cudaSetDevice(index));
    g.props_read = false; /* those of the GPU now in use, on the next ask */
    return 0;
}

/* The name and compute capability of the GPU in use, read once: asking the
 * driver costs more than the attention calls that want to know. */
static bool read_props(void)
{
    int dev = 0;
    cudaDeviceProp p;
    if (g.props_read) return true;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        cudaGetLastError();
        return false;
    }
    snprintf(g.name, sizeof g.name, "%s", p.name);
    g.major = p.major;
    return g.props_read = true;
}

extern "C" const char *dk_cuda_device_name(void) { return read_props() ? g.name : "cuda"; }

int dk_cuda_compute_major(void) { return read_props() ? g.major : 0; }
