/* Attention on tensor cores for --precision bf16, in the manner of
 * FlashAttention-2: the attention.cu structure, with each warp's scores,
 * probabilities and sums held in registers as m16n8k16 MMA fragments (bf16
 * operands, fp32 accumulation) and only the bf16 tiles of Q, K, V and dO in
 * shared memory, read by ldmatrix. Q, K and V come in bf16 from training
 * (which keeps them so) and are copied in; from inference they come in fp32
 * and, like the probabilities, are rounded to bf16 as they become operands.
 * dO is rounded to bf16 once, before the backward's passes. Scores, the
 * online softmax, the output and the gradients stay fp32.
 *
 * A block takes 64 queries (64 keys in the dk/dv pass), 16 a warp, and
 * streams the other side through shared memory 64 at a time (with bf16
 * inputs by cp.async, one step ahead: begin_step). Each warp owns
 * its rows from start to end and every sum runs in one fixed order: no
 * atomics, the same bits on every run. Needs sm_80 or later (bf16 MMA).
 * Shapes as attention.cu. */
#include "attention.h"

#define TC_WARPS 4
#define TC_ROWS 64 /* queries (keys) per block, 16 a warp */
#define TC_TILE 64 /* keys (queries) per step */
#define PAD 8      /* bf16 padding of a shared row: rows stay 16-byte aligned and ldmatrix hits no bank twice */
#define LOG2E 1.4426950408889634f
/* blocks an SM keeps: three for head sizes up to 64 (the registers that
 * leaves are enough); larger heads take what they need */
#define TC_MIN_BLOCKS(HD) ((HD) <= 64 ? 3 : 1)

typedef __nv_bfloat16 bf16;

bool dk_cuda_attention_tc_fits(bool bf16, int T, int HD)
{
    return bf16 && HD % 16 == 0 && HD <= 128 && T >= 16 && dk_cuda_compute_major() >= 8;
}

__device__ inline uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* c (16 x 8) += a (16 x 16) b (16 x 8). Lane l holds, with g = l / 4 and
 * q = l % 4: of c, rows g and g + 8 at columns 2q, 2q + 1 (c0 c1 | c2 c3);
 * of a, those rows at columns 2q, 2q + 1 and 2q + 8, 2q + 9; of b, rows
 * 2q, 2q + 1 and 2q + 8, 2q + 9 at column g. */
__device__ inline void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
#if __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/* Four 8 x 8 bf16 matrices from shared memory, lanes 8i .. 8i + 7 giving
 * the rows of matrix i; TRANSPOSED hands each lane the transposed pairs. */
template <bool TRANSPOSED> __device__ inline void ldmatrix_x4(uint32_t r[4], const bf16 *p)
{
#if __CUDA_ARCH__ >= 800
    unsigned at = (unsigned)__cvta_generic_to_shared(p);
    if (TRANSPOSED)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(at));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(at));
#endif
}

/* The a fragments of 16 shared rows (ld apart), K columns. */
template <int K> __device__ inline void load_a(uint32_t a[K / 16][4], const bf16 *rows, int ld)
{
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++) ldmatrix_x4<false>(a[kk], rows + (lane % 16) * ld + kk * 16 + lane / 16 * 8);
}

/* Probabilities or score gradients (16 x K, as accumulators) as the a
 * fragments of the next product, rounded to bf16. */
template <int K> __device__ inline void acc_to_a(uint32_t a[K / 16][4], const float c[K / 8][4])
{
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++) {
        a[kk][0] = pack_bf16(c[2 * kk][0], c[2 * kk][1]);
        a[kk][1] = pack_bf16(c[2 * kk][2], c[2 * kk][3]);
        a[kk][2] = pack_bf16(c[2 * kk + 1][0], c[2 * kk + 1][1]);
        a[kk][3] = pack_bf16(c[2 * kk + 1][2], c[2 * kk + 1][3]);
    }
}

