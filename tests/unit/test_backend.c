/* Backends against the CPU: every layer on the same inputs, then whole
 * training steps and decoding through the model.
 *
 * Two backends run here. "staged" is the CPU's kernels behind device-style
 * memory: every buffer an operation receives must come from its own
 * allocations, and the host reaches them only by upload and download, so it
 * checks, without a GPU, that the model moves every tensor and integer it
 * should (its results must equal the CPU's to the bit); in bf16 mode it
 * rounds matmul operands as a GPU does, which checks the model's rounded
 * copies without one. "cuda" is the GPU
 * backend, fp32 (1e-4 relative) and bf16 (documented bounds, docs/cuda.md);
 * its tests report themselves skipped where there is no GPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/backend.h"
#include "dokja/error.h"
#include "dokja/infer.h"
#include "dokja/io.h"
#include "dokja/layers.h"
#include "dokja/quant.h"
#include "dokja/rng.h"
#include "dokja/train.h"
#include "testutil.h"

/* ---- the staged backend ---- */

#define MAX_ALLOCS 4096
static struct {
    char *ptr[MAX_ALLOCS];
    size_t size[MAX_ALLOCS];
    int n;
} staged_mem;

/* Whether p lies inside one of the staged backend's live allocations. */
static bool staged_owns(const void *p)
{
    if (!p) return true;
    for (int i = 0; i < staged_mem.n; i++)
        if ((const char *)p >= staged_mem.ptr[i] && (const char *)p < staged_mem.ptr[i] + staged_mem.size[i]) return true;
    return false;
}

static void own_check(const void *p, const char *fn, const char *what)
{
    if (!staged_owns(p)) fail_msg("%s: %s is not the backend's memory", fn, what);
}
#define OWN(p) own_check((p), __func__, #p)

static void *staged_alloc(size_t bytes)
{
    assert_true(staged_mem.n < MAX_ALLOCS);
    char *p = calloc(bytes ? bytes : 1, 1);
    staged_mem.ptr[staged_mem.n] = p;
    staged_mem.size[staged_mem.n++] = bytes ? bytes : 1;
    return p;
}

static void staged_release(void *p)
{
    for (int i = 0; i < staged_mem.n; i++)
        if (staged_mem.ptr[i] == p) {
            free(p);
            staged_mem.ptr[i] = staged_mem.ptr[--staged_mem.n];
            staged_mem.size[i] = staged_mem.size[staged_mem.n];
            return;
        }
    fail_msg("release of memory the staged backend did not allocate");
}

static void staged_upload(void *dst, const void *src, size_t bytes)
{
    OWN(dst);
    assert_false(staged_owns(src) && src);
    memcpy(dst, src, bytes);
}

static void staged_download(void *dst, const void *src, size_t bytes)
{
    OWN(src);
    assert_false(staged_owns(dst) && dst);
    memcpy(dst, src, bytes);
}

static void staged_copy(void *dst, const void *src, size_t bytes)
{
    OWN(dst), OWN(src);
    memmove(dst, src, bytes);
}

static void staged_zero(void *p, size_t bytes)
{
    OWN(p);
    memset(p, 0, bytes);
}

static const dk_backend *cpu_be(void) { return dk_backend_cpu(); }
static dk_operand op(const float *x) { return (dk_operand){x, NULL}; }

static void st_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C)
{
    OWN(out), OWN(tokens), OWN(wte);
    cpu_be()->embedding_forward(out, tokens, wte, N, C);
}
static void st_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C)
{
    OWN(dwte), OWN(dout), OWN(tokens);
    cpu_be()->embedding_backward(dwte, dout, tokens, N, C);
}
/* The staged backend can also stand in for a bf16 GPU (staged_backend's
 * bf16 mode): its matmuls, attention and SwiGLU then compute with bf16
 * inputs (widened back to fp32 for the CPU's layers), taking an input's
 * bf16 values where it comes with them, and its layers write the *_lp
 * copies they are given. The model's bookkeeping of its bf16 tensors (which
 * buffer, which layer, fresh or stale) is then checked without a GPU: a run
 * where the model keeps them must give the bits of one where every input
 * is rounded where it is read (check_bf16_copies). Its wrappers read the
 * mode off its one table (staged_backend). */
static dk_backend staged;

static uint16_t bf16_bits(float f) /* round to nearest even, as the GPU's __float2bfloat16_rn */
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x40); /* NaN stays NaN */
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
}

static float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void round_into(void *lp, const float *x, size_t n)
{
    uint16_t *h = lp;
    for (size_t i = 0; i < n; i++) h[i] = bf16_bits(x[i]);
}

static void st_round_operand(void *dst, const float *x, size_t n)
{
    OWN(dst), OWN(x);
    assert_true(staged.bf16);
    round_into(dst, x, n);
}

/* The n values an input is taken with, in fresh host memory: x itself in
 * fp32 mode; in bf16 mode its bf16 values lp where it comes with them, else
 * x rounded (as a GPU that keeps q, k, v, gate and up in bf16 has them). */
static float *input_values(dk_operand o, size_t n, const char *fn)
{
    own_check(o.x, fn, "an input"), own_check(o.lp, fn, "an input's bf16 values");
    if (!staged.bf16) assert_null(o.lp);
    float *v = malloc(sizeof(float) * (n ? n : 1));
    const uint16_t *lp = o.lp;
    for (size_t i = 0; i < n; i++) v[i] = lp ? bf16_value(lp[i]) : staged.bf16 ? bf16_value(bf16_bits(o.x[i])) : o.x[i];
    return v;
}
#define BF16_INPUT(o, n) input_values((o), (n), __func__)

/* A layer's output of n values: out, or host room where the model keeps it
 * in bf16 alone (out NULL); then its copy into lp, and the room freed. */
static float *output_room(float *out, void *lp, size_t n)
{
    if (!staged.bf16) assert_null(lp);
    if (out) return out;
    assert_non_null(lp);
    return malloc(sizeof(float) * (n ? n : 1));
}
static void output_done(float *out, float *room, void *lp, size_t n)
{
    if (lp) round_into(lp, room, n);
    if (room != out) free(room);
}

static void st_rmsnorm_forward(float *out, void *out_lp, float *rstd, const float *inp, const float *w, int N, int C,
                               float eps)
{
    OWN(out), OWN(out_lp), OWN(rstd), OWN(inp), OWN(w);
    size_t n = (size_t)N * C;
    float *o = output_room(out, out_lp, n);
    cpu_be()->rmsnorm_forward(o, NULL, rstd, inp, w, N, C, eps);
    output_done(out, o, out_lp, n);
}
static void st_rmsnorm_backward(float *dinp, void *dinp_lp, float *dw, const float *dout, const float *inp, const float *w,
                                const float *rstd, int N, int C)
{
    OWN(dinp), OWN(dinp_lp), OWN(dw), OWN(dout), OWN(inp), OWN(w), OWN(rstd);
    cpu_be()->rmsnorm_backward(dinp, NULL, dw, dout, inp, w, rstd, N, C);
    output_done(dinp, output_room(dinp, dinp_lp, (size_t)N * C), dinp_lp, (size_t)N * C);
}
static void st_matmul_forward(float *out, void *out_lp, dk_operand inp, dk_operand w, const float *residual, int N, int IC,
                              int OC)
{
    OWN(out), OWN(out_lp), OWN(residual);
    if (out_lp) assert_true(!out && !residual);
    size_t n = (size_t)N * OC;
    float *x = BF16_INPUT(inp, (size_t)N * IC), *wv = BF16_INPUT(w, (size_t)OC * IC), *o = output_room(out, out_lp, n);
    cpu_be()->matmul_forward(o, NULL, op(x), op(wv), residual, N, IC, OC);
    output_done(out, o, out_lp, n);
    free(x), free(wv);
}
static void st_matmul_rows_forward(float *out, const float *inp, const float *w, int N, int IC, int OC)
{
    OWN(out), OWN(inp), OWN(w);
    cpu_be()->matmul_rows_forward(out, inp, w, N, IC, OC);
}
static void st_matmul_backward(float *dinp, float *dw, dk_operand dout, dk_operand inp, dk_operand w, int N, int IC, int OC,
                               bool acc)
{
    OWN(dinp), OWN(dw);
    float *g = BF16_INPUT(dout, (size_t)N * OC), *x = BF16_INPUT(inp, (size_t)N * IC), *wv = BF16_INPUT(w, (size_t)OC * IC);
    cpu_be()->matmul_backward(dinp, dw, op(g), op(x), op(wv), N, IC, OC, acc);
    free(g), free(x), free(wv);
}
/* Where RoPE rotates x (n values): x itself, or, given x_lp, a copy, x
 * being left as it was (backend.h); rope_done as output_done. */
