/* Bradley-Terry strengths by Newton's method on the log-likelihood (plus a
 * weak Gaussian prior), and bootstrap intervals from resampled battles, as
 * the public chatbot arenas compute them. M is small (models), so each
 * Newton step solves the M x M system directly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/arena.h"
#include "dokja/error.h"
#include "dokja/rng.h"

#define ELO (400.0 / M_LN10)

static double loglik(int M, const double *w, const double *th)
{
    double l = 0;
    for (int i = 0; i < M; i++) {
        l -= 0.5 * DK_BT_PRIOR * th[i] * th[i];
        for (int j = 0; j < M; j++)
            if (w[i * M + j] > 0) l -= w[i * M + j] * log1p(exp(th[j] - th[i]));
    }
    return l;
}

/* Solves A x = b (n x n, A overwritten) by Gaussian elimination with partial pivoting. */
static void solve(int n, double *A, double *b)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        for (int k = 0; k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[p * n + k];
            A[p * n + k] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= A[c * n + k] * b[k];
        b[c] /= A[c * n + c];
    }
}

int dk_bt_fit(int M, const double *w, double *th)
{
    double *H = dk_malloc(sizeof *H * (size_t)M * M), *g = dk_malloc(sizeof *g * (size_t)M), *next = dk_malloc(sizeof *next * (size_t)M);
    if (!H || !g || !next) {
        free(H), free(g), free(next);
        return -1;
    }
    for (int i = 0; i < M; i++) th[i] = 0;
    double l = loglik(M, w, th);
    for (int it = 0; it < 200; it++) {
        /* gradient and the negated Hessian of the penalised log-likelihood */
        memset(H, 0, sizeof *H * (size_t)M * M);
        for (int i = 0; i < M; i++) {
            g[i] = -DK_BT_PRIOR * th[i];
            H[i * M + i] = DK_BT_PRIOR;
            for (int j = 0; j < M; j++) {
                double n = w[i * M + j] + w[j * M + i];
                if (j == i || n <= 0) continue;
                double p = 1 / (1 + exp(th[j] - th[i]));
                g[i] += w[i * M + j] - n * p;
                H[i * M + i] += n * p * (1 - p);
                H[i * M + j] -= n * p * (1 - p);
            }
        }
        solve(M, H, g); /* g is now the Newton step */
        double step = 1, big = 0, nl;
        for (int i = 0; i < M; i++) big = fabs(g[i]) > big ? fabs(g[i]) : big;
        /* the objective is concave: halve the step until it does not fall */
        for (;;) {
            for (int i = 0; i < M; i++) next[i] = th[i] + step * g[i];
            nl = loglik(M, w, next);
            if (nl >= l - 1e-12 || step < 1e-6) break;
            step /= 2;
        }
        memcpy(th, next, sizeof *th * (size_t)M);
        l = nl;
        if (big * step < 1e-10) break;
    }
    double mean = 0;
    for (int i = 0; i < M; i++) mean += th[i] / M;
    for (int i = 0; i < M; i++) th[i] -= mean;
    free(H), free(g), free(next);
    return 0;
}

static void tally(int M, const dk_battle *b, int n, const int *pick, double *w)
{
    memset(w, 0, sizeof *w * (size_t)M * M);
    for (int k = 0; k < n; k++) {
        const dk_battle *x = &b[pick ? pick[k] : k];
        w[x->a * M + x->b] += x->score;
        w[x->b * M + x->a] += 1 - x->score;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int dk_bt_ratings(int M, const dk_battle *b, int n, int bootstrap, uint64_t seed, double *rating, double *lo, double *hi)
{
    for (int k = 0; k < n; k++)
        if (b[k].a < 0 || b[k].a >= M || b[k].b < 0 || b[k].b >= M || b[k].a == b[k].b || !(b[k].score >= 0 && b[k].score <= 1))
            return dk_fail("battle %d: models %d and %d, score %g", k, b[k].a, b[k].b, b[k].score);
    double *w = dk_malloc(sizeof *w * (size_t)M * M), *th = dk_malloc(sizeof *th * (size_t)M);
    double *samples = bootstrap > 0 ? dk_malloc(sizeof *samples * (size_t)M * bootstrap) : NULL;
    int *pick = bootstrap > 0 ? dk_malloc(sizeof *pick * (size_t)(n ? n : 1)) : NULL;
    int rc = !w || !th || (bootstrap > 0 && (!samples || !pick)) ? -1 : 0;
    if (!rc) {
        tally(M, b, n, NULL, w);
        rc = dk_bt_fit(M, w, th);
        for (int i = 0; !rc && i < M; i++) rating[i] = 1000 + ELO * th[i];
    }
    dk_rng r;
    dk_rng_seed(&r, seed);
    for (int s = 0; !rc && s < bootstrap; s++) {
        for (int k = 0; k < n; k++) pick[k] = (int)dk_rng_below(&r, (uint64_t)n);
        tally(M, b, n, pick, w);
        rc = dk_bt_fit(M, w, th);
        for (int i = 0; i < M; i++) samples[(size_t)i * bootstrap + s] = 1000 + ELO * th[i];
    }
    for (int i = 0; !rc && bootstrap > 0 && i < M; i++) {
        double *x = samples + (size_t)i * bootstrap;
        qsort(x, (size_t)bootstrap, sizeof *x, cmp_double);
        /* the percentiles by linear interpolation between order statistics, as numpy does */
        double q[2] = {0.025 * (bootstrap - 1), 0.975 * (bootstrap - 1)};
        double *out[2] = {lo, hi};
        for (int k = 0; k < 2; k++) {
            int f = (int)floor(q[k]);
            double frac = q[k] - f;
            if (out[k]) out[k][i] = f + 1 < bootstrap ? x[f] + frac * (x[f + 1] - x[f]) : x[f];
        }
    }
    free(w), free(th), free(samples), free(pick);
    return rc;
}
