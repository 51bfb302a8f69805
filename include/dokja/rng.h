/* Deterministic random numbers: xoshiro256** seeded through splitmix64.
 * The state is four words, saved in checkpoints so a resumed run draws the
 * same numbers. */
#ifndef DK_RNG_H
#define DK_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} dk_rng;

void dk_rng_seed(dk_rng *r, uint64_t seed);
uint64_t dk_rng_next(dk_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double dk_rng_uniform(dk_rng *r);
/* Uniform integer in [0, n), unbiased. */
uint64_t dk_rng_below(dk_rng *r, uint64_t n);
/* Standard normal (Box-Muller, both values used in turn is avoided so the
 * stream depends only on the number of calls). */
double dk_rng_normal(dk_rng *r);

#endif