static float *rope_room(float *x, void *x_lp, size_t n)
{
    float *o = output_room(x_lp ? NULL : x, x_lp, n);
    if (o != x) memcpy(o, x, sizeof(float) * n);
    return o;
}
static void rope_done(float *x, float *room, void *x_lp, size_t n) { output_done(x_lp ? NULL : x, room, x_lp, n); }

static void st_rope_forward(float *x, void *x_lp, const float *c, const float *s, int B, int T, int H, int HD, int pos0,
                            const int *pos)
{
    OWN(x), OWN(x_lp), OWN(c), OWN(s), OWN(pos);
    size_t n = (size_t)B * T * H * HD;
    float *o = rope_room(x, x_lp, n);
    cpu_be()->rope_forward(o, NULL, c, s, B, T, H, HD, pos0, pos);
    rope_done(x, o, x_lp, n);
}
static void st_rope_backward(float *dx, void *dx_lp, const float *c, const float *s, int B, int T, int H, int HD,
                             const int *pos)
{
    OWN(dx), OWN(dx_lp), OWN(c), OWN(s), OWN(pos);
    size_t n = (size_t)B * T * H * HD;
    float *o = rope_room(dx, dx_lp, n);
    cpu_be()->rope_backward(o, NULL, c, s, B, T, H, HD, pos);
    rope_done(dx, o, dx_lp, n);
}
/* Attention's q, k and v are bf16 in bf16 mode too, as the GPU's tensor
 * cores take them; k and v span the cache's slots (the most a row names). */
static void st_attention_forward(float *out, void *out_lp, float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                 int S, int pos0, const int *start, const int *slot, int NH, int NKV, int HD, const int *seg)
{
    OWN(out), OWN(out_lp), OWN(att), OWN(start), OWN(slot), OWN(seg);
    int slots = B;
    for (int b = 0; slot && b < B; b++) slots = slot[b] + 1 > slots ? slot[b] + 1 : slots;
    size_t n = (size_t)B * T * NH * HD, nkv = (size_t)slots * S * NKV * HD;
    float *qv = BF16_INPUT(q, n), *kv = BF16_INPUT(k, nkv), *vv = BF16_INPUT(v, nkv);
    cpu_be()->attention_forward(out, NULL, att, op(qv), op(kv), op(vv), B, T, S, pos0, start, slot, NH, NKV, HD, seg);
    output_done(out, output_room(out, out_lp, n), out_lp, n);
    free(qv), free(kv), free(vv);
}
static void st_attention_backward(float *dq, float *dk, float *dv, void *dv_lp, float *scratch, const float *dout,
                                  const float *out, const float *att, dk_operand q, dk_operand k, dk_operand v, int B, int T,
                                  int NH, int NKV, int HD, const int *seg)
{
    OWN(dq), OWN(dk), OWN(dv), OWN(dv_lp), OWN(scratch), OWN(dout), OWN(out), OWN(att), OWN(seg);
    size_t nq = (size_t)B * T * NH * HD, n = (size_t)B * T * NKV * HD;
    float *qv = BF16_INPUT(q, nq), *kv = BF16_INPUT(k, n), *vv = BF16_INPUT(v, n);
    float *o = output_room(dv, dv_lp, n);
    cpu_be()->attention_backward(dq, dk, o, NULL, scratch, dout, out, att, op(qv), op(kv), op(vv), B, T, NH, NKV, HD, seg);
    output_done(dv, o, dv_lp, n);
    free(qv), free(kv), free(vv);
}
static void st_kv_store(float *kc, float *vc, const float *knew, const float *vnew, const int *slot, const int *start, int B,
                        int T, int S, int pos0, int kvd)
{
    OWN(kc), OWN(vc), OWN(knew), OWN(vnew), OWN(slot), OWN(start);
    cpu_be()->kv_store(kc, vc, knew, vnew, slot, start, B, T, S, pos0, kvd);
}
static void st_swiglu_forward(float *h, void *h_lp, dk_operand gate, dk_operand up, long n)
{
    OWN(h), OWN(h_lp);
    float *o = output_room(h, h_lp, (size_t)n), *g = BF16_INPUT(gate, (size_t)n), *u = BF16_INPUT(up, (size_t)n);
    cpu_be()->swiglu_forward(o, NULL, op(g), op(u), n);
    output_done(h, o, h_lp, (size_t)n);
    free(g), free(u);
}
static void st_swiglu_backward(float *dgate, float *dup, void *dgate_lp, void *dup_lp, const float *dh, dk_operand gate,
                               dk_operand up, long n)
{
    OWN(dgate), OWN(dup), OWN(dgate_lp), OWN(dup_lp), OWN(dh);
    float *og = output_room(dgate, dgate_lp, (size_t)n), *ou = output_room(dup, dup_lp, (size_t)n);
    float *g = BF16_INPUT(gate, (size_t)n), *u = BF16_INPUT(up, (size_t)n);
    cpu_be()->swiglu_backward(og, ou, NULL, NULL, dh, op(g), op(u), n);
    output_done(dgate, og, dgate_lp, (size_t)n);
    output_done(dup, ou, dup_lp, (size_t)n);
    free(g), free(u);
}
static void st_residual_forward(float *out, const float *a, const float *b, long n)
{
    OWN(out), OWN(a), OWN(b);
    cpu_be()->residual_forward(out, a, b, n);
}
static void st_classifier(float *losses, float *lse, float *logits, const float *x, const float *w, const int *targets, int N,
                          int C, int V, float *dx, float *dw, float dloss)
{
    OWN(losses), OWN(lse), OWN(logits), OWN(x), OWN(w), OWN(targets), OWN(dx), OWN(dw);
    cpu_be()->classifier(losses, lse, logits, x, w, targets, N, C, V, dx, dw, dloss);
}
static void st_adamw(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a)
{
    OWN(p), OWN(g), OWN(m), OWN(v);
    cpu_be()->adamw(p, g, m, v, n, a);
}
static double st_sumsq(const float *x, size_t n)
{
    OWN(x);
    return cpu_be()->sumsq(x, n);
}

/* The staged backend, fp32 as the CPU or bf16 (one table: the precision of
 * the last call). */
static const dk_backend *staged_backend(bool bf16)
{
    const dk_backend *c = dk_backend_cpu();
    staged = (dk_backend){
        .name = "staged", .host_memory = false, .bf16 = bf16, .bf16_products = bf16, .alloc = staged_alloc,
        .release = staged_release,
        .upload = staged_upload, .download = staged_download, .copy = staged_copy, .zero = staged_zero,
        .embedding_forward = st_embedding_forward, .embedding_backward = st_embedding_backward,
        .rmsnorm_forward = st_rmsnorm_forward, .rmsnorm_backward = st_rmsnorm_backward,
        .matmul_forward = st_matmul_forward, .matmul_rows_forward = st_matmul_rows_forward,
        .matmul_backward = st_matmul_backward, .round_operand = bf16 ? st_round_operand : NULL,
        .rope_forward = st_rope_forward, .rope_backward = st_rope_backward,
        .attention_floats = c->attention_floats, .attention_scratch_floats = c->attention_scratch_floats,
        .attention_forward = st_attention_forward, .attention_backward = st_attention_backward, .kv_store = st_kv_store,
        .swiglu_forward = st_swiglu_forward, .swiglu_backward = st_swiglu_backward,
        .residual_forward = st_residual_forward, .logits_floats = c->logits_floats, .classifier = st_classifier,
        .adamw = st_adamw, .sumsq = st_sumsq};
    return &staged;
}

