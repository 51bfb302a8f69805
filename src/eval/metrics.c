/* The numbers of a benchmark: means with standard errors, argmax, token F1
 * and bits per byte. Sums run in index order, so results do not depend on
 * how rows were batched. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/eval.h"

double dk_mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    return n ? s / n : 0;
}

double dk_mean_se(const double *x, int n)
{
    if (n < 2) return 0;
    double mu = dk_mean(x, n), ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - mu) * (x[i] - mu);
    return sqrt(ss / (n - 1)) / sqrt((double)n);
}

int dk_argmax(const double *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* SQuAD's normalisation: lower case, no punctuation, no English articles,
 * split on white space. Bytes >= 0x80 (Hangul and the rest) are kept as
 * they are. The words point into *buf; the caller frees both. */
static int words(const char *s, char **buf, char ***out)
{
    size_t n = strlen(s);
    char *t = malloc(n + 1);
    int count = 0, cap = 8;
    char **w = malloc(sizeof *w * (size_t)cap);
    *buf = t;
    *out = w;
    if (!t || !w) return -1;
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)s[i];
        t[i] = c < 0x80 && ispunct(c) ? ' ' : (char)tolower(c);
    }
    for (char *save = NULL, *tok = strtok_r(t, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (!strcmp(tok, "a") || !strcmp(tok, "an") || !strcmp(tok, "the")) continue;
        if (count == cap) {
            char **g = realloc(w, sizeof *w * (size_t)(cap *= 2));
            if (!g) return -1;
            *out = w = g;
        }
        w[count++] = tok;
    }
    return count;
}

double dk_token_f1(const char *pred, const char *gold)
{
    char *bp, *bg, **p, **g;
    int np = words(pred, &bp, &p), ng = words(gold, &bg, &g);
    double f1 = 0;
    if (np <= 0 || ng <= 0) f1 = np == ng ? 1.0 : 0.0;
    else {
        /* the multiset intersection: each gold word matches at most once */
        char *used = calloc((size_t)ng, 1);
        int common = 0;
        for (int i = 0; used && i < np; i++)
            for (int j = 0; j < ng; j++)
                if (!used[j] && !strcmp(p[i], g[j])) {
                    used[j] = 1;
                    common++;
                    break;
                }
        free(used);
        if (common) {
            double prec = (double)common / np, rec = (double)common / ng;
            f1 = 2 * prec * rec / (prec + rec);
        }
    }
    free(bp), free(p), free(bg), free(g);
    return f1;
}

void dk_bits_per_byte(const double *nll, const double *bytes, int n, double *bpb, double *se)
{
    double sn = 0, sb = 0;
    for (int i = 0; i < n; i++) sn += nll[i], sb += bytes[i];
    double r = sb > 0 ? sn / sb : 0; /* nats per byte */
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (nll[i] - r * bytes[i]) * (nll[i] - r * bytes[i]);
    double mb = sb / (n ? n : 1);
    *bpb = r / M_LN2;
    *se = n > 1 && mb > 0 ? sqrt(ss / ((double)n * (n - 1))) / mb / M_LN2 : 0;
}
