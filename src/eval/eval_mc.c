/* Multiple choice by log-likelihood, as lm-evaluation-harness scores it:
 * each choice is the continuation "target delimiter + choice" of the
 * context (trailing white space of the context moves to the continuation),
 * tokenized as encode(context + continuation) cut after encode(context);
 * acc takes the likeliest choice, acc_norm the likeliest per byte of the
 * choice's text. Items go through in chunks, tokenized in parallel. */
#include <ctype.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "eval_internal.h"

#define CHUNK_ITEMS 512

typedef struct {
    dk_score_group g;
    int truncated; /* context tokens dropped from the left to fit the model */
} mc_item;

static int tokenize(dk_encoder *e, const dk_eval_ctx *c, const dk_eval_item *it, mc_item *out)
{
    const char *ctx = it->context, *delim = c->t->target_delimiter;
    int bos = c->m->cfg.bos_token_id, limit = c->m->cfg.max_position_embeddings;
    size_t cl = strlen(ctx), keep = cl;
    while (keep && isspace((unsigned char)ctx[keep - 1])) keep--;
    int *cids = NULL, nc = 0, capc = 0, *w = NULL, nw = 0, capw = 0, rc = 0;
    char *whole = NULL;
    rc = dk_eval_encode_prompt(e, bos, ctx, keep, &cids, &nc, &capc);
    out->g.n = it->nchoices;
    out->g.seqs = rc ? NULL : dk_calloc((size_t)it->nchoices, sizeof *out->g.seqs);
    if (!out->g.seqs) rc = -1;
    for (int j = 0; !rc && j < it->nchoices; j++) {
        size_t dl = strlen(delim), chl = strlen(it->choices[j]);
        free(whole);
        whole = dk_malloc(cl + dl + chl + 1);
        if (!whole) break;
        memcpy(whole, ctx, cl);
        memcpy(whole + cl, delim, dl);
        memcpy(whole + cl + dl, it->choices[j], chl + 1);
        nw = 0;
        rc = dk_encoder_encode(e, whole, cl + dl + chl, false, &w, &nw, &capw);
        /* nc counts the BOS: the continuation is whole's ids after the context's */
        int skip = nc - 1;
        if (!rc && nw <= skip) { /* the continuation merged into the context: encode it alone */
            nw = skip = 0;
            rc = dk_encoder_encode(e, whole + keep, cl - keep + dl + chl, false, &w, &nw, &capw);
        }
        dk_score_seq *q = &out->g.seqs[j];
        q->n = nc + nw - skip;
        q->from = nc;
        q->tokens = rc ? NULL : dk_malloc(sizeof *q->tokens * (size_t)q->n);
        if (!q->tokens) rc = -1;
        if (rc) break;
        memcpy((int *)q->tokens, cids, sizeof *cids * (size_t)nc);
        memcpy((int *)q->tokens + nc, w + skip, sizeof *w * (size_t)(nw - skip));
    }
    /* Too long for the model: tokens go from the left, as
     * lm-evaluation-harness cuts, the same context tokens from every choice
     * so that they still share their prefix. A choice longer than the whole
     * context then loses its own first tokens too, which are not scored. */
    int longest = 0;
    for (int j = 0; !rc && j < it->nchoices; j++) longest = out->g.seqs[j].n > longest ? out->g.seqs[j].n : longest;
    out->truncated = 0;
    for (int j = 0; !rc && j < it->nchoices && longest > limit; j++) {
        dk_score_seq *q = &out->g.seqs[j];
        int drop = longest - limit < nc - 1 ? longest - limit : nc - 1;
        if (q->n - drop > limit) drop = q->n - limit;
        memmove((int *)q->tokens, q->tokens + drop, sizeof *q->tokens * (size_t)(q->n - drop));
        q->n -= drop;
        q->from = q->from - drop > 1 ? q->from - drop : 1;
        out->truncated = drop > out->truncated ? drop : out->truncated;
    }
    free(whole);
    free(cids);
    free(w);
    return rc;
}

static void free_items(mc_item *items, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; items[i].g.seqs && j < items[i].g.n; j++) free((int *)items[i].g.seqs[j].tokens);
        free(items[i].g.seqs);
    }
    memset(items, 0, sizeof *items * (size_t)n);
}

/* Tokenizes items[0..n) of the set from `first`, one encoder per thread. */
static int tokenize_chunk(const dk_eval_ctx *c, int first, int n, mc_item *items)
{
    char *err = NULL;
#pragma omp parallel
    {
        dk_encoder *e = dk_encoder_new(c->tok);
#pragma omp for schedule(dynamic, 4)
        for (int i = 0; i < n; i++) {
            if (!e || tokenize(e, c, &c->s->items[first + i], &items[i])) {
#pragma omp critical
                if (!err) err = strdup(dk_error());
            }
        }
        dk_encoder_free(e);
    }
    if (!err) return 0;
    const char *sub = c->s->subjects[c->s->items[first].subject];
    dk_fail("%s%s%s: %s", c->t->name, *sub ? " " : "", sub, err);
    free(err);
    return -1;
}

