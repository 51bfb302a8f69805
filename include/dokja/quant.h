/* Group-wise int8 weights (q8) and the kernels that decode with them.
 *
 * A matrix W (rows, cols) is cut along each row into groups of DK_Q8_GROUP
 * weights; a group keeps one float scale s = max|w| / 127 and the int8 values
 * round(w / s). The matrix-vector kernels quantize each input row the same way
 * (per group of 32) and sum int8 products in int32, one group at a time:
 * AVX-512 VNNI where present, else AVX2, else scalar, all giving the same
 * int32 sums. docs/inference.md has the file layout. */
#ifndef DK_QUANT_H
#define DK_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define DK_Q8_GROUP 32

typedef struct dk_q8_matrix {
    int8_t *q;      /* (rows, cols) */
    float *scale;   /* (rows, cols / DK_Q8_GROUP) */
    int64_t rows, cols;
} dk_q8_matrix;

/* Quantizes w (rows, cols); cols must be a multiple of DK_Q8_GROUP. */
int dk_q8_quantize(dk_q8_matrix *out, const float *w, int64_t rows, int64_t cols);
void dk_q8_dequantize(float *w, const dk_q8_matrix *q);
void dk_q8_free(dk_q8_matrix *q);

/* out (N, OC) = inp (N, IC) @ W^T, W int8 (OC, IC); each output is computed
 * alone, so a row's result does not depend on N or the thread count. */
void dk_q8_matmul(float *out, const float *inp, const dk_q8_matrix *w, int N);
/* The kernel's name: "avx512-vnni", "avx2" or "scalar". */
const char *dk_q8_kernel(void);
/* Sum over n/32 groups of a_q . b_q * a_scale * b_scale (b, the activations,
 * never -128), in portable C: the tests compare the vector kernels with it. */
float dk_q8_dot_scalar(const int8_t *a, const float *as, const int8_t *b, const float *bs, int n);
float dk_q8_dot(const int8_t *a, const float *as, const int8_t *b, const float *bs, int n);

/* Model-level: int8 copies of every matrix (m->q8), the fp32 block keeping
 * their dequantized values (prefill's GEMMs and the embedding read those). */
int dk_model_quantize(dk_model *m);
void dk_model_q8_free(dk_model *m);
/* The q8 copy of the matrix at w (a pointer into m->param_block). */
const dk_q8_matrix *dk_model_q8_of(const dk_model *m, const float *w);
/* Weight bytes one decode step reads: every matrix once (fp32 or int8 plus scales). */
size_t dk_model_decode_bytes(const dk_model *m);

#endif