/* ---- helpers ---- */

typedef struct {
    const dk_backend *be;
    double tol; /* relative error allowed against the CPU; 0: the same bits */
} subject;

static void fill(float *x, size_t n, dk_rng *r, double std)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * dk_rng_normal(r));
}

static void *to_dev(const dk_backend *be, const void *host, size_t bytes)
{
    void *d = be->alloc(bytes);
    assert_non_null(d);
    if (host) be->upload(d, host, bytes);
    return d;
}

/* The device buffer's contents, in a fresh host buffer. */
static float *to_host(const dk_backend *be, const float *dev, size_t n)
{
    float *h = malloc(sizeof(float) * (n ? n : 1));
    be->download(h, dev, sizeof(float) * n);
    return h;
}

static void expect_close(const subject *s, const char *what, const dk_backend *be, const float *dev, const float *ref, size_t n)
{
    float *got = to_host(be, dev, n);
    if (s->tol == 0) {
        if (memcmp(got, ref, sizeof(float) * n)) fail_msg("%s on %s: not the CPU's bits", what, be->name);
    } else {
        tu_assert_close(what, got, ref, n, s->tol);
    }
    free(got);
}

/* Room for the bf16 copy of an output of n values (backend.h's *_lp) on a
 * backend that rounds; NULL on the others, which are given none. */
static void *lp_room(const dk_backend *be, size_t n)
{
    return be->round_operand ? to_dev(be, NULL, sizeof(uint16_t) * n) : NULL;
}

/* A layer's bf16 copy must hold the bits of its fp32 output (d_out, the
 * same layer's) as round_operand rounds it. Releases d_lp. */
static void expect_lp(const char *what, const dk_backend *be, void *d_lp, const float *d_out, size_t n)
{
    if (!d_lp) return;
    void *d_ref = lp_room(be, n);
    uint16_t *got = malloc(sizeof(uint16_t) * n), *want = malloc(sizeof(uint16_t) * n);
    be->round_operand(d_ref, d_out, n);
    be->download(got, d_lp, sizeof(uint16_t) * n), be->download(want, d_ref, sizeof(uint16_t) * n);
    if (memcmp(got, want, sizeof(uint16_t) * n)) fail_msg("%s on %s: the bf16 copy is not the output rounded", what, be->name);
    free(got), free(want);
    be->release(d_ref), be->release(d_lp);
}

/* ---- layers ---- */

