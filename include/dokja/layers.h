/* The layers, one function per layer and direction. N = B*T rows.
 * Backward functions accumulate (+=) into parameter gradients; whether they
 * accumulate into input gradients is said for each. All are deterministic
 * for any thread count. */
#ifndef DK_LAYERS_H
#define DK_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

/* Element-wise loops smaller than this run on one thread: starting a parallel
 * region costs more (decoding runs them on a single token per sequence). */
#define DK_PARALLEL_MIN 32768L

/* out (N, C) = wte[tokens] */
void dk_embedding_forward(float *out, const int *tokens, const float *wte, int N, int C);
/* dwte (V, C) += scatter of dout (N, C) */
void dk_embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);

/* out (N, C) = inp / rms(inp) * weight; rstd (N) saved for the backward. */
void dk_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N, int C, float eps);
/* dinp (N, C) += ..., dweight (C) += ... */
void dk_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                         const float *rstd, int N, int C);

/* out (N, OC) = inp (N, IC) @ weight (OC, IC)^T, through cblas_sgemm. */
void dk_matmul_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC);
/* The same, one dot product per output in a fixed order (decoding): a row's
 * result does not depend on N or the thread count, and the weights are read
 * once for all N rows. */
void dk_matmul_rows_forward(float *out, const float *inp, const float *weight, int N, int IC, int OC);
/* dinp (N, IC) = (or += when accumulate) dout @ weight; dweight (OC, IC) += dout^T @ inp. */
void dk_matmul_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight, int N, int IC,
                        int OC, bool accumulate);

/* RoPE "rotate half" tables: cos/sin (P, HD/2) for positions 0..P-1, computed
 * as HF does in float32. */
void dk_rope_tables(float *cos_t, float *sin_t, int P, int HD, double theta);
/* x (B, T, H, HD), in place. Token (b, t) sits at position pos[b*T + t],
 * or pos0 + t when pos is NULL (packed training rows restart positions at
 * each conversation). */
void dk_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, int pos0, const int *pos);
/* The inverse rotation, applied in place to the gradient. */
void dk_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int H, int HD, const int *pos);

/* Causal grouped-query attention. q (B, T, NH, HD); k, v (slots, S, NKV, HD);
 * att (B, NH, T, S); out (B, T, NH, HD). Row b reads slot slot[b] (NULL:
 * slot b), whose positions 0..p+T-1 are filled, p = start[b] (start NULL:
 * pos0); its query t sits at position p + t and sees keys seg[b*T + t]..p+t:
 * seg (B, T), when not NULL, is where the query's own sequence starts in a
 * packed row, so packed sequences never attend to each other. */
void dk_attention_forward(float *out, float *att, const float *q, const float *k, const float *v, int B, int T, int S, int pos0,
                          const int *start, const int *slot, int NH, int NKV, int HD, const int *seg);
/* Training only (pos0 = 0, S = T). dq, dk, dv are overwritten; scratch is
 * (threads, T, T). Masked keys have att = 0 and so get no gradient. */
void dk_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *att, const float *q,
                           const float *k, const float *v, int B, int T, int NH, int NKV, int HD);

/* h (n) = silu(gate) * up */
void dk_swiglu_forward(float *h, const float *gate, const float *up, long n);
/* dgate, dup (n) overwritten */
void dk_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, long n);

/* out (n) = a + b */
void dk_residual_forward(float *out, const float *a, const float *b, long n);

/* losses (N) = logsumexp(logits) - logits[target]; lse (N) saved; rows
 * with target -1 get loss 0. Returns the number of counted rows. */
int dk_crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets, int N, int V);
/* logits (N, V) become d(loss)/d(logits) = (softmax - onehot) * dloss, in place. */
void dk_crossentropy_backward(float *logits, const float *lse, const int *targets, int N, int V, float dloss);

#endif
