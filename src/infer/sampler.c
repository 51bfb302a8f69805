/* Token sampling: repetition penalty, temperature, top-k, top-p and min-p over one row of logits. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/infer.h"

#define F(name, type, help) {#name, type, offsetof(dk_sampler_config, name), help}
const dk_field dk_sampler_fields[] = {
    F(temperature, DK_FIELD_DOUBLE, "sampling temperature; 0 is greedy"),
    F(top_k, DK_FIELD_INT, "sample among the K likeliest tokens (0: all)"),
    F(top_p, DK_FIELD_DOUBLE, "sample among the likeliest tokens holding P of the mass (1: all)"),
    F(min_p, DK_FIELD_DOUBLE, "drop tokens less than P times as likely as the likeliest (0: off)"),
    F(repetition_penalty, DK_FIELD_DOUBLE, "divide the logits of tokens already in the sequence (1: off)"),
    F(seed, DK_FIELD_I64, "sampling seed"),
    {0},
};
#undef F

int dk_sampler_config_check(const dk_sampler_config *c)
{
    if (!(c->temperature >= 0)) return dk_fail("temperature must be >= 0");
    if (c->top_k < 0) return dk_fail("top_k must be >= 0");
    if (!(c->top_p > 0 && c->top_p <= 1)) return dk_fail("top_p must be in (0, 1]");
    if (!(c->min_p >= 0 && c->min_p <= 1)) return dk_fail("min_p must be in [0, 1]");
    if (!(c->repetition_penalty >= 0 && c->repetition_penalty < 1e6)) return dk_fail("repetition_penalty must be >= 0");
    return 0;
}

int dk_sampler_init(dk_sampler *s, const dk_sampler_config *c, int V)
{
    memset(s, 0, sizeof *s);
    s->cfg = *c;
    s->V = V;
    dk_rng_seed(&s->rng, c->seed);
    s->order = dk_malloc(sizeof *s->order * (size_t)V);
    s->seen = dk_calloc((size_t)V, 1);
    if (s->order && s->seen) return 0;
    dk_sampler_free(s);
    return -1;
}

void dk_sampler_free(dk_sampler *s)
{
    free(s->order);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

void dk_sampler_observe(dk_sampler *s, int token)
{
    if (token >= 0 && token < s->V) s->seen[token] = 1;
}

static bool penalised(const dk_sampler_config *c) { return c->repetition_penalty > 0 && c->repetition_penalty != 1.0; }

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
    if (penalised(&s->cfg)) {
        /* HF's RepetitionPenaltyLogitsProcessor: applies to greedy decoding too */
        float rp = (float)s->cfg.repetition_penalty;
        for (int i = 0; i < V; i++)
            if (s->seen[i]) logits[i] = logits[i] > 0 ? logits[i] / rp : logits[i] * rp;
    }
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
    bool truncate = (s->cfg.top_k > 0 && s->cfg.top_k < V) || s->cfg.top_p < 1.0 || s->cfg.min_p > 0;
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
        /* min-p: the likeliest has probability exp(0) = 1 before normalising */
        if (s->cfg.min_p > 0)
            while (n > 1 && logits[s->order[n - 1]] < s->cfg.min_p) n--;
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