static void check_layers(const subject *s)
{
    const dk_backend *be = s->be, *cpu = dk_backend_cpu();
    dk_rng r;
    dk_rng_seed(&r, 7);
    /* HD 16 and T >= 16: bf16 attention takes the tensor-core kernels here,
     * the fp32 ones for the 5-token inference call below */
    enum { B = 2, T = 37, C = 48, NH = 4, NKV = 2, HD = 16, V = 50, S = 45 };
    int N = B * T, qd = NH * HD, kvd = NKV * HD;
    size_t NC = (size_t)N * C;

    /* RMSNorm forward and backward */
    float *x = malloc(sizeof(float) * NC), *w = malloc(sizeof(float) * C), *g = malloc(sizeof(float) * NC);
    float *out = calloc(NC, sizeof(float)), *rstd = calloc((size_t)N, sizeof(float));
    float *dx = calloc(NC, sizeof(float)), *dw = calloc(C, sizeof(float));
    fill(x, NC, &r, 1.0), fill(w, C, &r, 1.0), fill(g, NC, &r, 1.0);
    float *d_x = to_dev(be, x, sizeof(float) * NC), *d_w = to_dev(be, w, sizeof(float) * C), *d_g = to_dev(be, g, sizeof(float) * NC);
    float *d_out = to_dev(be, NULL, sizeof(float) * NC), *d_rstd = to_dev(be, NULL, sizeof(float) * N);
    float *d_dx = to_dev(be, NULL, sizeof(float) * NC), *d_dw = to_dev(be, NULL, sizeof(float) * C);
    void *d_lp = lp_room(be, NC);
    cpu->rmsnorm_forward(out, NULL, rstd, x, w, N, C, 1e-5f);
    be->rmsnorm_forward(d_out, d_lp, d_rstd, d_x, d_w, N, C, 1e-5f);
    expect_close(s, "rmsnorm_forward", be, d_out, out, NC);
    expect_lp("rmsnorm_forward", be, d_lp, d_out, NC);
    /* an output the model keeps in bf16 alone */
    d_lp = lp_room(be, NC);
    if (d_lp) be->rmsnorm_forward(NULL, d_lp, d_rstd, d_x, d_w, N, C, 1e-5f);
    expect_lp("rmsnorm_forward (bf16 alone)", be, d_lp, d_out, NC);
    d_lp = lp_room(be, NC);
    cpu->rmsnorm_backward(dx, NULL, dw, g, x, w, rstd, N, C);
    be->rmsnorm_backward(d_dx, d_lp, d_dw, d_g, d_x, d_w, d_rstd, N, C);
    expect_close(s, "rmsnorm_backward dinp", be, d_dx, dx, NC);
    expect_lp("rmsnorm_backward dinp", be, d_lp, d_dx, NC);
    expect_close(s, "rmsnorm_backward dweight", be, d_dw, dw, C);

    /* matmul forward and backward (N, C) x (V, C)^T, accumulating */
    float *wv = malloc(sizeof(float) * V * C), *mo = calloc((size_t)N * V, sizeof(float)), *gy = malloc(sizeof(float) * N * V);
    float *dwv = calloc((size_t)V * C, sizeof(float));
    fill(wv, (size_t)V * C, &r, 0.2), fill(gy, (size_t)N * V, &r, 1.0);
    float *d_wv = to_dev(be, wv, sizeof(float) * V * C), *d_mo = to_dev(be, NULL, sizeof(float) * N * V);
    float *d_gy = to_dev(be, gy, sizeof(float) * N * V), *d_dwv = to_dev(be, NULL, sizeof(float) * V * C);
    cpu->matmul_forward(mo, NULL, op(x), op(wv), NULL, N, C, V);
    be->matmul_forward(d_mo, NULL, op(d_x), op(d_wv), NULL, N, C, V);
    expect_close(s, "matmul_forward", be, d_mo, mo, (size_t)N * V);
    {
        /* with the residual stream added (gy as the residual) */
        float *mr = malloc(sizeof(float) * N * V), *d_mr = to_dev(be, NULL, sizeof(float) * N * V);
        for (size_t i = 0; i < (size_t)N * V; i++) mr[i] = mo[i] + gy[i];
        be->matmul_forward(d_mr, NULL, op(d_x), op(d_wv), d_gy, N, C, V);
        expect_close(s, "matmul_forward + residual", be, d_mr, mr, (size_t)N * V);
        be->release(d_mr);
        free(mr);
    }
    if (be->round_operand) {
        /* the product in bf16 alone */
        void *d_ml = lp_room(be, (size_t)N * V);
        uint16_t *ml = malloc(sizeof(uint16_t) * N * V);
        float *got = malloc(sizeof(float) * N * V);
        be->matmul_forward(NULL, d_ml, op(d_x), op(d_wv), NULL, N, C, V);
        be->download(ml, d_ml, sizeof(uint16_t) * N * V);
        for (size_t i = 0; i < (size_t)N * V; i++) got[i] = bf16_value(ml[i]);
        tu_assert_close("matmul_forward (bf16 output)", got, mo, (size_t)N * V, s->tol);
        be->release(d_ml);
        free(ml), free(got);
    }
    be->upload(d_dx, dx, sizeof(float) * NC);
    cpu->matmul_backward(dx, dwv, op(gy), op(x), op(wv), N, C, V, true);
    be->matmul_backward(d_dx, d_dwv, op(d_gy), op(d_x), op(d_wv), N, C, V, true);
    expect_close(s, "matmul_backward dinp", be, d_dx, dx, NC);
    expect_close(s, "matmul_backward dweight", be, d_dwv, dwv, (size_t)V * C);
    if (be->round_operand) {
        /* operands rounded ahead, given without their fp32 originals, give
         * the bits of those the matmul rounds itself */
        void *x_lp = lp_room(be, NC), *w_lp = lp_room(be, (size_t)V * C), *g_lp = lp_room(be, (size_t)N * V);
        be->round_operand(x_lp, d_x, NC), be->round_operand(w_lp, d_wv, (size_t)V * C);
        be->round_operand(g_lp, d_gy, (size_t)N * V);
        dk_operand xl = {NULL, x_lp}, wl = {NULL, w_lp}, gl = {NULL, g_lp};
        float *d_mo2 = to_dev(be, NULL, sizeof(float) * N * V), *d_dwv2 = to_dev(be, NULL, sizeof(float) * V * C),
              *d_dx2 = to_dev(be, NULL, sizeof(float) * NC);
        float *a1 = malloc(sizeof(float) * N * V), *a2 = malloc(sizeof(float) * N * V);
        be->matmul_forward(d_mo2, NULL, xl, wl, NULL, N, C, V);
        be->download(a1, d_mo, sizeof(float) * N * V), be->download(a2, d_mo2, sizeof(float) * N * V);
        assert_memory_equal(a1, a2, sizeof(float) * N * V);
        be->zero(d_dwv, sizeof(float) * V * C);
        be->matmul_backward(d_dx, d_dwv, op(d_gy), op(d_x), op(d_wv), N, C, V, false);
        be->matmul_backward(d_dx2, d_dwv2, gl, xl, wl, N, C, V, false);
        be->download(a1, d_dwv, sizeof(float) * V * C), be->download(a2, d_dwv2, sizeof(float) * V * C);
        assert_memory_equal(a1, a2, sizeof(float) * V * C);
        be->download(a1, d_dx, sizeof(float) * NC), be->download(a2, d_dx2, sizeof(float) * NC);
        assert_memory_equal(a1, a2, sizeof(float) * NC);
        be->release(x_lp), be->release(w_lp), be->release(g_lp);
        be->release(d_mo2), be->release(d_dwv2), be->release(d_dx2);
        free(a1), free(a2);
    }

    /* embedding: repeated tokens sum into one row */
    int tok[N];
    for (int i = 0; i < N; i++) tok[i] = (int)dk_rng_below(&r, 9);
    int *d_tok = to_dev(be, tok, sizeof tok);
    cpu->embedding_forward(out, tok, wv, N, C);
    be->embedding_forward(d_out, d_tok, d_wv, N, C);
    expect_close(s, "embedding_forward", be, d_out, out, NC);
    cpu->embedding_backward(dwv, g, tok, N, C);
    be->embedding_backward(d_dwv, d_g, d_tok, N, C);
    expect_close(s, "embedding_backward", be, d_dwv, dwv, (size_t)V * C);

    /* SwiGLU and the residual add */
    float *h = calloc(NC, sizeof(float)), *d2 = calloc(NC, sizeof(float));
    float *d_h = to_dev(be, NULL, sizeof(float) * NC), *d_d2 = to_dev(be, NULL, sizeof(float) * NC);
    d_lp = lp_room(be, NC);
    cpu->swiglu_forward(h, NULL, op(x), op(g), (long)NC);
    be->swiglu_forward(d_h, d_lp, op(d_x), op(d_g), (long)NC);
    expect_close(s, "swiglu_forward", be, d_h, h, NC);
    expect_lp("swiglu_forward", be, d_lp, d_h, NC);
    d_lp = lp_room(be, NC);
    if (d_lp) be->swiglu_forward(NULL, d_lp, op(d_x), op(d_g), (long)NC);
    expect_lp("swiglu_forward (bf16 alone)", be, d_lp, d_h, NC);
    void *d_lp2 = lp_room(be, NC);
    d_lp = lp_room(be, NC);
    cpu->swiglu_backward(dx, d2, NULL, NULL, w[0] > 0 ? g : x, op(x), op(g), (long)NC);
    be->swiglu_backward(d_dx, d_d2, d_lp, d_lp2, w[0] > 0 ? d_g : d_x, op(d_x), op(d_g), (long)NC);
    expect_close(s, "swiglu_backward dgate", be, d_dx, dx, NC);
    expect_close(s, "swiglu_backward dup", be, d_d2, d2, NC);
    expect_lp("swiglu_backward dgate", be, d_lp, d_dx, NC);
    expect_lp("swiglu_backward dup", be, d_lp2, d_d2, NC);
    d_lp = lp_room(be, NC), d_lp2 = lp_room(be, NC);
    if (d_lp) be->swiglu_backward(NULL, NULL, d_lp, d_lp2, w[0] > 0 ? d_g : d_x, op(d_x), op(d_g), (long)NC);
    expect_lp("swiglu_backward dgate (bf16 alone)", be, d_lp, d_dx, NC);
    expect_lp("swiglu_backward dup (bf16 alone)", be, d_lp2, d_d2, NC);
    if (be->round_operand) {
        /* gate and up kept in bf16 alone: the layer on their bf16 values */
        void *x_lp = lp_room(be, NC), *g_lp = lp_room(be, NC);
        be->round_operand(x_lp, d_x, NC), be->round_operand(g_lp, d_g, NC);
        float *xr = malloc(sizeof(float) * NC), *gr = malloc(sizeof(float) * NC);
        for (size_t i = 0; i < NC; i++) xr[i] = bf16_value(bf16_bits(x[i])), gr[i] = bf16_value(bf16_bits(g[i]));
        dk_operand xl = {NULL, x_lp}, gl = {NULL, g_lp};
        cpu->swiglu_forward(h, NULL, op(xr), op(gr), (long)NC);
        be->swiglu_forward(d_h, NULL, xl, gl, (long)NC);
        expect_close(s, "swiglu_forward (bf16 inputs)", be, d_h, h, NC);
        cpu->swiglu_backward(dx, d2, NULL, NULL, g, op(xr), op(gr), (long)NC);
        be->swiglu_backward(d_dx, d_d2, NULL, NULL, d_g, xl, gl, (long)NC);
        expect_close(s, "swiglu_backward dgate (bf16 inputs)", be, d_dx, dx, NC);
        expect_close(s, "swiglu_backward dup (bf16 inputs)", be, d_d2, d2, NC);
        be->release(x_lp), be->release(g_lp);
        free(xr), free(gr);
    }
    cpu->residual_forward(h, x, g, (long)NC);
    be->residual_forward(d_h, d_x, d_g, (long)NC);
    expect_close(s, "residual_forward", be, d_h, h, NC);

    /* RoPE with packed positions, forward and back */
    float cs[64 * HD / 2], sn[64 * HD / 2];
    dk_rope_tables(cs, sn, 64, HD, 10000.0);
    int pos[N], seg[N];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int cut = b == 0 ? 15 : 0; /* row 0 packs two sequences, the second from t = 15 */
            pos[b * T + t] = t >= cut ? t - cut : t;
            seg[b * T + t] = t >= cut ? cut : 0;
        }
    float *d_cs = to_dev(be, cs, sizeof cs), *d_sn = to_dev(be, sn, sizeof sn);
    int *d_pos = to_dev(be, pos, sizeof pos), *d_seg = to_dev(be, seg, sizeof seg);
    size_t nq = (size_t)N * qd, nkv = (size_t)N * kvd;
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nkv), *v = malloc(sizeof(float) * nkv);
    fill(q, nq, &r, 1.0), fill(k, nkv, &r, 1.0), fill(v, nkv, &r, 1.0);
    float *d_q = to_dev(be, q, sizeof(float) * nq), *d_k = to_dev(be, k, sizeof(float) * nkv), *d_v = to_dev(be, v, sizeof(float) * nkv);
    for (int back = 0; back < 2; back++) {
        const char *what = back ? "rope_backward" : "rope_forward";
        /* given x_lp, the result goes there alone, and x is left as it was */
        d_lp = lp_room(be, nq);
        if (d_lp) {
            float *d_in = to_dev(be, q, sizeof(float) * nq), *in = malloc(sizeof(float) * nq);
            if (back) be->rope_backward(d_in, d_lp, d_cs, d_sn, B, T, NH, HD, d_pos);
            else be->rope_forward(d_in, d_lp, d_cs, d_sn, B, T, NH, HD, 0, d_pos);
            be->download(in, d_in, sizeof(float) * nq);
            assert_memory_equal(in, q, sizeof(float) * nq);
            be->release(d_in);
            free(in);
        }
        if (back) {
            cpu->rope_backward(q, NULL, cs, sn, B, T, NH, HD, pos);
            be->rope_backward(d_q, NULL, d_cs, d_sn, B, T, NH, HD, d_pos);
        } else {
            cpu->rope_forward(q, NULL, cs, sn, B, T, NH, HD, 0, pos);
            be->rope_forward(d_q, NULL, d_cs, d_sn, B, T, NH, HD, 0, d_pos);
        }
        expect_close(s, what, be, d_q, q, nq);
        expect_lp(what, be, d_lp, d_q, nq);
    }

    /* Training attention over packed rows, forward and backward. */
    float *ao = calloc(nq, sizeof(float)), *att = calloc(cpu->attention_floats(B, NH, T, T), sizeof(float));
    float *d_ao = to_dev(be, NULL, sizeof(float) * nq), *d_att = to_dev(be, NULL, sizeof(float) * be->attention_floats(B, NH, T, T));
    d_lp = lp_room(be, nq);
    cpu->attention_forward(ao, NULL, att, op(q), op(k), op(v), B, T, T, 0, NULL, NULL, NH, NKV, HD, seg);
    be->attention_forward(d_ao, d_lp, d_att, op(d_q), op(d_k), op(d_v), B, T, T, 0, NULL, NULL, NH, NKV, HD, d_seg);
    expect_close(s, "attention_forward", be, d_ao, ao, nq);
    expect_lp("attention_forward", be, d_lp, d_ao, nq);
    float *gq = malloc(sizeof(float) * nq), *dq = calloc(nq, sizeof(float)), *dk = calloc(nkv, sizeof(float)),
          *dv = calloc(nkv, sizeof(float)), *scr = calloc(cpu->attention_scratch_floats(B, NH, T), sizeof(float));
    fill(gq, nq, &r, 1.0);
    float *d_gq = to_dev(be, gq, sizeof(float) * nq), *d_dq = to_dev(be, NULL, sizeof(float) * nq),
          *d_dk = to_dev(be, NULL, sizeof(float) * nkv), *d_dv = to_dev(be, NULL, sizeof(float) * nkv),
          *d_scr = to_dev(be, NULL, sizeof(float) * be->attention_scratch_floats(B, NH, T));
    d_lp = lp_room(be, nkv);
    cpu->attention_backward(dq, dk, dv, NULL, scr, gq, ao, att, op(q), op(k), op(v), B, T, NH, NKV, HD, seg);
    be->attention_backward(d_dq, d_dk, d_dv, d_lp, d_scr, d_gq, d_ao, d_att, op(d_q), op(d_k), op(d_v), B, T, NH, NKV, HD,
                           d_seg);
    expect_close(s, "attention_backward dq", be, d_dq, dq, nq);
    expect_close(s, "attention_backward dk", be, d_dk, dk, nkv);
    expect_close(s, "attention_backward dv", be, d_dv, dv, nkv);
    expect_lp("attention_backward dv", be, d_lp, d_dv, nkv);

    /* Inference attention: rows continue cached sequences in other slots. */
    int slot[B] = {1, 0}, start[B] = {3, 8};
    size_t ncache = (size_t)B * S * kvd;
    float *kc = malloc(sizeof(float) * ncache), *vc = malloc(sizeof(float) * ncache);
    fill(kc, ncache, &r, 1.0), fill(vc, ncache, &r, 1.0);
    int Ti = 5;
    float *d_kc = to_dev(be, kc, sizeof(float) * ncache), *d_vc = to_dev(be, vc, sizeof(float) * ncache);
    int *d_slot = to_dev(be, slot, sizeof slot), *d_start = to_dev(be, start, sizeof start);
    float *iatt = calloc(cpu->attention_floats(B, NH, Ti, S), sizeof(float));
    float *d_iatt = to_dev(be, NULL, sizeof(float) * be->attention_floats(B, NH, Ti, S));
    d_lp = lp_room(be, (size_t)B * Ti * qd); /* on the fp32 kernels: too few queries for the tensor cores */
    cpu->attention_forward(ao, NULL, iatt, op(q), op(kc), op(vc), B, Ti, S, 0, start, slot, NH, NKV, HD, NULL);
    be->attention_forward(d_ao, d_lp, d_iatt, op(d_q), op(d_kc), op(d_vc), B, Ti, S, 0, d_start, d_slot, NH, NKV, HD, NULL);
    expect_close(s, "attention_forward (cache slots)", be, d_ao, ao, (size_t)B * Ti * qd);
    expect_lp("attention_forward (cache slots)", be, d_lp, d_ao, (size_t)B * Ti * qd);
    /* and the new keys and values of such a call into those slots */
    cpu->kv_store(kc, vc, k, v, slot, start, B, Ti, S, 0, kvd);
    be->kv_store(d_kc, d_vc, d_k, d_v, d_slot, d_start, B, Ti, S, 0, kvd);
    expect_close(s, "kv_store keys", be, d_kc, kc, ncache);
    expect_close(s, "kv_store values", be, d_vc, vc, ncache);

    /* The fused head: losses, lse, dx and dw; row 3 has no target. */
    int tgt[N];
    for (int i = 0; i < N; i++) tgt[i] = i == 3 ? -1 : (int)dk_rng_below(&r, V);
    int *d_tgt = to_dev(be, tgt, sizeof tgt);
    float *losses = calloc((size_t)N, sizeof(float)), *lse = calloc((size_t)N, sizeof(float));
    float *logits = calloc(cpu->logits_floats(N, V), sizeof(float));
    float *d_losses = to_dev(be, NULL, sizeof(float) * N), *d_lse = to_dev(be, NULL, sizeof(float) * N);
    float *d_logits = to_dev(be, NULL, sizeof(float) * be->logits_floats(N, V));
    memset(dwv, 0, sizeof(float) * V * C);
    be->zero(d_dwv, sizeof(float) * V * C);
    cpu->classifier(losses, lse, logits, x, wv, tgt, N, C, V, dx, dwv, 0.01f);
    be->classifier(d_losses, d_lse, d_logits, d_x, d_wv, d_tgt, N, C, V, d_dx, d_dwv, 0.01f);
    expect_close(s, "classifier losses", be, d_losses, losses, (size_t)N);
    expect_close(s, "classifier lse", be, d_lse, lse, (size_t)N);
    expect_close(s, "classifier dx", be, d_dx, dx, NC);
    expect_close(s, "classifier dw", be, d_dwv, dwv, (size_t)V * C);

    /* AdamW and the sum of squares */
    float *m1 = calloc(NC, sizeof(float)), *v1 = calloc(NC, sizeof(float));
    float *d_m1 = to_dev(be, NULL, sizeof(float) * NC), *d_v1 = to_dev(be, NULL, sizeof(float) * NC);
    dk_adamw_args a = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .decay = 0.999f, .step_size = 0.01f, .bc2_sqrt = 0.3f,
                       .grad_scale = 0.5f};
    for (int step = 0; step < 2; step++) {
        cpu->adamw(x, g, m1, v1, (long)NC, &a);
        be->adamw(d_x, d_g, d_m1, d_v1, (long)NC, &a);
    }
    expect_close(s, "adamw params", be, d_x, x, NC);
    expect_close(s, "adamw m", be, d_m1, m1, NC);
    expect_close(s, "adamw v", be, d_v1, v1, NC);
    double ss = cpu->sumsq(g, NC), dss = be->sumsq(d_g, NC);
    if (s->tol == 0) assert_true(ss == dss);
    else assert_true(fabs(ss - dss) <= 1e-6 * ss);

    void *devs[] = {d_x, d_w, d_g, d_out, d_rstd, d_dx, d_dw, d_wv, d_mo, d_gy, d_dwv, d_tok, d_h, d_d2, d_cs, d_sn, d_pos,
                    d_seg, d_q, d_k, d_v, d_ao, d_att, d_gq, d_dq, d_dk, d_dv, d_scr, d_kc, d_vc, d_slot, d_start, d_iatt,
                    d_tgt, d_losses, d_lse, d_logits, d_m1, d_v1};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) be->release(devs[i]);
    void *hosts[] = {x, w, g, out, rstd, dx, dw, wv, mo, gy, dwv, h, d2, q, k, v, ao, att, gq, dq, dk, dv, scr, kc, vc, iatt,
                     losses, lse, logits, m1, v1};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) free(hosts[i]);
}

