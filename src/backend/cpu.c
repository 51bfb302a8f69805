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

/* The kept probabilities already carry the causal and packing masks. */
static void cpu_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *out,
                                   const float *att, const float *q, const float *k, const float *v, int B, int T, int NH,
                                   int NKV, int HD, const int *seg)
{
    (void)out, (void)seg;
    dk_attention_backward(dq, dk, dv, scratch, dout, att, q, k, v, B, T, NH, NKV, HD);
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

/* The CPU's matmuls are fp32: nothing is ever rounded for them. */
static void cpu_matmul_forward(float *out, const float *inp, const void *inp_lp, const float *w, int N, int IC, int OC)
{
    (void)inp_lp;
    dk_matmul_forward(out, inp, w, N, IC, OC);
}
static void cpu_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const void *inp_lp, const float *w,
                                int N, int IC, int OC, bool accumulate)
{
    (void)inp_lp;
    dk_matmul_backward(dinp, dw, dout, inp, w, N, IC, OC, accumulate);
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
    .rmsnorm_forward = dk_rmsnorm_forward,
    .rmsnorm_backward = dk_rmsnorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_rows_forward = dk_matmul_rows_forward,
    .matmul_backward = cpu_matmul_backward,
    .rope_forward = dk_rope_forward,
    .rope_backward = dk_rope_backward,
    .attention_floats = cpu_attention_floats,
    .attention_scratch_floats = cpu_attention_scratch_floats,
    .attention_forward = dk_attention_forward,
    .attention_backward = cpu_attention_backward,
    .kv_store = cpu_kv_store,
    .swiglu_forward = dk_swiglu_forward,
    .swiglu_backward = dk_swiglu_backward,
    .residual_forward = dk_residual_forward,
    .logits_floats = cpu_logits_floats,
    .classifier = cpu_classifier,
    .adamw = dk_adamw_update,
    .sumsq = dk_grad_sumsq,
};

const dk_backend *dk_backend_cpu(void) { return &cpu; }
