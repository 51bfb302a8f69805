/* Statistics of the audit: the linear assignment problem, correlations, and
 * p-values. Tiny p-values are carried as natural logarithms so that evidence
 * of 1e-400 neither underflows to 0 nor stops being comparable. */
#ifndef DK_STATS_H
#define DK_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Minimum-cost assignment of the n rows of a dense row-major cost matrix
 * (n, n) to its columns, by Jonker & Volgenant's shortest augmenting path
 * algorithm (1987): column reduction, augmenting row reduction, then
 * Dijkstra-like augmentation. row_to_col[i] is the column of row i; *total
 * (may be NULL) the summed cost. */
int dk_lap_solve(const float *cost, int n, int *row_to_col, double *total);

/* Cosine similarity and Pearson correlation; NAN when a vector is zero or constant. */
double dk_cosine(const float *a, const float *b, size_t n);
double dk_pearson(const float *a, const float *b, size_t n);
/* One-sided p-value of Pearson's r under the shuffle null: the share of
 * `shuffles` random permutations of b (seeded) whose r reaches the observed
 * one, counting the observation itself: (1 + hits) / (1 + shuffles). */
double dk_pearson_shuffle_p(const float *a, const float *b, size_t n, int shuffles, uint64_t seed);

/* Spearman's rho of two permutations of 0..n-1 (their values are their ranks). */
double dk_spearman_perm(const int *x, const int *y, int n);
/* ln P(rho' >= rho) for n pairs under independence: Student's t with n - 2
 * degrees of freedom, never below ln(1/n!), the chance of an exact match. */
double dk_spearman_log_p(double rho, int n);
/* ln of the upper tail of Student's t with df degrees of freedom at t. */
double dk_t_log_sf(double t, double df);
/* Fisher's method: ln p of X = -2 sum ln p_i against chi^2 with 2k degrees
 * of freedom, computed from the ln p_i in log space. */
double dk_fisher_log_p(const double *log_p, int k);

/* One-sample Kolmogorov-Smirnov test of x against N(0, sigma^2): the
 * statistic D and the asymptotic p-value Q_KS(sqrt(n) D). Sorts x. */
void dk_ks_normal(float *x, size_t n, double sigma, double *D, double *p);

/* "3.1e-45" for a natural-log p-value, even far below the smallest double. */
void dk_format_log_p(double log_p, char *buf, size_t size);

#endif