/* Attention on q, k and v kept in bf16 alone, forward and backward, with a
 * row that packs two sequences, against the CPU on the same bf16 values:
 * for T of 150, over several tiles of keys (the tensor-core kernels stream
 * them through two buffers, each step's copied while the step before
 * computes); for T of 9, on the fp32 kernels (too few queries for the
 * tensor cores), which widen them first. */
static void check_attention_bf16(const subject *s, int T)
{
    const dk_backend *be = s->be, *cpu = dk_backend_cpu();
    if (!be->round_operand) return;
    enum { B = 2, NH = 4, NKV = 2, HD = 16 };
    size_t nq = (size_t)B * T * NH * HD, nkv = (size_t)B * T * NKV * HD;
    dk_rng r;
    dk_rng_seed(&r, 23);
    float *q = malloc(sizeof(float) * nq), *k = malloc(sizeof(float) * nkv), *v = malloc(sizeof(float) * nkv),
          *g = malloc(sizeof(float) * nq);
    fill(q, nq, &r, 1.0), fill(k, nkv, &r, 1.0), fill(v, nkv, &r, 1.0), fill(g, nq, &r, 1.0);
    /* the CPU gets the bf16 values, the backend the bf16 copies alone */
    for (size_t i = 0; i < nq; i++) q[i] = bf16_value(bf16_bits(q[i]));
    for (size_t i = 0; i < nkv; i++) k[i] = bf16_value(bf16_bits(k[i])), v[i] = bf16_value(bf16_bits(v[i]));
    int *seg = malloc(sizeof(int) * B * T);
    for (int t = 0; t < T; t++) seg[t] = t >= T / 2 ? T / 2 : 0, seg[T + t] = 0;
    float *d_f = to_dev(be, q, sizeof(float) * nq);
    void *q_lp = lp_room(be, nq), *k_lp = lp_room(be, nkv), *v_lp = lp_room(be, nkv);
    be->round_operand(q_lp, d_f, nq);
    be->upload(d_f, k, sizeof(float) * nkv), be->round_operand(k_lp, d_f, nkv);
    be->upload(d_f, v, sizeof(float) * nkv), be->round_operand(v_lp, d_f, nkv);
    dk_operand ql = {NULL, q_lp}, kl = {NULL, k_lp}, vl = {NULL, v_lp};
    float *out = calloc(nq, sizeof(float)), *att = calloc(cpu->attention_floats(B, NH, T, T), sizeof(float));
    float *dq = calloc(nq, sizeof(float)), *dk = calloc(nkv, sizeof(float)), *dv = calloc(nkv, sizeof(float));
    float *scr = calloc(cpu->attention_scratch_floats(B, NH, T), sizeof(float));
    float *d_out = to_dev(be, NULL, sizeof(float) * nq), *d_att = to_dev(be, NULL, sizeof(float) * be->attention_floats(B, NH, T, T));
    float *d_g = to_dev(be, g, sizeof(float) * nq), *d_dq = to_dev(be, NULL, sizeof(float) * nq);
    float *d_dk = to_dev(be, NULL, sizeof(float) * nkv), *d_dv = to_dev(be, NULL, sizeof(float) * nkv);
    float *d_scr = to_dev(be, NULL, sizeof(float) * be->attention_scratch_floats(B, NH, T));
    int *d_seg = to_dev(be, seg, sizeof(int) * B * T);
    cpu->attention_forward(out, NULL, att, op(q), op(k), op(v), B, T, T, 0, NULL, NULL, NH, NKV, HD, seg);
    be->attention_forward(d_out, NULL, d_att, ql, kl, vl, B, T, T, 0, NULL, NULL, NH, NKV, HD, d_seg);
    expect_close(s, "attention_forward (bf16 inputs)", be, d_out, out, nq);
    cpu->attention_backward(dq, dk, dv, NULL, scr, g, out, att, op(q), op(k), op(v), B, T, NH, NKV, HD, seg);
    be->attention_backward(d_dq, d_dk, d_dv, NULL, d_scr, d_g, d_out, d_att, ql, kl, vl, B, T, NH, NKV, HD, d_seg);
    expect_close(s, "attention_backward dq (bf16 inputs)", be, d_dq, dq, nq);
    expect_close(s, "attention_backward dk (bf16 inputs)", be, d_dk, dk, nkv);
    expect_close(s, "attention_backward dv (bf16 inputs)", be, d_dv, dv, nkv);
    void *devs[] = {d_f, q_lp, k_lp, v_lp, d_out, d_att, d_g, d_dq, d_dk, d_dv, d_scr, d_seg};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) be->release(devs[i]);
    void *hosts[] = {q, k, v, g, out, att, dq, dk, dv, scr, seg};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) free(hosts[i]);
}

