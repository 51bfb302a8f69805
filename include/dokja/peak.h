/* The machine's measured matrix-multiply peak, the yardstick of MFU. */
#ifndef DK_PEAK_H
#define DK_PEAK_H

/* Best FLOP/s of repeated n x n x n cblas_sgemm over about `seconds`. */
double dk_sgemm_peak(int n, double seconds);
/* Applies a thread count to OpenMP and OpenBLAS; 0 keeps the default. */
void dk_set_threads(int threads);

#endif
