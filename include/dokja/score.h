/* Log-likelihood scoring: the summed log-probability of a continuation after
 * its context, for every choice of a multiple-choice question and for the
 * windows of a text (bits per byte). The choices of a question share their
 * context: with prefix reuse the shared tokens go through the model once and
 * every choice continues from that KV cache. docs/eval.md. */
#ifndef DK_SCORE_H
#define DK_SCORE_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

typedef struct {
    const int *tokens; /* BOS, context, continuation; at most max_position_embeddings */
    int n;
    int from;          /* the continuation is tokens[from..n), 1 <= from <= n */
    double logprob;    /* out: sum of ln p(tokens[t] | tokens[<t]) over the continuation */
    bool greedy;       /* out: every continuation token was the model's argmax */
} dk_score_seq;

/* The choices of one question (or a single sequence). */
typedef struct {
    dk_score_seq *seqs;
    int n;
} dk_score_group;

typedef struct {
    dk_model *m;
    int max_rows;     /* sequences per forward pass, each in a KV-cache slot */
    int max_tokens;   /* rows x tokens per forward pass */
    bool reuse;       /* compute the tokens a group's sequences share once */
    float *sel;       /* (DK_SCORE_CHUNK, C) final states whose logits are wanted */
    float *logits;    /* (DK_SCORE_CHUNK, V) */
    /* Work done, for throughput figures: tokens through the layers, logit
     * rows computed, and the useful floating-point operations of both. */
    int64_t tokens, logit_rows;
    double flops;
} dk_scorer;

/* Sizes the model's activations for passes of up to max_rows sequences and
 * max_tokens tokens (at least `longest`), each sequence at most `longest`
 * tokens long (at most the model's context). Each row keeps a KV cache of
 * `longest` positions; rows are fewer when those would pass DK_SCORE_KV_BYTES. */
#define DK_SCORE_KV_BYTES ((size_t)512 << 20)
int dk_scorer_init(dk_scorer *s, dk_model *m, int max_rows, int max_tokens, int longest, bool reuse);
void dk_scorer_free(dk_scorer *s);

/* Scores every sequence of n groups. Sequences are batched as rows of similar
 * length. With reuse, a group whose sequences differ only in their last
 * token costs one row (its shared prefix); other groups run their prefix
 * once and each sequence's remaining tokens after it. `done` (may be NULL)
 * is called with the number of groups finished so far. */
int dk_score_groups(dk_scorer *s, dk_score_group *g, int n, void (*done)(void *user, int groups), void *user);

/* Forward floating-point operations of one token at position pos (the
 * layers' matrix products and attention over pos + 1 keys), without the LM head. */
double dk_score_token_flops(const dk_model_config *c, int pos);

#endif
