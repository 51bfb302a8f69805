/* Group-wise int8 weights and their matrix-vector kernels (include/dokja/quant.h). */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/quant.h"

/* One group: scale = max|x| / 127, q = round(x / scale); all zeros when max is 0. */
static void quantize_group(int8_t *q, float *scale, const float *x)
{
    float amax = 0.0f;
    for (int i = 0; i < DK_Q8_GROUP; i++) amax = fmaxf(amax, fabsf(x[i]));
    float s = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < DK_Q8_GROUP; i++) q[i] = (int8_t)lrintf(x[i] * inv);
    *scale = s;
}

static void quantize_row(int8_t *q, float *scale, const float *x, int64_t n)
{
    for (int64_t g = 0; g < n / DK_Q8_GROUP; g++) quantize_group(q + g * DK_Q8_GROUP, scale + g, x + g * DK_Q8_GROUP);
}

int dk_q8_quantize(dk_q8_matrix *out, const float *w, int64_t rows, int64_t cols)
{
    memset(out, 0, sizeof *out);
    if (cols % DK_Q8_GROUP)
        return dk_fail("q8 needs rows whose length is a multiple of %d (this matrix has %lld columns)", DK_Q8_GROUP,
                       (long long)cols);
    out->q = dk_malloc((size_t)(rows * cols));
    out->scale = dk_malloc(sizeof(float) * (size_t)(rows * cols / DK_Q8_GROUP));
    if (!out->q || !out->scale) {
        dk_q8_free(out);
        return -1;
    }
    out->rows = rows;
    out->cols = cols;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) quantize_row(out->q + r * cols, out->scale + r * (cols / DK_Q8_GROUP), w + r * cols, cols);
    return 0;
}

void dk_q8_dequantize(float *w, const dk_q8_matrix *q)
{
    size_t n = (size_t)(q->rows * q->cols);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) w[i] = (float)q->q[i] * q->scale[i / DK_Q8_GROUP];
}

void dk_q8_free(dk_q8_matrix *q)
{
    free(q->q);
    free(q->scale);
    memset(q, 0, sizeof *q);
}

float dk_q8_dot_scalar(const int8_t *a, const float *as, const int8_t *b, const float *bs, int n)
{
    float acc = 0.0f;
    for (int g = 0; g < n / DK_Q8_GROUP; g++) {
        int32_t sum = 0;
        for (int i = 0; i < DK_Q8_GROUP; i++) sum += (int32_t)a[g * DK_Q8_GROUP + i] * b[g * DK_Q8_GROUP + i];
        acc += (float)sum * as[g] * bs[g];
    }
    return acc;
}

#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVX2__)
/* One group's int32 sums, 8 lanes. u8 x s8 products need an unsigned side:
 * |x| meets w with x's sign. x is an activation, never -128 (weights that are
 * -128 in a file are read as -127). */
static inline __m256i group_dot(__m256i ax, __m256i x, const int8_t *w)
{
    __m256i sw = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)w), x);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sw);
#else
    /* pairs of products stay below 2 * 127 * 127, inside int16 */
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), _mm256_set1_epi16(1));
#endif
}

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* Four weight rows (ld bytes apart, scales lds apart) against one input: the
 * input's groups are loaded once for the four, and each row sums in the same
 * order as alone (ld = lds = 0 computes one row four times). */
static void dot_rows(const int8_t *w, size_t ld, const float *ws, size_t lds, const int8_t *x, const float *xs, int n, float out[4])
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int g = 0; g < n / DK_Q8_GROUP; g++) {
        __m256i xv = _mm256_loadu_si256((const __m256i *)(x + g * DK_Q8_GROUP)), ax = _mm256_sign_epi8(xv, xv);
        for (int r = 0; r < 4; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(group_dot(ax, xv, w + r * ld + (size_t)g * DK_Q8_GROUP)),
                                     _mm256_set1_ps(ws[r * lds + (size_t)g] * xs[g]), acc[r]);
    }
    for (int r = 0; r < 4; r++) out[r] = hsum(acc[r]);
}
#else
static void dot_rows(const int8_t *w, size_t ld, const float *ws, size_t lds, const int8_t *x, const float *xs, int n, float out[4])
{
    for (int r = 0; r < 4; r++) out[r] = dk_q8_dot_scalar(w + r * ld, ws + r * lds, x, xs, n);
}
#endif

float dk_q8_dot(const int8_t *a, const float *as, const int8_t *b, const float *bs, int n)
{
    float r[4];
    dot_rows(a, 0, as, 0, b, bs, n, r);
    return r[0];
}

