/* The linear assignment problem, after R. Jonker and A. Volgenant, "A
 * shortest augmenting path algorithm for dense and sparse linear assignment
 * problems", Computing 38 (1987). Only column potentials v are kept; the
 * reduced cost of (i, j) is c[i][j] - v[j] minus a row constant.
 *
 * x[i]: column of row i (-1: free); y[j]: row of column j (-1: free). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "dokja/error.h"
#include "dokja/stats.h"

typedef struct {
    const float *c;
    size_t n;
    int *x, *y;
    double *v;
    int *free_rows;
    int nfree;
    double *d; /* shortest path scratch: distance, predecessor row, column order */
    int *pred, *cols;
    bool *unique;
} lap;

static inline double cost(const lap *l, int i, int j) { return l->c[(size_t)i * l->n + (size_t)j]; }

/* Each column goes to its cheapest row; a row that got exactly one column
 * passes the slack to its second choice (reduction transfer). */
static void column_reduction(lap *l)
{
    int n = (int)l->n;
    for (int j = 0; j < n; j++) l->v[j] = cost(l, 0, j), l->y[j] = 0;
    for (int i = 1; i < n; i++)
        for (int j = 0; j < n; j++) {
            double c = cost(l, i, j);
            if (c < l->v[j]) l->v[j] = c, l->y[j] = i;
        }
    for (int i = 0; i < n; i++) l->x[i] = -1, l->unique[i] = true;
    for (int j = n - 1; j >= 0; j--) {
        int i = l->y[j];
        if (l->x[i] < 0) l->x[i] = j;
        else l->unique[i] = false, l->y[j] = -1;
    }
    l->nfree = 0;
    for (int i = 0; i < n; i++) {
        if (l->x[i] < 0) {
            l->free_rows[l->nfree++] = i;
            continue;
        }
        if (!l->unique[i]) continue;
        int j1 = l->x[i];
        double min = INFINITY;
        for (int j = 0; j < n; j++)
            if (j != j1 && cost(l, i, j) - l->v[j] < min) min = cost(l, i, j) - l->v[j];
        l->v[j1] -= min;
    }
}

/* Assigns each free row to its best column, displacing that column's row,
 * and lowers the column's potential by the gap to the second best. The pass
 * count is bounded as in the original so ties cannot cycle. */
static void augmenting_row_reduction(lap *l)
{
    int n = (int)l->n, current = 0, nfree = l->nfree, new_free = 0;
    size_t passes = 0;
    while (current < nfree) {
        passes++;
        int i = l->free_rows[current++];
        int j1 = 0, j2 = -1;
        double u1 = cost(l, i, 0) - l->v[0], u2 = INFINITY;
        for (int j = 1; j < n; j++) {
            double h = cost(l, i, j) - l->v[j];
            if (h < u2) {
                if (h >= u1) u2 = h, j2 = j;
                else u2 = u1, u1 = h, j2 = j1, j1 = j;
            }
        }
        int i0 = l->y[j1];
        double lowered = l->v[j1] - (u2 - u1);
        bool lowers = lowered < l->v[j1];
        if (passes < (size_t)current * (size_t)n) {
            if (lowers) l->v[j1] = lowered;
            else if (i0 >= 0 && j2 >= 0) j1 = j2, i0 = l->y[j2];
            if (i0 >= 0) {
                if (lowers) l->free_rows[--current] = i0;
                else l->free_rows[new_free++] = i0;
            }
        } else if (i0 >= 0) l->free_rows[new_free++] = i0;
        if (i0 >= 0) l->x[i0] = -1;
        l->x[i] = j1;
        l->y[j1] = i;
    }
    l->nfree = new_free;
}

/* Moves the columns of least distance among cols[lo..n) to cols[lo..hi). */
static int find_min(lap *l, int lo)
{
    int n = (int)l->n, hi = lo + 1;
    double mind = l->d[l->cols[lo]];
    for (int k = hi; k < n; k++) {
        int j = l->cols[k];
        if (l->d[j] <= mind) {
            if (l->d[j] < mind) hi = lo, mind = l->d[j];
            l->cols[k] = l->cols[hi];
            l->cols[hi++] = j;
        }
    }
    return hi;
}