/* c (16 x N) += a (16 x K) B for B (K x N) given in shared memory either by
 * its N columns as rows (BY_COLUMNS: K for Q K^T, B[k][n] = Ks[n][k]) or by
 * its K rows (V for P V, B[k][n] = Vs[k][n]). */
template <int K, int N, bool BY_COLUMNS>
__device__ inline void warp_mma(float c[N / 8][4], const uint32_t a[K / 16][4], const bf16 *B, int ld)
{
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int n = 0; n < N; n += 16) {
#pragma unroll
        for (int kk = 0; kk < K / 16; kk++) {
            uint32_t b[4]; /* b0 b1 of columns n .. n + 7, then of n + 8 .. n + 15 */
            if (BY_COLUMNS)
                ldmatrix_x4<false>(b, B + (size_t)(n + lane % 8 + lane / 16 * 8) * ld + kk * 16 + lane / 8 % 2 * 8);
            else
                ldmatrix_x4<true>(b, B + (size_t)(kk * 16 + lane % 16) * ld + n + lane / 16 * 8);
            mma(c[n / 8], a[kk], b[0], b[1]);
            mma(c[n / 8 + 1], a[kk], b[2], b[3]);
        }
    }
}

/* 16 bytes from global to shared memory by cp.async, zeros where !in (no
 * bytes read); commit closes a group of them, wait_newest_open waits for
 * all the groups but the newest, wait_all for all. */
__device__ inline void copy16_async(bf16 *dst, const bf16 *src, bool in)
{
#if __CUDA_ARCH__ >= 800
    unsigned at = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(at), "l"(src), "r"(in ? 16 : 0) : "memory");
#endif
}
__device__ inline void async_commit()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
__device__ inline void async_wait_all()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 0;" ::: "memory");
#endif
}
__device__ inline void async_wait_newest_open()
{
#if __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group 1;" ::: "memory");
#endif
}

/* Rows first .. first + 63 of a bf16 matrix (row i at `at` + i * stride of
 * src, 16-byte aligned) into shared rows of HD + PAD, zeros from row `limit`
 * on, by cp.async: the copies are in flight when it returns. */
template <int HD> __device__ void copy_tile_async(bf16 *dst, const void *src, size_t at, size_t stride, int first, int limit)
{
    constexpr int PER = TC_TILE * HD / 8 / (TC_WARPS * 32);
    const bf16 *base = (const bf16 *)src + at;
#pragma unroll
    for (int u = 0; u < PER; u++) {
        int i = threadIdx.x + u * TC_WARPS * 32, r = i / (HD / 8), d = i % (HD / 8) * 8;
        bool in = first + r < limit;
        copy16_async(dst + r * (HD + PAD) + d, in ? base + (size_t)(first + r) * stride + d : base, in);
    }
}

/* Rows first .. first + 63 of a matrix (row i at `at` + i * stride of src,
 * 16-byte aligned) into bf16 shared rows of HD + PAD, zeros from row
 * `limit` on, the copies done when it returns: copied where src is kept in
 * bf16 (LP: src.lp), rounded from fp32 (src.x) otherwise. The fp32 loads go
 * out in batches, each issued whole before its first store, so a thread has
 * several in flight at once. */
template <int HD, bool LP>
__device__ void load_tile(bf16 *dst, dk_operand src, size_t at, size_t stride, int first, int limit)
{
    if constexpr (LP) {
        copy_tile_async<HD>(dst, src.lp, at, stride, first, limit);
        async_commit();
        async_wait_all();
        return;
    }
    const float *__restrict__ base = src.x + at;
    constexpr int PER = TC_TILE * HD / 4 / (TC_WARPS * 32), BATCH = PER < 4 ? PER : 4; /* float4s a thread */
#pragma unroll
    for (int u0 = 0; u0 < PER; u0 += BATCH) {
        float4 x[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            int i = threadIdx.x + (u0 + u) * TC_WARPS * 32, r = i / (HD / 4), d = i % (HD / 4) * 4;
            x[u] = first + r < limit ? __ldg((const float4 *)(base + (size_t)(first + r) * stride + d))
                                     : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            int i = threadIdx.x + (u0 + u) * TC_WARPS * 32, r = i / (HD / 4), d = i % (HD / 4) * 4;
            *(uint2 *)(dst + r * (HD + PAD) + d) = make_uint2(pack_bf16(x[u].x, x[u].y), pack_bf16(x[u].z, x[u].w));
        }
    }
}

