/* The batches of a training run, drawn from its data position. */
#include "dokja/train.h"

void dk_train_feed_batch(dk_model *m, void *user)
{
    dk_train_feed *f = user;
    size_t T = (size_t)m->acts.T;
    int B = m->acts.B;
    int64_t first = f->state->samples + (int64_t)f->rank * B;
    for (int b = 0; b < B; b++)
        f->rows->get(f->rows, first + b, m->acts.tokens + b * T, m->acts.targets + b * T, f->pos ? f->pos + b * T : NULL,
                     f->seg ? f->seg + b * T : NULL);
    f->state->samples += f->batch_size;
}