/* Relaxes the distances through the rows of the columns on the scan list;
 * returns a free column reached at the current distance, or -1. */
static int scan(lap *l, int *plo, int *phi)
{
    int n = (int)l->n, lo = *plo, hi = *phi;
    while (lo != hi) {
        int j = l->cols[lo++], i = l->y[j];
        double mind = l->d[j], h = cost(l, i, j) - l->v[j] - mind;
        for (int k = hi; k < n; k++) {
            j = l->cols[k];
            double red = cost(l, i, j) - l->v[j] - h;
            if (red < l->d[j]) {
                l->d[j] = red;
                l->pred[j] = i;
                if (red == mind) {
                    if (l->y[j] < 0) return j;
                    l->cols[k] = l->cols[hi];
                    l->cols[hi++] = j;
                }
            }
        }
    }
    *plo = lo;
    *phi = hi;
    return -1;
}

/* Dijkstra over reduced costs from a free row to the nearest free column;
 * updates the potentials of the columns settled before the last level. */
static int shortest_path(lap *l, int start)
{
    int n = (int)l->n, lo = 0, hi = 0, ready = 0, end = -1;
    for (int j = 0; j < n; j++) l->cols[j] = j, l->pred[j] = start, l->d[j] = cost(l, start, j) - l->v[j];
    while (end < 0) {
        if (lo == hi) {
            ready = lo;
            hi = find_min(l, lo);
            for (int k = lo; k < hi && end < 0; k++)
                if (l->y[l->cols[k]] < 0) end = l->cols[k];
        }
        if (end < 0) end = scan(l, &lo, &hi);
    }
    double mind = l->d[l->cols[lo]];
    for (int k = 0; k < ready; k++) l->v[l->cols[k]] += l->d[l->cols[k]] - mind;
    return end;
}

static void augment(lap *l)
{
    for (int f = 0; f < l->nfree; f++) {
        int start = l->free_rows[f], j = shortest_path(l, start), i = -1;
        while (i != start) {
            i = l->pred[j];
            l->y[j] = i;
            int k = l->x[i];
            l->x[i] = j;
            j = k;
        }
    }
}

int dk_lap_solve(const float *c, int n, int *row_to_col, double *total)
{
    if (total) *total = 0;
    if (n <= 0) return 0;
    if (n == 1) {
        row_to_col[0] = 0;
        if (total) *total = c[0];
        return 0;
    }
    lap l = {.c = c, .n = (size_t)n, .x = row_to_col};
    l.y = dk_malloc(sizeof *l.y * (size_t)n);
    l.v = dk_malloc(sizeof *l.v * (size_t)n);
    l.free_rows = dk_malloc(sizeof *l.free_rows * (size_t)n);
    l.d = dk_malloc(sizeof *l.d * (size_t)n);
    l.pred = dk_malloc(sizeof *l.pred * (size_t)n);
    l.cols = dk_malloc(sizeof *l.cols * (size_t)n);
    l.unique = dk_malloc(sizeof *l.unique * (size_t)n);
    int rc = l.y && l.v && l.free_rows && l.d && l.pred && l.cols && l.unique ? 0 : -1;
    /* Infinite or NaN costs would stall the shortest paths. */
    for (size_t k = 0; !rc && k < (size_t)n * (size_t)n; k++)
        if (!isfinite(c[k])) rc = dk_fail("assignment: the cost matrix holds a non-finite value at (%zu, %zu)", k / (size_t)n, k % (size_t)n);
    if (!rc) {
        column_reduction(&l);
        for (int pass = 0; pass < 2 && l.nfree > 0; pass++) augmenting_row_reduction(&l);
        if (l.nfree > 0) augment(&l);
        if (total)
            for (int i = 0; i < n; i++) *total += cost(&l, i, row_to_col[i]);
    }
    free(l.y), free(l.v), free(l.free_rows), free(l.d), free(l.pred), free(l.cols), free(l.unique);
    return rc;
}