/* ---- the model ---- */

static void small_config(dk_model_config *c)
{
    dk_model_config_default(c);
    c->hidden_size = 64, c->intermediate_size = 96, c->num_hidden_layers = 2, c->num_attention_heads = 4;
    c->num_key_value_heads = 2, c->vocab_size = 61, c->max_position_embeddings = 64;
}

static void random_rows(dk_model *m, void *user)
{
    dk_rng *r = user;
    size_t n = (size_t)m->acts.B * m->acts.T;
    for (size_t i = 0; i < n; i++) {
        m->acts.tokens[i] = (int)dk_rng_below(r, (uint64_t)m->cfg.vocab_size);
        m->acts.targets[i] = i % 7 == 3 ? -1 : (int)dk_rng_below(r, (uint64_t)m->cfg.vocab_size);
    }
}

/* Three AdamW steps of a model of config c on `be`; the losses, norms and
 * final weights (host). */
static float *train_on(const dk_backend *be, const dk_model_config *c, bool recompute, double losses[3], double norms[3])
{
    dk_model m;
    dk_adamw o;
    dk_train_config tc;
    dk_train_config_default(&tc);
    tc.batch_size = 3, tc.seq_len = 16, tc.steps = 3, tc.warmup_steps = 1, tc.grad_accum = 2, tc.lr = 3e-3;
    assert_int_equal(dk_model_create(&m, c), 0);
    assert_int_equal(dk_model_init(&m, 5), 0);
    assert_int_equal(dk_adamw_create(&o, m.nparams), 0);
    assert_int_equal(dk_model_use(&m, be), 0);
    assert_int_equal(dk_adamw_use(&o, be), 0);
    m.recompute = recompute;
    assert_int_equal(dk_model_alloc_acts(&m, tc.batch_size, tc.seq_len, tc.seq_len, true), 0);
    float *before = malloc(sizeof(float) * m.nparams);
    memcpy(before, m.param_block, sizeof(float) * m.nparams);
    dk_rng r;
    dk_rng_seed(&r, 11);
    for (int s = 0; s < 3; s++) assert_int_equal(dk_train_step(&m, &o, &tc, s, random_rows, &r, &losses[s], &norms[s]), 0);
    /* off the CPU the host copy only changes when downloaded */
    if (!be->host_memory) assert_memory_equal(before, m.param_block, sizeof(float) * m.nparams);
    dk_model_download(&m);
    float *w = malloc(sizeof(float) * m.nparams);
    memcpy(w, m.param_block, sizeof(float) * m.nparams);
    free(before);
    dk_adamw_free(&o);
    dk_model_free(&m);
    dk_train_config_free(&tc);
    return w;
}

