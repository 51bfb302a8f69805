/* Correlations and p-values for the audit, with tails in log space. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dokja/rng.h"
#include "dokja/stats.h"

double dk_cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
}

/* A centred copy of x (NULL when out of memory) and its norm (0 when x is constant). */
static double *centred(const float *x, size_t n, double *norm)
{
    double *out = malloc(sizeof *out * (n ? n : 1)), mean = 0, ss = 0;
    *norm = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)(n ? n : 1);
    for (size_t i = 0; i < n; i++) out[i] = x[i] - mean, ss += out[i] * out[i];
    *norm = n > 1 ? sqrt(ss) : 0;
    return out;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double dk_pearson(const float *a, const float *b, size_t n)
{
    double na, nb, *ca = centred(a, n, &na), *cb = centred(b, n, &nb);
    double r = ca && cb && na > 0 && nb > 0 ? dot(ca, cb, n) / (na * nb) : NAN;
    free(ca);
    free(cb);
    return r;
}

double dk_pearson_shuffle_p(const float *a, const float *b, size_t n, int shuffles, uint64_t seed)
{
    double na, nb, *ca = centred(a, n, &na), *cb = centred(b, n, &nb), p = NAN;
    if (ca && cb && na > 0 && nb > 0) {
        /* A shuffled r counts when it reaches the observed one up to rounding. */
        double reach = dot(ca, cb, n) - 1e-12 * na * nb;
        long hits = 0;
        dk_rng rng;
        dk_rng_seed(&rng, seed);
        for (int s = 0; s < shuffles; s++) {
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = (size_t)dk_rng_below(&rng, i + 1);
                double t = cb[i];
                cb[i] = cb[j], cb[j] = t;
            }
            hits += dot(ca, cb, n) >= reach;
        }
        p = (1.0 + (double)hits) / (1.0 + shuffles);
    }
    free(ca);
    free(cb);
    return p;
}

double dk_spearman_perm(const int *x, const int *y, int n)
{
    if (n < 2) return NAN;
    double d2 = 0;
    for (int i = 0; i < n; i++) d2 += (double)(x[i] - y[i]) * (x[i] - y[i]);
    double nn = n;
    return 1.0 - 6.0 * d2 / (nn * (nn * nn - 1.0));
}

/* ln B(a, b) x^a (1-x)^b / a times the continued fraction of the regularised
 * incomplete beta function (Lentz's method), valid for x < (a+1)/(a+b+2). */
static double log_beta_inc_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        double m2 = 2.0 * m, aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d, c = 1 + aa / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d, c = 1 + aa / c;
        if (fabs(d) < tiny) d = tiny;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x) + log(h) - log(a);
}

/* ln I_x(a, b), the regularised incomplete beta function. */
static double log_beta_inc(double a, double b, double x)
{
    if (x <= 0) return -INFINITY;
    if (x >= 1) return 0;
    if (x < (a + 1) / (a + b + 2)) return log_beta_inc_cf(a, b, x);
    return log1p(-exp(log_beta_inc_cf(b, a, 1 - x)));
}

double dk_t_log_sf(double t, double df)
{
    if (isinf(t)) return t > 0 ? -INFINITY : 0;
    /* P(T > t) = I_{df/(df+t^2)}(df/2, 1/2) / 2 for t >= 0, by symmetry otherwise. */
    double tail = log(0.5) + log_beta_inc(df / 2, 0.5, df / (df + t * t));
    return t >= 0 ? tail : log1p(-exp(tail));
}

double dk_spearman_log_p(double rho, int n)
{
    if (n < 3 || isnan(rho)) return 0;
    double floor_p = -lgamma(n + 1.0), lp;
    if (rho >= 1) lp = floor_p;
    else lp = dk_t_log_sf(rho * sqrt((n - 2) / (1 - rho * rho)), n - 2);
    return lp < floor_p ? floor_p : lp;
}

double dk_fisher_log_p(const double *log_p, int k)
{
    if (k <= 0) return 0;
    /* X/2 = h; P(chi^2_{2k} > 2h) = e^-h sum_{j<k} h^j / j!. */
    double h = 0;
    for (int i = 0; i < k; i++) h -= log_p[i];
    if (h <= 0) return 0;
    double lh = log(h), max = -INFINITY, sum = 0;
    for (int j = 0; j < k; j++) {
        double t = j * lh - lgamma(j + 1.0);
        if (t > max) max = t;
    }
    for (int j = 0; j < k; j++) sum += exp(j * lh - lgamma(j + 1.0) - max);
    double lp = -h + max + log(sum);
    return lp > 0 ? 0 : lp;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Q_KS(lambda) = 2 sum_{k>=1} (-1)^{k-1} exp(-2 k^2 lambda^2). */
static double kolmogorov_q(double lambda)
{
    if (lambda < 0.2) return 1.0; /* the series converges slowly there, and Q is 1 to 1e-20 */
    double sum = 0, sign = 1, l2 = -2 * lambda * lambda;
    for (int k = 1; k <= 200; k++) {
        double term = sign * exp(l2 * k * k);
        sum += term;
        if (fabs(term) <= 1e-17 * fabs(sum)) break;
        sign = -sign;
    }
    sum *= 2;
    return sum < 0 ? 0 : sum > 1 ? 1 : sum;
}

void dk_ks_normal(float *x, size_t n, double sigma, double *D, double *p)
{
    *D = NAN, *p = NAN;
    if (n == 0 || !(sigma > 0)) return;
    qsort(x, n, sizeof *x, cmp_float);
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double F = 0.5 * erfc(-(double)x[i] / (sigma * M_SQRT2));
        double lo = F - (double)i / (double)n, hi = (double)(i + 1) / (double)n - F;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    *D = d;
    *p = kolmogorov_q(sqrt((double)n) * d);
}

void dk_format_log_p(double log_p, char *buf, size_t size)
{
    if (isnan(log_p)) {
        snprintf(buf, size, "n/a");
        return;
    }
    double l10 = log_p / M_LN10;
    if (l10 > -300) {
        snprintf(buf, size, "%.2g", exp(log_p));
        return;
    }
    double e = floor(l10), m = pow(10, l10 - e);
    if (m >= 9.95) m = 1, e += 1;
    snprintf(buf, size, "%.1fe%.0f", m, e);
}