/* The two tiles a loop streams through shared memory step by step (K and
 * V, or Q and dO), of matrices a and b at the same offsets: a step reads
 * rows cur.first .. + 63 from cur.at. With LP (both in bf16) each step's
 * tiles were copied by cp.async during the step before, into the other of
 * two buffers (begin_stream starts the first step's), so their loads
 * overlap the mma; without, each step loads (and rounds, b being bf16 with
 * B16) its own into buffer 0. The buffers alternate a, b, a, b from a0 (b0
 * is a0's next tile): step s reads buffer stream_buffer(s). A step is
 * begin_step, its reads of the tiles, then end_step; next.first < 0 when
 * there is no next step. */
struct tile_at {
    size_t at;
    int first;
};

template <bool LP> __device__ inline int stream_buffer(int step) { return LP ? step % 2 : 0; }
template <int HD> __device__ inline bf16 *buffer(bf16 *first, int i) { return first + i * 2 * TC_TILE * (HD + PAD); }

template <int HD, bool LP>
__device__ void begin_stream(bf16 *a0, bf16 *b0, dk_operand a, dk_operand b, size_t stride, int limit, tile_at first)
{
    if constexpr (LP) {
        copy_tile_async<HD>(a0, a.lp, first.at, stride, first.first, limit);
        copy_tile_async<HD>(b0, b.lp, first.at, stride, first.first, limit);
        async_commit();
    }
}

template <int HD, bool LP, bool B16 = LP>
__device__ void begin_step(bf16 *a0, bf16 *b0, int step, dk_operand a, dk_operand b, size_t stride, int limit, tile_at cur,
                           tile_at next)
{
    if constexpr (LP) {
        if (next.first >= 0) {
            int i = stream_buffer<LP>(step + 1);
            copy_tile_async<HD>(buffer<HD>(a0, i), a.lp, next.at, stride, next.first, limit);
            copy_tile_async<HD>(buffer<HD>(b0, i), b.lp, next.at, stride, next.first, limit);
        }
        async_commit(); /* empty at the last step: the wait below counts groups */
        async_wait_newest_open();
    } else {
        load_tile<HD, false>(a0, a, cur.at, stride, cur.first, limit);
        load_tile<HD, B16>(b0, b, cur.at, stride, cur.first, limit);
    }
    __syncthreads();
}

/* The step's tiles are read: their buffers may be refilled. */
__device__ inline void end_step() { __syncthreads(); }