static void check_training(const subject *s)
{
    double l0[3], n0[3], l1[3], n1[3];
    dk_model_config c;
    small_config(&c);
    float *ref = train_on(dk_backend_cpu(), &c, false, l0, n0), *got = train_on(s->be, &c, false, l1, n1);
    dk_model m;
    assert_int_equal(dk_model_create(&m, &c), 0);
    for (int i = 0; i < 3; i++) {
        if (s->tol == 0) {
            assert_true(l0[i] == l1[i] && n0[i] == n1[i]);
        } else {
            assert_true(fabs(l0[i] - l1[i]) <= s->tol * fabs(l0[i]));
            assert_true(fabs(n0[i] - n1[i]) <= s->tol * 10 * fabs(n0[i]));
        }
    }
    if (s->tol == 0) assert_memory_equal(ref, got, sizeof(float) * m.nparams);
    else tu_assert_close("weights after 3 steps", got, ref, m.nparams, s->tol);
    /* and again: the same bits on the same device */
    double l2[3], n2[3];
    float *again = train_on(s->be, &c, false, l2, n2);
    assert_memory_equal(got, again, sizeof(float) * m.nparams);
    assert_memory_equal(l1, l2, sizeof l1);
    /* recomputing the activations in the backward changes no bit */
    free(again);
    again = train_on(s->be, &c, true, l2, n2);
    assert_memory_equal(got, again, sizeof(float) * m.nparams);
    assert_memory_equal(l1, l2, sizeof l1);
    dk_model_free(&m);
    free(ref), free(got), free(again);
}

/* The rounded copies the model keeps for bf16 matmuls (activations,
 * gradients, weights) give the bits of the same backend without them, whose
 * matmuls round each operand at its use: every copy is of the right tensor
 * and fresh, with recomputation too. On the staged backend, whose
 * attention and SwiGLU round fp32 inputs as they read them, q, k, v, gate
 * and up kept in bf16 give the bits of keeping them in fp32 too. (On a GPU
 * the bf16 products may come from another cuBLASLt algorithm than fp32
 * ones, so only the copies compare.) */
static void check_bf16_copies(const subject *s)
{
    dk_backend uncopied = *s->be, unstored = *s->be;
    uncopied.round_operand = NULL;
    unstored.bf16_products = false;
    dk_model_config c;
    small_config(&c);
    /* Every tensor's bf16 copy then starts on 256 bytes, as the scratch the
     * uncopied matmuls round into: cuBLASLt picks its algorithm by operand
     * alignment too, and another algorithm may sum in another order. */
    c.hidden_size = 128;
    dk_model m;
    assert_int_equal(dk_model_create(&m, &c), 0);
    double l0[3], n0[3], l1[3], n1[3];
    float *plain = train_on(&uncopied, &c, false, l0, n0);
    for (int recompute = 0; recompute < 2; recompute++) {
        float *copied = train_on(s->be, &c, recompute, l1, n1);
        assert_memory_equal(l0, l1, sizeof l0);
        assert_memory_equal(n0, n1, sizeof n0);
        assert_memory_equal(plain, copied, sizeof(float) * m.nparams);
        free(copied);
    }
    if (s->be == &staged) {
        float *fp32_gate = train_on(&unstored, &c, false, l1, n1);
        assert_memory_equal(l0, l1, sizeof l0);
        assert_memory_equal(plain, fp32_gate, sizeof(float) * m.nparams);
        free(fp32_gate);
    }
    /* and bf16 is not fp32: the rounding took place */
    float *fp32 = train_on(dk_backend_cpu(), &c, false, l1, n1);
    assert_memory_not_equal(plain, fp32, sizeof(float) * m.nparams);
    free(plain), free(fp32);
    dk_model_free(&m);
}

/* Prefill, then batched decoding of two sequences at different positions;
 * with `alone`, sequence 0's decode steps again by themselves. */
static void decode_on(const dk_backend *be, float *out /* (3, 2, V) */, float *alone /* (2, V) */)
{
    dk_model_config c;
    small_config(&c);
    dk_model m;
    assert_int_equal(dk_model_create(&m, &c), 0);
    tu_random_weights(&m, 3, 0.1);
    assert_int_equal(dk_model_use(&m, be), 0);
    assert_int_equal(dk_infer_begin(&m, 2, 8, 32), 0);
    int V = c.vocab_size, p0[5] = {1, 5, 9, 2, 7}, p1[3] = {4, 4, 8}, slot0 = 0, slot1 = 1, zero = 0;
    memcpy(out, dk_infer_batch(&m, 1, 5, p0, &slot0, &zero), sizeof(float) * V);
    memcpy(out + V, dk_infer_batch(&m, 1, 3, p1, &slot1, &zero), sizeof(float) * V);
    for (int step = 0; step < 2; step++) {
        int tok[2] = {3 + step, 6 + step}, slot[2] = {0, 1}, start[2] = {5 + step, 3 + step};
        memcpy(out + (size_t)(2 + 2 * step) * V, dk_infer_batch(&m, 2, 1, tok, slot, start), sizeof(float) * 2 * V);
    }
    /* the same steps for sequence 0 alone, over its cache of the prompt */
    for (int step = 0; step < 2; step++) {
        int tok = 3 + step, start = 5 + step;
        memcpy(alone + (size_t)step * V, dk_infer_batch(&m, 1, 1, &tok, &slot0, &start), sizeof(float) * V);
    }
    dk_model_free(&m);
}

static void check_decoding(const subject *s)
{
    enum { V = 61, N = 6 * V };
    float ref[N], got[N], alone[2 * V], unused[2 * V];
    decode_on(dk_backend_cpu(), ref, unused);
    decode_on(s->be, got, alone);
    if (s->tol == 0) assert_memory_equal(ref, got, sizeof ref);
    else tu_assert_close("decoded logits", got, ref, N, s->tol);
    /* a decode step's row does not depend on the other rows of its batch */
    for (int step = 0; step < 2; step++)
        assert_memory_equal(alone + step * V, got + (size_t)(2 + 2 * step) * V, sizeof(float) * V);
}

/* ---- the trainer ---- */

static const subject *usable(void **state);

/* Packed rows of a made-up language: two sequences a row, some targets
 * masked, the same for row i whoever asks. */
static void synth_get(dk_rows *r, int64_t i, int *tokens, int *targets, int *pos, int *seg)
{
    int T = *(const int *)r->impl, cut = 5 + (int)(i % 7);
    for (int t = 0; t < T; t++) {
        tokens[t] = (int)((i * 7 + t * 3) % 61);
        targets[t] = t % 5 == 4 ? -1 : (int)((i * 7 + (t + 1) * 3 + t / 4) % 61);
        pos[t] = t < cut ? t : t - cut;
        seg[t] = t < cut ? 0 : cut;
    }
}

/* A whole dk_train run (validation, checkpoints, the final model) on `be`. */
static void train_job(const dk_backend *be, const char *out, int64_t steps, bool resume)
{
    static int T = 16;
    dk_rows train = {.count = 40, .packed = true, .get = synth_get, .impl = &T};
    dk_rows val = {.count = 8, .packed = true, .get = synth_get, .impl = &T};
    dk_train_job job = {.out_dir = out, .resume = resume, .threads = 2, .be = be, .train_rows = &train, .val_rows = &val};
    small_config(&job.model);
    job.model.tie_word_embeddings = false;
    dk_train_config_default(&job.train);
    job.train.batch_size = 4, job.train.seq_len = T, job.train.steps = steps, job.train.warmup_steps = 2;
    job.train.checkpoint_every = 2, job.train.eval_every = 2, job.train.eval_batches = 2;
    assert_int_equal(dk_train(&job), 0);
    dk_train_config_free(&job.train);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char *path = dk_path_join(dir, name), *data = NULL;
    assert_int_equal(dk_read_file(path, &data, len), 0);
    free(path);
    return data;
}

