/* Inference: sequences decoded together with a KV cache slot each, token
 * sampling, and the text side of streaming (stop strings, whole characters).
 * docs/inference.md. */
#ifndef DK_INFER_H
#define DK_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "model.h"
#include "rng.h"
#include "tokenizer.h"

typedef struct {
    double temperature;        /* 0: greedy (argmax) */
    int top_k;                 /* 0: off */
    double top_p;              /* 1: off */
    double min_p;              /* 0: off; keeps tokens at least min_p times as likely as the likeliest */
    double repetition_penalty; /* 0 or 1: off; as HF: a seen token's logit is divided by it (or multiplied, if negative) */
    uint64_t seed;
} dk_sampler_config;

typedef struct {
    dk_sampler_config cfg;
    dk_rng rng;
    int V;
    int *order;    /* (V) indices sorted by logit, for top-k / top-p / min-p */
    uint8_t *seen; /* (V) tokens of the sequence so far, for the repetition penalty */
} dk_sampler;

/* The settings as JSON keys and flags (temperature, top_k, top_p, min_p,
 * repetition_penalty, seed): the CLI's options and the server's request fields. */
extern const dk_field dk_sampler_fields[];
/* Ranges: temperature >= 0, top_k >= 0, 0 < top_p <= 1, 0 <= min_p <= 1,
 * repetition_penalty >= 0; the error names the key. */
int dk_sampler_config_check(const dk_sampler_config *c);

int dk_sampler_init(dk_sampler *s, const dk_sampler_config *c, int V);
void dk_sampler_free(dk_sampler *s);
/* Records a token of the sequence (prompt or generated) for the repetition penalty. */
void dk_sampler_observe(dk_sampler *s, int token);
/* Picks the next token from logits (V); logits are overwritten. */
int dk_sampler_sample(dk_sampler *s, float *logits);

/* Prompts longer than this are prefilled in pieces of this many tokens, the
 * same everywhere, so a prompt gives the same bits in the CLI and the server. */
#define DK_PREFILL_CHUNK 512

/* Sizes the model for `slots` sequences with a KV cache of `context`
 * positions each and calls of up to `max_tokens` tokens (all rows together). */
int dk_infer_begin(dk_model *m, int slots, int max_tokens, int context);
/* Runs B rows of T tokens: row b is tokens[b*T..] of the sequence in slot
 * slot[b], at positions start[b].. (its cache holds 0..start[b]-1). Returns
 * the logits (B, V) of each row's last token, valid until the next call. */
float *dk_infer_batch(dk_model *m, int B, int T, const int *tokens, const int *slot, const int *start);

/* The perplexity of ids (n) under the model, decoded a token at a time in
 * windows of `window` tokens (0: the model's context). */
int dk_perplexity(dk_model *m, const int *ids, int n, int window, double *ppl);

/* Called for each generated token; returning non-zero stops generation. */
typedef int (*dk_token_fn)(int token, void *user);

typedef enum { DK_FINISH_NONE, DK_FINISH_STOP, DK_FINISH_LENGTH } dk_finish;

/* One sequence being generated: a CLI prompt or a server request. */
typedef struct {
    dk_sampler *sampler;
    int max_new;          /* at most this many tokens (and no further than the context) */
    const int *stop_ids;  /* tokens that end generation; they are passed to fn too */
    int nstop_ids;
    dk_token_fn fn;       /* may be NULL */
    void *user;
    /* state */
    int slot, pos, made, next;
    bool done;
    dk_finish finish;     /* STOP: a stop token or fn said so; LENGTH: max_new or the context */
} dk_gen;

/* Checks the prompt (not empty, inside the vocabulary, shorter than the
 * context), prefills it into the slot and samples the first token. */
int dk_gen_start(dk_model *m, dk_gen *g, const int *prompt, int n, int slot);
/* One decode step for all of gens[0..n) that are not done, as one batch. */
void dk_gen_step(dk_model *m, dk_gen *const *gens, int n);
/* One sequence from start to end (sizes the model for it). Returns the
 * number of tokens generated, or -1 with an error. */
int dk_gen_run(dk_model *m, dk_gen *g, const int *prompt, int n);

/* dk_gen_run with one stop token (-1: none). */
int dk_generate(dk_model *m, const int *prompt, int n, int max_new, int stop_id, dk_sampler *s, dk_token_fn fn, void *user);

/* Generated text for streaming. Tokens' bytes are appended (special tokens
 * add none); text is handed out once it can no longer be the start of a stop
 * string and forms whole UTF-8 characters (invalid bytes become U+FFFD). */
typedef struct {
    const dk_tokenizer *tok;
    char *const *stop; /* stop strings; the text ends before the first one seen */
    int nstop;
    char *buf;         /* every byte so far */
    size_t len, cap, shown;
    char *out;         /* the latest delta, NUL-terminated */
    size_t out_cap;
    bool stopped;      /* a stop string was seen */
} dk_textstream;

void dk_textstream_init(dk_textstream *ts, const dk_tokenizer *tok, char *const *stop, int nstop);
void dk_textstream_free(dk_textstream *ts);
/* Appends a token; *delta (NUL-terminated, owned by ts) is the text now safe
 * to show, possibly empty. With flush, everything left is shown. */
int dk_textstream_push(dk_textstream *ts, int token, bool flush, const char **delta);
/* Starts a new stretch of text (after </think>, the answer), keeping the settings. */
void dk_textstream_reset(dk_textstream *ts);

#endif
