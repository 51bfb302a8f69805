/* The CPU backend: host memory, the layers of src/model (OpenMP + OpenBLAS)
 * and the optimizer of src/train. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/backend.h"
#include "dokja/error.h"
#include "dokja/layers.h"
#include "dokja/train.h"

static void *cpu_alloc(size_t bytes) { return dk_calloc(bytes ? bytes : 1, 1); }
static void cpu_copy(void *dst, const void *src, size_t bytes) { memmove(dst, src, bytes); }
static void cpu_zero(void *p, size_t bytes) { memset(p, 0, bytes); }

static size_t cpu_attention_floats(int B, int NH, int T, int S) { return (size_t)B * NH * T * S; }

/* The backward's (T, T) scratch, one per thread. */
static size_t cpu_attention_scratch_floats(int B, int NH, int T)
{
    (void)B, (void)NH;
    return (size_t)omp_get_max_threads() * T * T;
}

/* The CPU computes in fp32 alone: it has no round_operand, so the model
 * gives it no *_lp outputs or operands, and these adapt the layers of
 * layers.h to the table. */
static void cpu_rmsnorm_forward(float *out, void *out_lp, float *rstd, const float *inp, const float *weight, int N, int C,
                                float eps)
{
    (void)out_lp;
    dk_rmsnorm_forward(out, rstd, inp, weight, N, C, eps);
}
static void cpu_rmsnorm_backward(float *dinp, void *dinp_lp, float *dweight, const float *dout, const float *inp,
                                 const float *weight, const float *rstd, int N, int C)
{
    (void)dinp_lp;
    dk_rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, N, C);
}
static void cpu_matmul_forward(float *out, void *out_lp, dk_operand inp, dk_operand w, const float *residual, int N, int IC,
                               int OC)
{
    (void)out_lp;
    dk_matmul_forward(out, inp.x, w.x, N, IC, OC);
    if (residual) dk_residual_forward(out, out, residual, (long)N * OC);
}
static void cpu_matmul_backward(float *dinp, float *dw, dk_operand dout, dk_operand inp, dk_operand w, int N, int IC, int OC,
                                bool accumulate)
{
    dk_matmul_backward(dinp, dw, dout.x, inp.x, w.x, N, IC, OC, accumulate);
}
static void cpu_rope_backward(float *dx, void *dx_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                              const int *pos)
{
    (void)dx_lp;
    dk_rope_backward(dx, cos_t, sin_t, B, T, H, HD, pos);
}
static void cpu_rope_forward(float *x, void *x_lp, const float *cos_t, const float *sin_t, int B, int T, int H, int HD,
                             int pos0, const int *pos)
{
    (void)x_lp;
    dk_rope_forward(x, cos_t, sin_t, B, T, H, HD, pos0, pos);
}
static void cpu_attention_forward(float *out, void *out_lp, float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                  int S, int pos0, const int *start, const int *slot, int NH, int NKV, int HD, const int *seg)
{
    (void)out_lp;
    dk_attention_forward(out, att, q.x, k.x, v.x, B, T, S, pos0, start, slot, NH, NKV, HD, seg);
}
/* The kept probabilities already carry the causal and packing masks. */
static void cpu_attention_backward(float *dq, float *dk, float *dv, void *dv_lp, float *scratch, const float *dout,
                                   const float *out, const float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                   int NH, int NKV, int HD, const int *seg)
{
    (void)dv_lp, (void)out, (void)seg;
    dk_attention_backward(dq, dk, dv, scratch, dout, att, q.x, k.x, v.x, B, T, NH, NKV, HD);
}
static void cpu_swiglu_forward(float *h, void *h_lp, dk_operand gate, dk_operand up, long n)
{
    (void)h_lp;
    dk_swiglu_forward(h, gate.x, up.x, n);
}
static void cpu_swiglu_backward(float *dgate, float *dup, void *dgate_lp, void *dup_lp, const float *dh, dk_operand gate,
                                dk_operand up, long n)
{
    (void)dgate_lp, (void)dup_lp;
    dk_swiglu_backward(dgate, dup, dh, gate.x, up.x, n);
}

/* Row b's positions are consecutive in its slot: one copy a row. */
static void cpu_kv_store(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start, int B,
                         int T, int S, int pos0, int kvd)
{
    size_t bytes = sizeof(float) * (size_t)T * kvd;
    for (int b = 0; b < B; b++) {
        size_t at = (size_t)(slot ? slot[b] : b) * S + (size_t)(start ? start[b] : pos0);
        memcpy(kc + at * kvd, knew + (size_t)b * T * kvd, bytes);
        memcpy(vc + at * kvd, vnew + (size_t)b * T * kvd, bytes);
    }
}

static size_t cpu_logits_floats(int N, int V) { return (size_t)N * V; }

static void cpu_classifier(float *losses, float *lse, float *logits, const float *x, const float *w, const int *targets, int N,
                           int C, int V, float *dx, float *dw, float dloss)
{
    dk_matmul_forward(logits, x, w, N, C, V);
    dk_crossentropy_forward(losses, lse, logits, targets, N, V);
    if (!dx) return;
    dk_crossentropy_backward(logits, lse, targets, N, V, dloss);
    dk_matmul_backward(dx, dw, logits, x, w, N, C, V, false);
}

static const dk_backend cpu = {
    .name = "cpu",
    .host_memory = true,
    .alloc = cpu_alloc,
    .release = free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .copy = cpu_copy,
    .zero = cpu_zero,
    .embedding_forward = dk_embedding_forward,
    .embedding_backward = dk_embedding_backward,
    .rmsnorm_forward = cpu_rmsnorm_forward,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_rows_forward = dk_matmul_rows_forward,
    .matmul_backward = cpu_matmul_backward,
    .rope_forward = cpu_rope_forward,
    .rope_backward = cpu_rope_backward,
    .attention_floats = cpu_attention_floats,
    .attention_scratch_floats = cpu_attention_scratch_floats,
    .attention_forward = cpu_attention_forward,
    .attention_backward = cpu_attention_backward,
    .kv_store = cpu_kv_store,
    .swiglu_forward = cpu_swiglu_forward,
    .swiglu_backward = cpu_swiglu_backward,
    .residual_forward = dk_residual_forward,
    .logits_floats = cpu_logits_floats,
    .classifier = cpu_classifier,
    .adamw = dk_adamw_update,
    .sumsq = dk_grad_sumsq,
};

const dk_backend *dk_backend_cpu(void) { return &cpu; }
