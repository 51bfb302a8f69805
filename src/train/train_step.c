/* One optimizer step, on one process or on every rank of a data-parallel job. */
#include <math.h>
#include <stdlib.h>

#include "dokja/error.h"
#include "dokja/progress.h"
#include "dokja/train.h"

static int counted_targets(const dk_model *m)
{
    int n = 0, N = m->acts.B * m->acts.T;
    for (int i = 0; i < N; i++) n += m->acts.targets[i] >= 0;
    return n;
}

/* Starts sending each gradient range as the backward pass finishes it. */
static void start_reduction(void *user, size_t lo, size_t hi)
{
    dk_adamw *o = user;
    if (o->nccl) {
        if (dk_nccl_reduce(o->nccl, o->grads_base, lo, hi)) dk_dist_abort(o->dist, dk_error());
        return;
    }
    if (dk_reducer_start(o->reducer, o->grads_base, lo, hi)) dk_dist_abort(o->dist, dk_error());
    dk_reducer_poll(o->reducer);
}

/* Sum of squares of this rank's reduced gradients, totalled over ranks in rank order. */
static double sharded_grad_norm(const dk_adamw *o, const dk_model *m)
{
    double mine = m->be->sumsq(m->grad_block + o->lo, o->hi - o->lo), *all = malloc(sizeof *all * (size_t)o->dist->size);
    if (!all || dk_dist_allgather_f64(o->dist, &mine, all, 1)) dk_dist_abort(o->dist, "out of memory or MPI failure");
    double total = 0;
    for (int r = 0; r < o->dist->size; r++) total += all[r];
    free(all);
    return sqrt(total);
}

int dk_train_step(dk_model *m, dk_adamw *o, const dk_train_config *c, int64_t step, dk_batch_fn fill, void *user,
                  double *loss, double *grad_norm)
{
    int B = m->acts.B, T = m->acts.T;
    bool sharded = o->dist && o->dist->size > 1;
    dk_model_zero_grad(m);
    double sum = 0;
    for (int micro = 0; micro < c->grad_accum; micro++) {
        fill(m, user);
        /* Every micro-batch weighs 1/grad_accum; across ranks, each rank's
         * targets weigh by their share of all ranks' targets, known before
         * the forward so that the head's backward can follow its forward. */
        int counted = counted_targets(m);
        double share = 1.0, unused;
        if (sharded && dk_dist_mean(o->dist, 0.0, counted, &unused, &share)) dk_dist_abort(o->dist, dk_error());
        bool last = micro == c->grad_accum - 1;
        if (sharded && last) {
            o->grads_base = m->grad_block;
            m->grads_done = start_reduction;
            m->grads_done_user = o;
        }
        double mean = dk_model_forward_backward(m, B, T, (float)(share / c->grad_accum));
        m->grads_done = NULL;
        if (sharded && dk_dist_mean(o->dist, (float)mean, counted, &mean, NULL)) dk_dist_abort(o->dist, dk_error());
        sum += (float)mean / c->grad_accum;
    }
    double t0 = dk_now();
    if (sharded && (o->nccl ? dk_nccl_finish(o->nccl) : dk_reducer_finish(o->reducer, m->grad_block)))
        dk_dist_abort(o->dist, dk_error());
    o->comm_seconds += dk_now() - t0;
    double norm = sharded ? sharded_grad_norm(o, m) : sqrt(m->be->sumsq(m->grad_block, m->nparams));
    *loss = sum;
    *grad_norm = norm;
    if (!isfinite(sum) || !isfinite(norm))
        return dk_fail("step %lld: the loss or gradient is not finite (loss %g, grad norm %g); lower the learning rate",
                       (long long)step + 1, sum, norm);
    float scale = c->grad_clip > 0 && norm > c->grad_clip ? (float)(c->grad_clip / (norm + 1e-6)) : 1.0f;
    dk_adamw_step(o, m, c, step + 1, (float)dk_lr_at(c, step), scale);
    t0 = dk_now();
    /* the updated shards reach every rank's copy of the weights the passes use */
    if (sharded && (o->nccl ? dk_nccl_allgather_shards(o->nccl, m->dev_block, m->nparams)
                            : dk_dist_allgather_shards(o->dist, m->dev_block, m->nparams)))
        dk_dist_abort(o->dist, dk_error());
    o->comm_seconds += dk_now() - t0;
    return 0;
}