/* Max (or sum) of a row over the four lanes that hold it, in a fixed order. */
__device__ inline float quad_max(float x)
{
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
    return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ inline float quad_sum(float x)
{
    x += __shfl_xor_sync(0xffffffffu, x, 1);
    return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/* Writes a warp's 16 x HD accumulators to rows row0 .. row0 + 15 (stride
 * apart, those from `limit` on left out), row i divided by div[i >= 8],
 * into base and, as dk_store, their bf16 rounding into lp (either NULL). */
template <int HD>
__device__ void store_rows(float *base, bf16 *lp, size_t stride, int row0, int limit, const float c[HD / 8][4],
                           const float div[2])
{
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int half = 0; half < 2; half++) {
        int row = row0 + lane / 4 + 8 * half;
        if (row >= limit) continue;
        size_t at = (size_t)row * stride + lane % 4 * 2;
#pragma unroll
        for (int n = 0; n < HD / 8; n++) {
            float2 v = make_float2(c[n][2 * half] / div[half], c[n][2 * half + 1] / div[half]);
            if (base) *(float2 *)(base + at + 8 * n) = v;
            if (lp) *(uint32_t *)(lp + at + 8 * n) = pack_bf16(v.x, v.y);
        }
    }
}

/* The lane's two rows of its warp's 16 from query t0 + 16 w (row[i]), the
 * keys each sees (lo[i] .. hi[i]; none for rows past T), and the last key
 * any row of the warp sees (-1: none). p0: the position of query 0. */
__device__ inline int lane_rows(const attn_rows &r, int b, int t0, int p0, int row[2], int lo[2], int hi[2])
{
    int lane = threadIdx.x % 32, w0 = t0 + 16 * (threadIdx.x / 32), T = r.T;
    for (int i = 0; i < 2; i++) {
        row[i] = w0 + lane / 4 + 8 * i;
        lo[i] = row[i] < T ? r.first(b, row[i]) : 0;
        hi[i] = row[i] < T ? p0 + row[i] : -1;
    }
    return w0 < T ? p0 + min(w0 + 15, T - 1) : -1;
}

/* A warp's scores against keys k0 .. k0 + 63, times sl2; with MASK, those
 * of keys a row does not see (lo[i] .. hi[i] for the lane's rows i) are
 * -inf. Tiles that every row of the warp sees whole skip the test. */
template <bool MASK>
__device__ inline void scale_scores(float s[TC_TILE / 8][4], float sl2, int k0, const int lo[2], const int hi[2])
{
    int lane = threadIdx.x % 32;
#pragma unroll
    for (int j = 0; j < TC_TILE / 8; j++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int i = e / 2, key = k0 + 8 * j + lane % 4 * 2 + e % 2;
            s[j][e] = !MASK || (key >= lo[i] && key <= hi[i]) ? s[j][e] * sl2 : -INFINITY;
        }
}

__device__ inline void scale_tile(float s[TC_TILE / 8][4], float sl2, int k0, const int lo[2], const int hi[2])
{
    bool whole = lo[0] <= k0 && lo[1] <= k0 && k0 + TC_TILE - 1 <= hi[0] && k0 + TC_TILE - 1 <= hi[1];
    if (__all_sync(0xffffffffu, whole)) scale_scores<false>(s, sl2, k0, lo, hi);
    else scale_scores<true>(s, sl2, k0, lo, hi);
}

static size_t tile_bytes(int HD) { return sizeof(bf16) * TC_TILE * (size_t)(HD + PAD); }

template <int HD, bool LP>
__global__ void __launch_bounds__(TC_WARPS * 32, TC_MIN_BLOCKS(HD))
    tc_forward_kernel(float *out, bf16 *out_lp, float *lse, dk_operand q, dk_operand k, dk_operand v, attn_rows r, int NH,
                      int NKV, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    const int ld = HD + PAD;
    /* Q, then K and V (two of each with LP) */
    bf16 *Qs = (bf16 *)raw, *K0 = Qs + TC_TILE * ld, *V0 = K0 + TC_TILE * ld;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, p0 = r.p0(b);
    int t0 = (gridDim.x - 1 - blockIdx.x) * TC_ROWS; /* the longest rows start first */
    size_t kvb = r.cache(b, kvs) + (size_t)g * HD, ob = (size_t)b * T * qs + (size_t)h * HD;

    load_tile<HD, LP>(Qs, q, ob, qs, t0, T);
    int t_end = min(t0 + TC_ROWS, T) - 1, klast = p0 + t_end, kfirst = r.first_of(b, t0, t_end, klast);
    int row[2], lo[2], hi[2], warp_last = lane_rows(r, b, t0, p0, row, lo, hi);
    int kstart = kfirst - kfirst % TC_TILE;
    begin_stream<HD, LP>(K0, V0, k, v, kvs, klast + 1, {kvb, kstart});
    __syncthreads();
    uint32_t qa[HD / 16][4];
    load_a<HD>(qa, Qs + 16 * w * ld, ld);

    float o[HD / 8][4] = {}, m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    float sl2 = scale * LOG2E; /* scores in log2 units: exp2 */
    for (int k0 = kstart, step = 0; k0 <= klast; k0 += TC_TILE, step++) {
        begin_step<HD, LP>(K0, V0, step, k, v, kvs, klast + 1, {kvb, k0}, {kvb, k0 + TC_TILE <= klast ? k0 + TC_TILE : -1});
        const bf16 *Ks = buffer<HD>(K0, stream_buffer<LP>(step)), *Vs = buffer<HD>(V0, stream_buffer<LP>(step));
        if (k0 <= warp_last) { /* else the warp's rows see none of these keys */
            float s[TC_TILE / 8][4] = {};
            warp_mma<HD, TC_TILE, true>(s, qa, Ks, ld);
            scale_tile(s, sl2, k0, lo, hi);
            float mx[2] = {m[0], m[1]};
#pragma unroll
            for (int j = 0; j < TC_TILE / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) mx[e / 2] = fmaxf(mx[e / 2], s[j][e]);
            float alpha[2], sum[2] = {0.0f, 0.0f};
            for (int i = 0; i < 2; i++) {
                mx[i] = quad_max(mx[i]);
                alpha[i] = mx[i] == -INFINITY ? 1.0f : exp2f(m[i] - mx[i]);
                m[i] = mx[i];
            }
#pragma unroll
            for (int j = 0; j < TC_TILE / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int i = e / 2;
                    /* summed as rounded for P V, so each row's weights sum to 1 */
                    float p = s[j][e] == -INFINITY ? 0.0f : __bfloat162float(__float2bfloat16_rn(exp2f(s[j][e] - m[i])));
                    s[j][e] = p;
                    sum[i] += p;
                }
            for (int i = 0; i < 2; i++) l[i] = l[i] * alpha[i] + sum[i];
#pragma unroll
            for (int n = 0; n < HD / 8; n++) o[n][0] *= alpha[0], o[n][1] *= alpha[0], o[n][2] *= alpha[1], o[n][3] *= alpha[1];
            uint32_t pa[TC_TILE / 16][4];
            acc_to_a<TC_TILE>(pa, s);
            warp_mma<TC_TILE, HD, false>(o, pa, Vs, ld);
        }
        end_step();
    }
    for (int i = 0; i < 2; i++) l[i] = quad_sum(l[i]);
    store_rows<HD>(out + ob, out_lp ? out_lp + ob : NULL, qs, t0 + 16 * w, T, o, l);
    for (int i = 0; i < 2; i++)
        if (lane % 4 == 0 && row[i] < T) lse[((size_t)b * NH + h) * T + row[i]] = (m[i] + log2f(l[i])) / LOG2E;
}

/* One head size's kernels, chosen at run time among the multiples of 16,
 * for q, k and v in bf16 (lp) or in fp32. */
#define DK_TC_CASE(D, CALL)                                                                                                 \
    case D:                                                                                                                 \
        if (lp) {                                                                                                           \
            CALL(D, true);                                                                                                  \
        } else {                                                                                                            \
            CALL(D, false);                                                                                                 \
        }                                                                                                                   \
        break;
#define DK_TC_DISPATCH(HD, CALL)                                                                                            \
    switch (HD) {                                                                                                           \
        DK_TC_CASE(16, CALL)                                                                                                \
        DK_TC_CASE(32, CALL)                                                                                                \
        DK_TC_CASE(48, CALL)                                                                                                \
        DK_TC_CASE(64, CALL)                                                                                                \
        DK_TC_CASE(80, CALL)                                                                                                \
        DK_TC_CASE(96, CALL)                                                                                                \
        DK_TC_CASE(112, CALL)                                                                                               \
        DK_TC_CASE(128, CALL)                                                                                               \
    }

/* Whether q, k and v come in bf16: all three are, or none (backend.h). */
static bool inputs_lp(dk_operand q, dk_operand k, dk_operand v)
{
    bool lp = q.lp != NULL;
    if ((k.lp != NULL) != lp || (v.lp != NULL) != lp) dk_dist_fatal("attention: q, k and v must all be fp32 or all bf16");
    return lp;
}

void dk_cuda_attention_tc_forward(float *out, void *out_lp, float *lse, dk_operand q, dk_operand k, dk_operand v, int B,
                                  attn_rows r, int NH, int NKV, int HD)
{
    bool lp = inputs_lp(q, k, v);
    size_t smem = (lp ? 5 : 3) * tile_bytes(HD); /* with bf16 inputs, two of each streamed tile */
    dim3 grid(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NH, (unsigned)B);
#define FORWARD(D, LP)                                                                                                      \
    dk_cuda_allow_smem((const void *)tc_forward_kernel<D, LP>, smem);                                                       \
    tc_forward_kernel<D, LP><<<grid, TC_WARPS * 32, smem>>>(out, (bf16 *)out_lp, lse, q, k, v, r, NH, NKV,              \
                                                            1.0f / sqrtf((float)HD))
    DK_TC_DISPATCH(HD, FORWARD)
#undef FORWARD
    DK_CUDA_LAUNCHED();
}

/* dq = dS K over the key tiles each query sees, dS = P (dP - D) scale,
 * P = exp(S scale - lse), dP = dO V^T. */
template <int HD, bool LP>
__global__ void __launch_bounds__(TC_WARPS * 32, TC_MIN_BLOCKS(HD))
    tc_dq_kernel(float *dq, const bf16 *dout, const float *lse, const float *D, dk_operand q, dk_operand k, dk_operand v,
                 attn_rows r, int NH, int NKV, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    const int ld = HD + PAD;
    /* Q, dO, then K and V (two of each with LP) */
    bf16 *Qs = (bf16 *)raw, *Gs = Qs + TC_TILE * ld, *K0 = Gs + TC_TILE * ld, *V0 = K0 + TC_TILE * ld;
    int b = blockIdx.z, h = blockIdx.y, g = h / (NH / NKV), T = r.T, qs = NH * HD, kvs = NKV * HD;
    int w = threadIdx.x / 32;
    int t0 = (gridDim.x - 1 - blockIdx.x) * TC_ROWS;
    size_t kvb = (size_t)b * T * kvs + (size_t)g * HD, qb = (size_t)b * T * qs + (size_t)h * HD;

    load_tile<HD, LP>(Qs, q, qb, qs, t0, T);
    load_tile<HD, true>(Gs, {NULL, dout}, qb, qs, t0, T);
    int t_end = min(t0 + TC_ROWS, T) - 1, kfirst = r.first_of(b, t0, t_end, t_end);
    int row[2], lo[2], hi[2], warp_last = lane_rows(r, b, t0, 0, row, lo, hi);
    int kstart = kfirst - kfirst % TC_TILE;
    begin_stream<HD, LP>(K0, V0, k, v, kvs, t_end + 1, {kvb, kstart});
    float lse2[2], Dr[2];
    for (int i = 0; i < 2; i++) {
        size_t at = ((size_t)b * NH + h) * T + row[i];
        lse2[i] = row[i] < T ? lse[at] * LOG2E : 0.0f;
        Dr[i] = row[i] < T ? D[at] : 0.0f;
    }
    __syncthreads();
    uint32_t qa[HD / 16][4], ga[HD / 16][4];
    load_a<HD>(qa, Qs + 16 * w * ld, ld);
    load_a<HD>(ga, Gs + 16 * w * ld, ld);

    float acc[HD / 8][4] = {}, sl2 = scale * LOG2E;
    for (int k0 = kstart, step = 0; k0 <= t_end; k0 += TC_TILE, step++) {
        begin_step<HD, LP>(K0, V0, step, k, v, kvs, t_end + 1, {kvb, k0}, {kvb, k0 + TC_TILE <= t_end ? k0 + TC_TILE : -1});
        const bf16 *Ks = buffer<HD>(K0, stream_buffer<LP>(step)), *Vs = buffer<HD>(V0, stream_buffer<LP>(step));
        if (k0 <= warp_last) {
            float s[TC_TILE / 8][4] = {}, dp[TC_TILE / 8][4] = {};
            warp_mma<HD, TC_TILE, true>(s, qa, Ks, ld);
            warp_mma<HD, TC_TILE, true>(dp, ga, Vs, ld);
            scale_tile(s, sl2, k0, lo, hi);
#pragma unroll
            for (int j = 0; j < TC_TILE / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int i = e / 2;
                    s[j][e] = exp2f(s[j][e] - lse2[i]) * (dp[j][e] - Dr[i]) * scale; /* exp2(-inf) = 0: unseen keys */
                }
            uint32_t dsa[TC_TILE / 16][4];
            acc_to_a<TC_TILE>(dsa, s);
            warp_mma<TC_TILE, HD, false>(acc, dsa, Ks, ld);
        }
        end_step();
    }
    const float one[2] = {1.0f, 1.0f};
    store_rows<HD>(dq + (size_t)b * T * qs + (size_t)h * HD, NULL, qs, t0 + 16 * w, T, acc, one);
}

/* dv = P^T dO and dk = dS^T Q for the block's 64 keys, over the query heads
 * of the group and the query tiles that see them, in order. The scores are
 * formed transposed (keys by queries) so that each warp's keys are its rows. */
template <int HD, bool LP>
__global__ void __launch_bounds__(TC_WARPS * 32, TC_MIN_BLOCKS(HD))
    tc_dkv_kernel(float *dk, float *dv, bf16 *dv_lp, const bf16 *dout, const float *lse, const float *D, dk_operand q,
                  dk_operand k, dk_operand v, attn_rows r, int NH, int NKV, float scale)
{
    extern __shared__ __align__(128) unsigned char raw[];
    const int ld = HD + PAD;
    /* K and V, then Q and dO (two of each with LP), then the queries' stats */
    bf16 *Kk = (bf16 *)raw, *Vk = Kk + TC_TILE * ld, *Q0 = Vk + TC_TILE * ld, *G0 = Q0 + TC_TILE * ld;
    float *lse_s = (float *)(Vk + (LP ? 5 : 3) * TC_TILE * ld), *D_s = lse_s + TC_TILE;
    int *first_s = (int *)(D_s + TC_TILE);
    int b = blockIdx.z, g = blockIdx.y, group = NH / NKV, T = r.T, qs = NH * HD, kvs = NKV * HD;
    int lane = threadIdx.x % 32, w = threadIdx.x / 32, j0 = blockIdx.x * TC_ROWS; /* the most-seen keys start first */
    dk_operand go = {NULL, dout};

    size_t kvb = (size_t)b * T * kvs + (size_t)g * HD;
    load_tile<HD, LP>(Kk, k, kvb, kvs, j0, T);
    load_tile<HD, LP>(Vk, v, kvb, kvs, j0, T);
    int key[2] = {j0 + 16 * w + lane / 4, j0 + 16 * w + lane / 4 + 8};
    float dka[HD / 8][4] = {}, dva[HD / 8][4] = {}, sl2 = scale * LOG2E;
    /* the steps: each query head of the group, and in it the query tiles
     * from the block's first key on (queries before it see none of its keys) */
    int tiles = (T - j0 + TC_TILE - 1) / TC_TILE, steps = group * tiles;
    auto step_at = [&](int step) -> tile_at {
        if (step >= steps) return {0, -1};
        return {(size_t)b * T * qs + (size_t)(g * group + step / tiles) * HD, j0 + step % tiles * TC_TILE};
    };
    begin_stream<HD, LP>(Q0, G0, q, go, qs, T, step_at(0));
    for (int step = 0; step < steps; step++) {
        int h = g * group + step / tiles, t0 = step_at(step).first;
        load_query_stats(lse_s, D_s, first_s, TC_TILE, lse, D, r, b, h, NH, t0);
        begin_step<HD, LP, true>(Q0, G0, step, q, go, qs, T, step_at(step), step_at(step + 1));
        const bf16 *Qs = buffer<HD>(Q0, stream_buffer<LP>(step)), *Gs = buffer<HD>(G0, stream_buffer<LP>(step));
        {
            uint32_t a[HD / 16][4];
            float s[TC_TILE / 8][4] = {}, dp[TC_TILE / 8][4] = {};
            load_a<HD>(a, Kk + 16 * w * ld, ld);
            warp_mma<HD, TC_TILE, true>(s, a, Qs, ld);
            load_a<HD>(a, Vk + 16 * w * ld, ld);
            warp_mma<HD, TC_TILE, true>(dp, a, Gs, ld);
#pragma unroll
            for (int j = 0; j < TC_TILE / 8; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int i = e / 2, c = 8 * j + lane % 4 * 2 + e % 2, t = t0 + c;
                    float p = 0.0f;
                    if (key[i] < T && t < T && first_s[c] <= key[i] && key[i] <= t)
                        p = exp2f(s[j][e] * sl2 - lse_s[c] * LOG2E);
                    s[j][e] = p;
                    dp[j][e] = p * (dp[j][e] - D_s[c]) * scale;
                }
            uint32_t pa[TC_TILE / 16][4];
            acc_to_a<TC_TILE>(pa, s);
            warp_mma<TC_TILE, HD, false>(dva, pa, Gs, ld);
            acc_to_a<TC_TILE>(pa, dp);
            warp_mma<TC_TILE, HD, false>(dka, pa, Qs, ld);
        }
        end_step();
    }
    const float one[2] = {1.0f, 1.0f};
    store_rows<HD>(dk + kvb, NULL, kvs, j0 + 16 * w, T, dka, one);
    store_rows<HD>(dv ? dv + kvb : NULL, dv_lp ? dv_lp + kvb : NULL, kvs, j0 + 16 * w, T, dva, one);
}

void dk_cuda_attention_tc_backward(float *dq, float *dk, float *dv, void *dv_lp, const float *D, const float *dout,
                                   const float *lse, dk_operand q, dk_operand k, dk_operand v, int B, attn_rows r, int NH,
                                   int NKV, int HD)
{
    float scale = 1.0f / sqrtf((float)HD);
    bool lp = inputs_lp(q, k, v);
    /* with bf16 inputs, two of each streamed tile (begin_step) */
    size_t dq_smem = (lp ? 6 : 4) * tile_bytes(HD), dkv_smem = (lp ? 6 : 4) * tile_bytes(HD) + 3 * TC_TILE * sizeof(float);
    dim3 dq_grid(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NH, (unsigned)B),
        dkv_grid(dk_blocks((size_t)r.T, TC_ROWS), (unsigned)NKV, (unsigned)B);
    /* dO, rounded to bf16 once: the dk/dv pass loads each of its tiles
     * again for every block of keys its queries see (the same values the
     * tiles were rounded to on each load before) */
    size_t ng = (size_t)B * r.T * NH * HD;
    bf16 *g = (bf16 *)dk_cuda_scratch(DK_SCRATCH_A, ng * sizeof(bf16));
    dk_cuda_round_bf16(g, dout, ng);
#define BACKWARD(D_, LP)                                                                                                    \
    dk_cuda_allow_smem((const void *)tc_dq_kernel<D_, LP>, dq_smem);                                                        \
    tc_dq_kernel<D_, LP><<<dq_grid, TC_WARPS * 32, dq_smem>>>(dq, g, lse, D, q, k, v, r, NH, NKV, scale);                   \
    DK_CUDA_LAUNCHED();                                                                                                     \
    dk_cuda_allow_smem((const void *)tc_dkv_kernel<D_, LP>, dkv_smem);                                                      \
    tc_dkv_kernel<D_, LP><<<dkv_grid, TC_WARPS * 32, dkv_smem>>>(dk, dv, (bf16 *)dv_lp, g, lse, D, q, k, v, r, NH,      \
                                                                 NKV, scale)
    DK_TC_DISPATCH(HD, BACKWARD)
#undef BACKWARD
    DK_CUDA_LAUNCHED();
}
