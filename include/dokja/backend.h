/* Where the model computes: a table of the layers (layers.h), the memory
 * they work on, and the optimizer, one table per backend. The model's
 * forward and backward passes (model_forward.c) are written once and call
 * through the table, so the CPU and the GPU run the same model logic.
 *
 * Pointers given to a table's functions are that backend's memory (device
 * memory on a GPU), except where said. Every function is deterministic: the
 * same inputs give the same bits on the same hardware, whatever the thread
 * count (no atomics in reductions on the GPU). */
#ifndef DK_BACKEND_H
#define DK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

/* One AdamW update's constants (torch.optim.AdamW, see train.h). */
typedef struct {
    float beta1, beta2, eps;
    float decay;      /* 1 - lr * weight_decay, or 1 for tensors without decay */
    float step_size;  /* lr / (1 - beta1^t) */
    float bc2_sqrt;   /* sqrt(1 - beta2^t) */
    float grad_scale; /* the clipping factor */
} dk_adamw_args;

/* An input in fp32 (x) and/or bf16 (lp): lp is NULL, or x rounded to bf16
 * by the backend (round_operand, or the layer that wrote x), or the tensor
 * itself where it is kept in bf16 alone (x NULL). bf16 backends read lp
 * where there is one; fp32 backends read x alone. */
typedef struct {
    const float *x;
    const void *lp;
} dk_operand;