static cJSON *record(const dk_eval_ctx *c, const dk_eval_item *it, const mc_item *mi, const double *bytes, int pred, int pred_norm)
{
    cJSON *r = cJSON_CreateObject(), *ch = r ? cJSON_AddArrayToObject(r, "choices") : NULL;
    if (!ch) return r;
    cJSON_AddNumberToObject(r, "index", it->index);
    if (c->s->nsubjects > 1) cJSON_AddStringToObject(r, "subject", c->s->subjects[it->subject]);
    for (int j = 0; j < it->nchoices; j++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(ch, o)) break;
        cJSON_AddNumberToObject(o, "ll", mi->g.seqs[j].logprob);
        cJSON_AddNumberToObject(o, "bytes", bytes[j]);
        cJSON_AddBoolToObject(o, "greedy", mi->g.seqs[j].greedy);
    }
    cJSON_AddNumberToObject(r, "gold", it->gold);
    cJSON_AddNumberToObject(r, "pred", pred);
    cJSON_AddNumberToObject(r, "pred_norm", pred_norm);
    if (mi->truncated) cJSON_AddNumberToObject(r, "truncated", mi->truncated);
    return r;
}

int dk_eval_mc(dk_eval_ctx *c, cJSON *result)
{
    const dk_eval_set *s = c->s;
    int n = s->n, rc = 0;
    double *acc = dk_malloc(sizeof *acc * (size_t)n), *accn = dk_malloc(sizeof *accn * (size_t)n), base = 0;
    mc_item *items = dk_calloc(CHUNK_ITEMS, sizeof *items);
    if (!acc || !accn || !items) rc = -1;
    for (int first = 0; !rc && first < n; first += CHUNK_ITEMS) {
        int cn = n - first < CHUNK_ITEMS ? n - first : CHUNK_ITEMS, longest = 1;
        rc = tokenize_chunk(c, first, cn, items);
        dk_score_group *groups = rc ? NULL : dk_malloc(sizeof *groups * (size_t)cn);
        if (!rc && !groups) rc = -1;
        for (int i = 0; !rc && i < cn; i++) {
            groups[i] = items[i].g;
            for (int j = 0; j < items[i].g.n; j++) longest = items[i].g.seqs[j].n > longest ? items[i].g.seqs[j].n : longest;
        }
        /* the KV cache holds the chunk's longest sequence: more rows fit when they are short */
        dk_scorer sc;
        if (!rc && !(rc = dk_scorer_init(&sc, c->m, c->o->batch, DK_EVAL_BATCH_TOKENS, longest, c->o->prefix_reuse))) {
            rc = dk_score_groups(&sc, groups, cn, dk_eval_groups_done, c);
            c->tokens += sc.tokens;
            c->flops += sc.flops;
            dk_scorer_free(&sc);
        }
        for (int i = 0; !rc && i < cn; i++) {
            const dk_eval_item *it = &s->items[first + i];
            double ll[it->nchoices], norm[it->nchoices], bytes[it->nchoices];
            for (int j = 0; j < it->nchoices; j++) {
                ll[j] = groups[i].seqs[j].logprob;
                bytes[j] = (double)strlen(it->choices[j]);
                norm[j] = ll[j] / (bytes[j] > 0 ? bytes[j] : 1);
            }
            int pred = dk_argmax(ll, it->nchoices), pred_norm = dk_argmax(norm, it->nchoices);
            acc[first + i] = pred == it->gold;
            accn[first + i] = pred_norm == it->gold;
            base += 1.0 / it->nchoices / n;
            if (c->records && !cJSON_AddItemToArray(c->records, record(c, it, &items[i], bytes, pred, pred_norm))) rc = dk_fail("out of memory");
        }
        free(groups);
        free_items(items, cn);
        c->done += cn;
    }
    const char *names[2];
    double *values[2];
    int nm = 0;
    if (dk_eval_wants(c->t, "acc", true)) names[nm] = "acc", values[nm++] = acc;
    if (dk_eval_wants(c->t, "acc_norm", true)) names[nm] = "acc_norm", values[nm++] = accn;
    if (!rc) rc = dk_eval_add_metrics(result, s, names, values, nm);
    if (!rc) cJSON_AddNumberToObject(result, "random_baseline", base);
    free(acc);
    free(accn);
    free(items);
    return rc;
}
