/* Inference: one sequence at a time with a KV cache, and token sampling. */
#ifndef DK_INFER_H
#define DK_INFER_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"

typedef struct {
    double temperature; /* 0: greedy (argmax) */
    int top_k;          /* 0: off */
    double top_p;       /* 1: off */
    uint64_t seed;
} dk_sampler_config;

typedef struct {
    dk_sampler_config cfg;
    dk_rng rng;
    int V;
    int *order; /* (V) indices sorted by logit, for top-k / top-p */
} dk_sampler;

int dk_sampler_init(dk_sampler *s, const dk_sampler_config *c, int V);
void dk_sampler_free(dk_sampler *s);
/* Picks the next token from logits (V); logits are overwritten. */
int dk_sampler_sample(dk_sampler *s, float *logits);

/* Sizes the model's activations for one sequence: prompts of up to
 * `max_prefill` tokens in one pass and a KV cache of `context` positions. */
int dk_infer_begin(dk_model *m, int max_prefill, int context);
/* Runs n tokens at positions pos0..pos0+n-1 through the model (the KV cache
 * holds positions 0..pos0-1) and returns the logits (V) of the last one.
 * The pointer stays valid until the next call. */
float *dk_infer_step(dk_model *m, const int *tokens, int n, int pos0);

/* Called for each generated token; returning non-zero stops generation. */
typedef int (*dk_token_fn)(int token, void *user);

/* Prefills the prompt in one pass, then decodes up to max_new tokens with
 * the KV cache, stopping after `stop_id` (-1: never). Returns the number of
 * tokens generated, or -1 with an error when the prompt is empty or longer
 * than the model's context. */
int dk_generate(dk_model *m, const int *prompt, int n, int max_new, int stop_id, dk_sampler *s, dk_token_fn fn, void *user);

#endif