typedef struct dk_backend {
    const char *name;    /* "cpu", "cuda" */
    bool host_memory;    /* its memory is the host's: no copies needed */
    bool bf16;           /* matmul operands are rounded to bf16 */
    bool bf16_products;  /* matmul_forward can write a product in bf16 alone (out_lp) */
    int max_head_dim;    /* the largest head_dim its attention takes; 0: any */
    /* Memory, in bytes. alloc zeroes and returns NULL (dk_error set) when out of memory. */
    void *(*alloc)(size_t bytes);
    void (*release)(void *p);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*zero)(void *p, size_t bytes);

    /* The layers, with the contracts of layers.h. An output's *_lp, where
     * given (only to backends with round_operand), receives that output
     * rounded to bf16 as well, for the matmuls that read it: the rounding
     * costs no pass of its own. An output the model reads only through its
     * rounded copy (out of rmsnorm_forward, h of swiglu_forward, dgate and
     * dup of swiglu_backward, dv of attention_backward) may then be NULL;
     * RoPE, which works in place, given x_lp writes its result there alone
     * and leaves x as it was. */
    void (*embedding_forward)(float *out, const int *tokens, const float *wte, int N, int C);
    void (*embedding_backward)(float *dwte, const float *dout, const int *tokens, int N, int C);
    void (*rmsnorm_forward)(float *out, void *out_lp, float *rstd, const float *inp, const float *weight, int N, int C,
                            float eps);
    void (*rmsnorm_backward)(float *dinp, void *dinp_lp, float *dweight, const float *dout, const float *inp,
                             const float *weight, const float *rstd, int N, int C);
    /* out = inp @ weight^T, plus residual (N, OC, apart from out) where it
     * is not NULL: the residual stream's add rides on the matmul. Backends
     * with bf16_products may be given out_lp instead of out (with no
     * residual): the product is then written in bf16 alone (training's gate
     * and up). */
    void (*matmul_forward)(float *out, void *out_lp, dk_operand inp, dk_operand weight, const float *residual, int N, int IC,
                           int OC);
    void (*matmul_rows_forward)(float *out, const float *inp, const float *weight, int N, int IC, int OC);
    void (*matmul_backward)(float *dinp, float *dweight, dk_operand dout, dk_operand inp, dk_operand weight, int N, int IC,
                            int OC, bool accumulate);
    /* bf16 backends: x (n) rounded to bf16 into dst (n halves); NULL where
     * matmuls round nothing. */
    void (*round_operand)(void *dst, const float *x, size_t n);
    void (*rope_forward)(float *x, void *x_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                         int pos0, const int *pos);
    void (*rope_backward)(float *dx, void *dx_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                          const int *pos);
    /* What attention keeps per layer for its backward (floats): the CPU keeps
     * the probabilities (B, NH, T, S), a GPU only each row's log-sum-exp
     * (B, NH, T) and recomputes the rest tile by tile. And the scratch its
     * backward needs (floats). */
    size_t (*attention_floats)(int B, int NH, int T, int S);
    size_t (*attention_scratch_floats)(int B, int NH, int T);
    /* q, k, v: all three fp32, or (backends with bf16_products, in
     * training) all three in bf16 alone, as lp. */
    void (*attention_forward)(float *out, void *out_lp, float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                              int S, int pos0, const int *start, const int *slot, int NH, int NKV, int HD, const int *seg);
    /* out is the forward's output; seg as for the forward (NULL: plain rows). */
    void (*attention_backward)(float *dq, float *dk, float *dv, void *dv_lp, float *scratch, const float *dout,
                               const float *out, const float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                               int NH, int NKV, int HD, const int *seg);
    /* Inference: a call's new keys and values knew, vnew (B, T, kvd) into
     * the caches kc, vc (slots, S, kvd): row b into slot slot[b] (NULL: b)
     * from position start[b] (NULL: pos0). */
    void (*kv_store)(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start, int B,
                     int T, int S, int pos0, int kvd);
    /* gate and up: fp32, or (backends with bf16_products, in training) in
     * bf16 alone, as lp. */
    void (*swiglu_forward)(float *h, void *h_lp, dk_operand gate, dk_operand up, long n);
    void (*swiglu_backward)(float *dgate, float *dup, void *dgate_lp, void *dup_lp, const float *dh, dk_operand gate,
                            dk_operand up, long n);
    void (*residual_forward)(float *out, const float *a, const float *b, long n);

    /* The head and the loss: logits = x (N, C) @ w (V, C)^T, losses (N) and
     * lse (N) as dk_crossentropy_forward. When dx is not NULL, also the
     * backward for d(loss of a counted row) = dloss: dx (N, C) overwritten,
     * dw (V, C) +=. logits is scratch of logits_floats(N, V) floats: the CPU
     * fills all N rows (and leaves them there: the logits after a forward,
     * their gradient after a backward); a GPU works a chunk of rows at a
     * time, so no (N, V) tensor is ever held. */
    size_t (*logits_floats)(int N, int V);
    void (*classifier)(float *losses, float *lse, float *logits, const float *x, const float *w, const int *targets, int N,
                       int C, int V, float *dx, float *dw, float dloss);

    /* p, g, m, v (n): one AdamW update of a range of parameters. */
    void (*adamw)(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a);
    /* The sum of squares of x (n), summed in fixed chunks. */
    double (*sumsq)(const float *x, size_t n);
} dk_backend;

const dk_backend *dk_backend_cpu(void);
/* The CUDA backend on the current device; NULL with dk_error set when dokja
 * was built without CUDA or no GPU can be used. bf16: matmuls take bf16
 * operands and accumulate in fp32 (docs/cuda.md); otherwise all fp32. */
const dk_backend *dk_backend_cuda(bool bf16);
/* "cpu" or "cuda"; precision "fp32", "bf16" or NULL (the device's default:
 * fp32 on the CPU, bf16 on a GPU). NULL with dk_error set on a bad name or
 * a device that cannot be used. */
const dk_backend *dk_backend_get(const char *device, const char *precision);
/* The device's name for logs ("cpu", "NVIDIA H100 80GB HBM3"). */
const char *dk_backend_device_name(const dk_backend *be);
const char *dk_cuda_device_name(void);
/* The best FLOP/s of an n x n x n matmul on the GPU at the backend's
 * precision, measured for about `seconds`; 0 with dk_error set on failure. */
double dk_cuda_gemm_peak(const dk_backend *be, int n, double seconds);

#endif
