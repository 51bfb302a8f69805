/* Token sampling: temperature, top-k and top-p over one row of logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/infer.h"

int dk_sampler_init(dk_sampler *s, const dk_sampler_config *c, int V)
{
    memset(s, 0, sizeof *s);
    s->cfg = *c;
    s->V = V;
    dk_rng_seed(&s->rng, c->seed);
    s->order = dk_malloc(sizeof *s->order * (size_t)V);
    return s->order ? 0 : -1;
}

void dk_sampler_free(dk_sampler *s)
{
    free(s->order);
    memset(s, 0, sizeof *s);
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* qsort has no context argument; the logits being sorted are passed here.
 * Ties break by index so the order is fully determined. */
static _Thread_local const float *sort_keys;
static int by_logit_desc(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (sort_keys[i] != sort_keys[j]) return sort_keys[i] < sort_keys[j] ? 1 : -1;
    return (i > j) - (i < j);
}

int dk_sampler_sample(dk_sampler *s, float *logits)
{
    int V = s->V;
    if (s->cfg.temperature <= 0) return argmax(logits, V);
    float inv_t = (float)(1.0 / s->cfg.temperature);
    float mx = logits[argmax(logits, V)];
    double sum = 0;
    for (int i = 0; i < V; i++) {
        logits[i] = expf((logits[i] - mx) * inv_t); /* now unnormalised probabilities */
        sum += logits[i];
    }
    /* Candidates in descending probability, cut by top-k then top-p. */
    int n = V;
    bool truncate = (s->cfg.top_k > 0 && s->cfg.top_k < V) || s->cfg.top_p < 1.0;
    if (truncate) {
        for (int i = 0; i < V; i++) s->order[i] = i;
        sort_keys = logits;
        qsort(s->order, (size_t)V, sizeof *s->order, by_logit_desc);
        if (s->cfg.top_k > 0 && s->cfg.top_k < n) n = s->cfg.top_k;
        if (s->cfg.top_p < 1.0) {
            double cum = 0, limit = s->cfg.top_p * sum;
            int keep = 0;
            while (keep < n) {
                cum += logits[s->order[keep++]];
                if (cum >= limit) break;
            }
            n = keep;
        }
        sum = 0;
        for (int i = 0; i < n; i++) sum += logits[s->order[i]];
    }
    double u = dk_rng_uniform(&s->rng) * sum, cum = 0;
    for (int i = 0; i < n; i++) {
        int tok = truncate ? s->order[i] : i;
        cum += logits[tok];
        if (u < cum) return tok;
    }
    return truncate ? s->order[n - 1] : argmax(logits, V);
}
