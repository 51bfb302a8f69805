#include <math.h>
#include <string.h>

#include "dokja/train.h"

double dk_lr_at(const dk_train_config *c, int64_t step)
{
    if (step < c->warmup_steps) return c->lr * (double)(step + 1) / (double)c->warmup_steps;
    if (!strcmp(c->schedule, "constant")) return c->lr;
    if (!strcmp(c->schedule, "wsd")) {
        /* stable at lr, then linear decay to min_lr over the last decay_frac of the steps */
        int64_t decay_steps = (int64_t)llround(c->decay_frac * (double)c->steps);
        int64_t decay_start = c->steps - decay_steps;
        if (step < decay_start || decay_steps == 0) return c->lr;
        double frac = (double)(step - decay_start + 1) / (double)decay_steps;
        return c->lr + (c->min_lr - c->lr) * frac;
    }
    /* cosine from lr after warmup to min_lr at the last step */
    int64_t span = c->steps - c->warmup_steps;
    double frac = span > 1 ? (double)(step - c->warmup_steps) / (double)(span - 1) : 1.0;
    return c->min_lr + 0.5 * (c->lr - c->min_lr) * (1.0 + cos(M_PI * frac));
}
