/* Bits per byte: each document as [BOS] + its tokens, cut into windows of
 * the model's context that overlap by one token, so every token after the
 * BOS is predicted once, with at least one token before it (the rolling
 * log-likelihood of lm-evaluation-harness). Dividing by the bytes of text
 * rather than the tokens compares models with different tokenizers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "eval_internal.h"

/* Windows of at most `limit` tokens covering the targets 1..nids-1. */
static int windows(int nids, int limit) { return nids > 1 ? (nids - 2) / (limit - 1) + 1 : 0; }

int dk_eval_bpb(dk_eval_ctx *c, cJSON *result)
{
    const dk_eval_set *s = c->s;
    int limit = c->m->cfg.max_position_embeddings, V = c->m->cfg.vocab_size, rc = 0;
    int *ids = NULL, nids = 0, cap = 0, nunits = 0, capu = 0;
    double *nll = NULL, *bytes = NULL, tokens = 0;
    dk_scorer sc;
    dk_encoder *e = dk_encoder_new(c->tok);
    if (!e || dk_scorer_init(&sc, c->m, c->o->batch, DK_EVAL_BATCH_TOKENS, limit, true)) {
        dk_encoder_free(e);
        return -1;
    }
    /* progress counts windows: a first pass tokenizes only to count them */
    c->progress.total = 0;
    for (int i = 0; !rc && i < s->n; i++) {
        const dk_eval_item *it = &s->items[i];
        rc = dk_eval_encode_prompt(e, c->m->cfg.bos_token_id, it->text, strlen(it->text), &ids, &nids, &cap);
        if (rc) dk_fail_context("%s: row index %d", c->t->name, it->index);
        c->progress.total += windows(nids, limit);
    }
    for (int i = 0; !rc && i < s->n; i++) {
        const dk_eval_item *it = &s->items[i];
        rc = dk_eval_encode_prompt(e, c->m->cfg.bos_token_id, it->text, strlen(it->text), &ids, &nids, &cap);
        int nw = windows(nids, limit);
        dk_score_group *g = rc ? NULL : dk_calloc((size_t)(nw ? nw : 1), sizeof *g);
        dk_score_seq *q = g ? dk_calloc((size_t)(nw ? nw : 1), sizeof *q) : NULL;
        if (!rc && (!q || nunits + nw > capu)) {
            capu = 2 * (nunits + nw) + 16;
            double *a = realloc(nll, sizeof *a * (size_t)capu), *b = a ? realloc(bytes, sizeof *b * (size_t)capu) : NULL;
            if (a) nll = a;
            if (b) bytes = b;
            if (!q || !a || !b) rc = dk_fail("out of memory");
        }
        for (int w = 0; !rc && w < nw; w++) {
            int start = w * (limit - 1);
            q[w] = (dk_score_seq){ids + start, nids - start < limit ? nids - start : limit, 1};
            g[w] = (dk_score_group){&q[w], 1};
        }
        if (!rc) rc = dk_score_groups(&sc, g, nw, dk_eval_groups_done, c);
        double dn = 0, db = 0;
        for (int w = 0; !rc && w < nw; w++) {
            double b = 0;
            for (int t = 1; t < q[w].n; t++) {
                size_t len = 0;
                dk_tokenizer_token_bytes(c->tok, q[w].tokens[t], &len);
                b += (double)len;
            }
            nll[nunits] = -q[w].logprob;
            bytes[nunits++] = b;
            dn += -q[w].logprob;
            db += b;
        }
        tokens += nids - 1;
        c->done += nw;
        cJSON *rec = !rc && c->records ? cJSON_CreateObject() : NULL;
        if (rec) {
            cJSON_AddNumberToObject(rec, "index", it->index);
            cJSON_AddNumberToObject(rec, "tokens", nids - 1);
            cJSON_AddNumberToObject(rec, "bytes", db);
            cJSON_AddNumberToObject(rec, "nll", dn);
            cJSON_AddNumberToObject(rec, "bpb", db > 0 ? dn / db / M_LN2 : 0);
            cJSON_AddItemToArray(c->records, rec);
        }
        free(g);
        free(q);
    }
    double bpb = 0, se = 0, total_bytes = 0;
    for (int u = 0; u < nunits; u++) total_bytes += bytes[u];
    if (!rc && total_bytes <= 0) rc = dk_fail("%s: no text to score", c->t->name);
    if (!rc) {
        dk_bits_per_byte(nll, bytes, nunits, &bpb, &se);
        cJSON *m = cJSON_AddObjectToObject(result, "metrics");
        dk_eval_metric(m, "bpb", bpb, se);
        cJSON_AddNumberToObject(result, "bytes", total_bytes);
        cJSON_AddNumberToObject(result, "tokens", tokens);
        cJSON_AddNumberToObject(result, "bytes_per_token", total_bytes / tokens);
        /* a model that guesses uniformly over its vocabulary */
        cJSON_AddNumberToObject(result, "random_baseline", log2((double)V) * tokens / total_bytes);
    }
    c->tokens = sc.tokens;
    c->flops = sc.flops;
    dk_scorer_free(&sc);
    dk_encoder_free(e);
    free(ids), free(nll), free(bytes);
    return rc;
}