/* The losses, learning rates and norms of log.jsonl (not its timings). */
static void expect_same_log(const char *a, const char *b)
{
    size_t la, lb;
    char *x = slurp(a, "log.jsonl", &la), *y = slurp(b, "log.jsonl", &lb);
    for (char *p = x, *q = y; *p && *q; p = strchr(p, '\n') + 1, q = strchr(q, '\n') + 1) {
        char *tp = strstr(p, "\"tok_per_s\""), *tq = strstr(q, "\"tok_per_s\"");
        assert_non_null(tp), assert_non_null(tq);
        assert_true(tp - p == tq - q && !memcmp(p, q, (size_t)(tp - p)));
        char *vp = strstr(p, "\"val_loss\""), *vq = strstr(q, "\"val_loss\""), *ep = strchr(p, '\n');
        assert_true(!vp == !vq);
        if (vp && vp < ep) {
            size_t n = (size_t)(strchr(vp, '}') - vp);
            assert_true(strchr(vq, '}') - vq == (ptrdiff_t)n && !memcmp(vp, vq, n));
        }
    }
    free(x), free(y);
}

static void expect_same_model(const char *a, const char *b)
{
    size_t la, lb;
    char *x = slurp(a, "model/model.safetensors", &la), *y = slurp(b, "model/model.safetensors", &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(x, y, la);
    free(x), free(y);
}

/* Training through the staged backend writes the CPU's run: the same log,
 * checkpoints and final model (packed rows, an untied head, validation); a
 * run resumed from a checkpoint ends the same too. */
static void test_trainer_through_backend(void **state)
{
    const subject *s = usable(state);
    char *dir = tu_tempdir();
    char *cpu = dk_path_join(dir, "cpu"), *dev = dk_path_join(dir, "dev"), *res = dk_path_join(dir, "resumed");
    train_job(NULL, cpu, 6, false);
    train_job(s->be, dev, 6, false);
    expect_same_log(cpu, dev);
    if (s->tol == 0) expect_same_model(cpu, dev);
    /* lose everything after step 4's checkpoint, then resume on the same device */
    train_job(s->be, res, 6, false);
    char *gone[] = {dk_path_join(res, "model"), dk_path_join(res, "ckpt/step-00000006")};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(dk_remove_tree(gone[i]), 0);
        free(gone[i]);
    }
    train_job(s->be, res, 6, true);
    expect_same_model(dev, res);
    tu_rmdir(dir);
    free(cpu), free(dev), free(res);
}

/* ---- the cases ---- */

static subject staged_subject = {.tol = 0};
/* bf16 operands carry 8 bits of mantissa: 2^-8 relative per operand,
 * accumulated in fp32 (docs/cuda.md). */
static subject staged_bf16_subject = {.tol = 3e-2};
static subject cuda_fp32 = {.tol = 1e-4};
static subject cuda_bf16 = {.tol = 3e-2};

static int setup_staged(void **state)
{
    staged_subject.be = staged_backend(false);
    *state = &staged_subject;
    return 0;
}
static int setup_staged_bf16(void **state)
{
    staged_bf16_subject.be = staged_backend(true);
    *state = &staged_bf16_subject;
    return 0;
}

static int setup_cuda(subject *s, bool bf16, void **state)
{
    s->be = dk_backend_cuda(bf16);
    *state = s;
    return 0;
}
static int setup_cuda_fp32(void **state) { return setup_cuda(&cuda_fp32, false, state); }
static int setup_cuda_bf16(void **state) { return setup_cuda(&cuda_bf16, true, state); }

/* Without a GPU the cuda cases are reported skipped, with the reason. */
static const subject *usable(void **state)
{
    const subject *s = *state;
    if (!s->be) {
        print_message("no GPU here: %s\n", dk_error());
        skip();
    }
    return s;
}

static void test_layers(void **state)
{
    check_layers(usable(state));
    check_attention_bf16(usable(state), 150);
    check_attention_bf16(usable(state), 9);
}
static void test_training(void **state) { check_training(usable(state)); }
static void test_decoding(void **state) { check_decoding(usable(state)); }
static void test_bf16_copies(void **state) { check_bf16_copies(usable(state)); }

static void test_staged_owns_everything(void **state)
{
    (void)state;
    /* after the tests above, everything allocated was released */
    assert_int_equal(staged_mem.n, 0);
}

static void test_backend_names(void **state)
{
    (void)state;
    assert_ptr_equal(dk_backend_get(NULL, NULL), dk_backend_cpu());
    assert_ptr_equal(dk_backend_get("cpu", "fp32"), dk_backend_cpu());
    assert_null(dk_backend_get("tpu", NULL));
    tu_assert_error_has("\"tpu\" is not a device");
    assert_null(dk_backend_get("cpu", "bf16"));
    tu_assert_error_has("needs --device cuda");
    assert_null(dk_backend_get("cuda", "fp8"));
    tu_assert_error_has("\"fp8\" is not a precision");
}

static void test_int8_stays_on_cpu(void **state)
{
    (void)state;
    dk_model_config c;
    small_config(&c);
    c.intermediate_size = 128; /* whole int8 groups */
    dk_model m;
    assert_int_equal(dk_model_create(&m, &c), 0);
    tu_random_weights(&m, 3, 0.1);
    assert_int_equal(dk_model_quantize(&m), 0);
    assert_int_not_equal(dk_model_use(&m, staged_backend(false)), 0);
    tu_assert_error_has("int8 models run on the CPU only");
    dk_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest staged_tests[] = {
        cmocka_unit_test_setup(test_layers, setup_staged),
        cmocka_unit_test_setup(test_training, setup_staged),
        cmocka_unit_test_setup(test_decoding, setup_staged),
        cmocka_unit_test_setup(test_trainer_through_backend, setup_staged),
        cmocka_unit_test_setup(test_layers, setup_staged_bf16),
        cmocka_unit_test_setup(test_training, setup_staged_bf16),
        cmocka_unit_test_setup(test_decoding, setup_staged_bf16),
        cmocka_unit_test_setup(test_bf16_copies, setup_staged_bf16),
        cmocka_unit_test(test_staged_owns_everything),
        cmocka_unit_test(test_backend_names),
        cmocka_unit_test(test_int8_stays_on_cpu),
    };
    /* the GPU cases that compare every kernel with the CPU's, then whole training runs */
    const struct CMUnitTest cuda_kernel_tests[] = {
        cmocka_unit_test_setup(test_layers, setup_cuda_fp32),   cmocka_unit_test_setup(test_training, setup_cuda_fp32),
        cmocka_unit_test_setup(test_decoding, setup_cuda_fp32), cmocka_unit_test_setup(test_layers, setup_cuda_bf16),
        cmocka_unit_test_setup(test_training, setup_cuda_bf16), cmocka_unit_test_setup(test_decoding, setup_cuda_bf16),
        cmocka_unit_test_setup(test_bf16_copies, setup_cuda_bf16),
    };
    const struct CMUnitTest cuda_trainer_tests[] = {
        cmocka_unit_test_setup(test_trainer_through_backend, setup_cuda_fp32),
    };
    /* DK_BACKEND_TESTS=kernels: the kernel cases alone (what compute-sanitizer
     * checks; whole training runs take it too long and use the same kernels) */
    const char *only = getenv("DK_BACKEND_TESTS");
    bool kernels_only = only && !strcmp(only, "kernels");
    int failed = 0;
    if (!kernels_only) failed += cmocka_run_group_tests_name("staged", staged_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("cuda kernels", cuda_kernel_tests, NULL, NULL);
    if (!kernels_only) failed += cmocka_run_group_tests_name("cuda trainer", cuda_trainer_tests, NULL, NULL);
    return failed;
}
