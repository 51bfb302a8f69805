/* What the three kinds of task (mc, gen, bpb) share inside src/eval. */
#ifndef DK_EVAL_INTERNAL_H
#define DK_EVAL_INTERNAL_H

#include "dokja/eval.h"
#include "dokja/infer.h"
#include "dokja/progress.h"
#include "dokja/score.h"

/* Tokens per forward pass when scoring (rows x length). */
#define DK_EVAL_BATCH_TOKENS 4096

typedef struct {
    dk_model *m;
    const dk_tokenizer *tok;
    const dk_task *t;
    const dk_eval_set *s;
    const dk_eval_options *o;
    dk_progress progress;
    int done;         /* items finished before the current batch of groups */
    cJSON *records;   /* array, or NULL when records are not kept */
    int64_t tokens;   /* through the layers */
    double flops;
} dk_eval_ctx;

/* Per-item metrics (values[k][i] for metric names[k]) into result["metrics"]:
 * means with standard errors over all items, and per subject plus the
 * subjects' unweighted mean ("<name>_macro") when there are several. */
int dk_eval_add_metrics(cJSON *result, const dk_eval_set *s, const char *const *names, double *const *values, int nmetrics);
/* Whether the spec's "metrics" list the metric; without a list, `by_default`. */
bool dk_eval_wants(const dk_task *t, const char *metric, bool by_default);
cJSON *dk_eval_metric(cJSON *metrics, const char *name, double value, double se);

/* dk_score_groups' progress callback over a dk_eval_ctx. */
void dk_eval_groups_done(void *user, int groups);

/* [BOS] + ids of the text, into *ids (grown). */
int dk_eval_encode_prompt(dk_encoder *e, int bos, const char *text, size_t len, int **ids, int *n, int *cap);

/* Decodes a reply to the prompt until a stop id, a stop string, max_new
 * tokens or the end of the context: *text (malloc'd) is whole UTF-8
 * characters before the first stop string; *made counts the tokens. */
int dk_eval_reply(dk_model *m, const dk_tokenizer *tok, const int *prompt, int n, int max_new, const int *stop_ids,
                  int nstop_ids, char *const *stop, int nstop, dk_sampler *s, char **text, int *made);

int dk_eval_mc(dk_eval_ctx *c, cJSON *result);
int dk_eval_gen(dk_eval_ctx *c, cJSON *result);
int dk_eval_bpb(dk_eval_ctx *c, cJSON *result);

#endif