const char *dk_q8_kernel(void)
{
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return "avx512-vnni";
#elif defined(__AVX2__)
    return "avx2";
#else
    return "scalar";
#endif
}

/* The inputs' int8 form, per calling thread (the server decodes on its own
 * thread); a thread's buffer is freed when the thread ends. */
typedef struct {
    int8_t *q;
    float *scale;
    size_t cap;
} xbuf;

static pthread_key_t xbuf_key;
static pthread_once_t xbuf_once = PTHREAD_ONCE_INIT;

static void xbuf_free(void *p)
{
    xbuf *b = p;
    free(b->q);
    free(b->scale);
    free(b);
}

static void xbuf_key_make(void) { pthread_key_create(&xbuf_key, xbuf_free); }

static xbuf *reserve(size_t n)
{
    pthread_once(&xbuf_once, xbuf_key_make);
    xbuf *b = pthread_getspecific(xbuf_key);
    if (!b && (!(b = calloc(1, sizeof *b)) || pthread_setspecific(xbuf_key, b))) {
        free(b);
        return NULL;
    }
    if (n <= b->cap) return b;
    int8_t *q = realloc(b->q, n);
    if (q) b->q = q;
    float *s = q ? realloc(b->scale, sizeof(float) * (n / DK_Q8_GROUP + 1)) : NULL;
    if (!q || !s) return NULL;
    b->scale = s;
    b->cap = n;
    return b;
}

void dk_q8_matmul(float *out, const float *inp, const dk_q8_matrix *w, int N)
{
    int IC = (int)w->cols, OC = (int)w->rows, G = IC / DK_Q8_GROUP;
    xbuf *b = reserve((size_t)N * IC);
    if (!b) {
        /* Without memory for the int8 inputs there is no answer; NaN says so downstream. */
        for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = NAN;
        return;
    }
    for (int n = 0; n < N; n++) quantize_row(b->q + (size_t)n * IC, b->scale + (size_t)n * G, inp + (size_t)n * IC, IC);
    const int8_t *xq = b->q;
    const float *xs = b->scale;
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o += 4) {
        /* a last block of fewer than four rows computes each alone */
        int rows = OC - o < 4 ? OC - o : 4;
        const int8_t *wq = w->q + (size_t)o * IC;
        const float *ws = w->scale + (size_t)o * G;
        for (int n = 0; n < N; n++) {
            float r[4];
            if (rows == 4) dot_rows(wq, (size_t)IC, ws, (size_t)G, xq + (size_t)n * IC, xs + (size_t)n * G, IC, r);
            else
                for (int k = 0; k < rows; k++)
                    r[k] = dk_q8_dot(wq + (size_t)k * IC, ws + (size_t)k * G, xq + (size_t)n * IC, xs + (size_t)n * G, IC);
            for (int k = 0; k < rows; k++) out[(size_t)n * OC + o + k] = r[k];
        }
    }
}

int dk_model_quantize(dk_model *m)
{
    dk_model_q8_free(m);
    m->q8 = dk_calloc((size_t)m->ntensors, sizeof *m->q8);
    if (!m->q8) return -1;
    for (int i = 0; i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        if (t->ndim != 2) continue;
        float *w = m->param_block + t->offset;
        if (dk_q8_quantize(&m->q8[i], w, t->shape[0], t->shape[1])) {
            dk_model_q8_free(m);
            return dk_fail_context("%s", t->name);
        }
        dk_q8_dequantize(w, &m->q8[i]);
    }
    return 0;
}

void dk_model_q8_free(dk_model *m)
{
    if (!m->q8) return;
    for (int i = 0; i < m->ntensors; i++) dk_q8_free(&m->q8[i]);
    free(m->q8);
    m->q8 = NULL;
}

const dk_q8_matrix *dk_model_q8_of(const dk_model *m, const float *w)
{
    size_t off = (size_t)(w - m->param_block);
    int lo = 0, hi = m->ntensors - 1;
    /* tensors are listed in block order */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (m->tensors[mid].offset <= off) lo = mid;
        else hi = mid - 1;
    }
    return &m->q8[lo];
}

size_t dk_model_decode_bytes(const dk_model *m)
{
    size_t bytes = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        /* an untied embedding is only looked up, a row per token */
        if (t->ndim != 2 || (t->offset == 0 && !m->cfg.tie_word_embeddings)) continue;
        bytes += m->q8 ? t->numel + sizeof(float) * t->numel / DK_Q8_GROUP : sizeof(float) * t->numel;
    }
    return bytes;
}
