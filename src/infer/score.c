/* Log-likelihood scoring over the engine's layers: rows go through
 * dk_model_forward_layers, each in its own KV-cache slot at its own start
 * position (as dk_infer_batch places them), and the LM head runs only on the
 * positions whose next token is scored, a chunk of rows at a time into our
 * own buffer (dk_infer_batch keeps only each row's last logits).
 *
 * With prefix reuse a group (the choices of a question) runs its shared
 * prefix once. When its sequences differ only in their last token, that one
 * row scores them all. Otherwise the prefix's keys and values are copied
 * into a slot per sequence and the rests run together as rows that start
 * after it. */
#include "dokja/score.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/infer.h"
#include "dokja/layers.h"

#define DK_SCORE_CHUNK 64 /* logit rows per LM-head GEMM */

/* One row of a call: n tokens of a group's sequence `seq` (or of the prefix
 * all its sequences share, seq = -1) from position off, in KV-cache slot
 * `slot` (-1: any); the logits of row positions lo..hi are scored. */
typedef struct {
    dk_score_group *g;
    int seq, slot;
    int off, n;
    int lo, hi;
} job;

typedef struct {
    const job *j;
    int p; /* row position */
} want;

double dk_score_token_flops(const dk_model_config *c, int pos)
{
    double C = c->hidden_size, I = c->intermediate_size, L = c->num_hidden_layers;
    double HD = C / c->num_attention_heads, qd = HD * c->num_attention_heads, kvd = HD * c->num_key_value_heads;
    double weights = C * qd * 2 + C * kvd * 2 + 3 * C * I;
    /* 2 flops per weight; QK^T and AV over pos + 1 keys */
    return L * (2.0 * weights + 4.0 * (pos + 1) * qd);
}

int dk_scorer_init(dk_scorer *s, dk_model *m, int max_rows, int max_tokens, int longest, bool reuse)
{
    memset(s, 0, sizeof *s);
    /* the head below reads the final states and weights on the host */
    if (!m->be->host_memory) return dk_fail("scoring runs on the CPU; the model is on %s", m->be->name);
    const dk_model_config *c = &m->cfg;
    int ctx = c->max_position_embeddings, C = c->hidden_size, V = c->vocab_size;
    if (longest < 1 || longest > ctx) longest = ctx;
    /* keys and values of every layer, fp32, for each row's slot */
    size_t slot_bytes = (size_t)longest * c->num_hidden_layers * m->head_dim * c->num_key_value_heads * 2 * sizeof(float);
    size_t fit = DK_SCORE_KV_BYTES / slot_bytes;
    s->m = m;
    s->max_rows = max_rows < 1 ? 1 : max_rows;
    if ((size_t)s->max_rows > fit) s->max_rows = fit > 0 ? (int)fit : 1;
    /* a whole sequence fits in one call */
    s->max_tokens = max_tokens < longest ? longest : max_tokens < s->max_rows ? s->max_rows : max_tokens;
    s->reuse = reuse;
    if (dk_infer_begin(m, s->max_rows, s->max_tokens, longest)) return -1;
    s->sel = dk_malloc(sizeof(float) * DK_SCORE_CHUNK * (size_t)C);
    s->logits = dk_malloc(sizeof(float) * DK_SCORE_CHUNK * (size_t)V);
    if (!s->sel || !s->logits) {
        dk_scorer_free(s);
        return -1;
    }
    return 0;
}

void dk_scorer_free(dk_scorer *s)
{
    free(s->sel);
    free(s->logits);
    s->sel = s->logits = NULL;
}

/* Adds ln p(target) of every sequence this logits row scores. */
static void take(const job *j, int p, const float *logits, float lse, int argmax)
{
    int t = j->off + p + 1, first = j->seq < 0 ? 0 : j->seq, last = j->seq < 0 ? j->g->n : j->seq + 1;
    for (int i = first; i < last; i++) {
        dk_score_seq *q = &j->g->seqs[i];
        if (t < q->from || t >= q->n) continue;
        int tok = q->tokens[t];
        q->logprob += (double)logits[tok] - (double)lse;
        if (tok != argmax) q->greedy = false;
    }
}

/* LM head over the gathered rows, then log-sum-exp and argmax of each. */
static void flush(dk_scorer *s, const want *w, int k)
{
    int C = s->m->cfg.hidden_size, V = s->m->cfg.vocab_size;
    dk_matmul_forward(s->logits, s->sel, s->m->params.lm_head, k, C, V);
    float lse[DK_SCORE_CHUNK];
    int amax[DK_SCORE_CHUNK];
#pragma omp parallel for schedule(static)
    for (int r = 0; r < k; r++) {
        const float *row = s->logits + (size_t)r * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best]) best = v;
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp((double)(row[v] - row[best]));
        lse[r] = row[best] + (float)log(sum);
        amax[r] = best;
    }
    for (int r = 0; r < k; r++) take(w[r].j, w[r].p, s->logits + (size_t)r * V, lse[r], amax[r]);
    s->logit_rows += k;
    s->flops += 2.0 * k * (double)C * V;
}

/* One forward pass: row b is jobs[b] in its slot from its position. */
static void call(dk_scorer *s, job *const *jobs, int B, int T)
{
    dk_model *m = s->m;
    dk_acts *a = &m->acts;
    int C = m->cfg.hidden_size;
    a->pos = a->ints;
    a->slot = a->pos + (size_t)a->B * a->T;
    a->start = a->slot + a->B;
    for (int b = 0; b < B; b++) {
        const job *j = jobs[b];
        const int *src = j->g->seqs[j->seq < 0 ? 0 : j->seq].tokens + j->off;
        memcpy(a->tokens + (size_t)b * T, src, sizeof *src * (size_t)j->n);
        memset(a->tokens + (size_t)b * T + j->n, 0, sizeof *src * (size_t)(T - j->n)); /* padding, never scored */
        a->slot[b] = j->slot;
        a->start[b] = j->off;
        for (int t = 0; t < T; t++) a->pos[b * T + t] = j->off + t;
        s->tokens += j->n;
        /* positions off..off+n-1: the flops are linear in the position */
        s->flops += j->n * (dk_score_token_flops(&m->cfg, j->off) + dk_score_token_flops(&m->cfg, j->off + j->n - 1)) / 2;
    }
    dk_model_forward_layers(m, B, T, 0);
    a->pos = a->slot = a->start = NULL;
    want w[DK_SCORE_CHUNK];
    int k = 0;
    for (int b = 0; b < B; b++)
        for (int p = jobs[b]->lo; p <= jobs[b]->hi; p++) {
            memcpy(s->sel + (size_t)k * C, a->lnf + ((size_t)b * T + p) * C, sizeof(float) * (size_t)C);
            w[k++] = (want){jobs[b], p};
            if (k == DK_SCORE_CHUNK) flush(s, w, k), k = 0;
        }
    if (k) flush(s, w, k);
}

static int by_length(const void *x, const void *y)
{
    const job *a = *(job *const *)x, *b = *(job *const *)y;
    return a->n != b->n ? b->n - a->n : a - b;
}

/* Runs the jobs in as few calls as fit: longest first (least padding), at
 * most max_rows rows and max_tokens tokens a call, and no row running past
 * the end of its cache. Jobs with slot -1 take the call's row index. */
static int run(dk_scorer *s, job *jobs, int n)
{
    job **order = dk_malloc(sizeof *order * (size_t)(n ? n : 1)), **batch = dk_malloc(sizeof *batch * (size_t)s->max_rows);
    bool any = jobs && n && jobs[0].slot < 0;
    if (!order || !batch) {
        free(order), free(batch);
        return -1;
    }
    for (int i = 0; i < n; i++) order[i] = &jobs[i];
    qsort(order, (size_t)n, sizeof *order, by_length);
    int S = s->m->acts.S;
    for (int left = n; left > 0;) {
        int B = 0, T = 0, kept = 0;
        for (int i = 0; i < left; i++) {
            job *j = order[i];
            if (!B) T = j->n;
            if (B < s->max_rows && (B + 1) * T <= s->max_tokens && j->off + T <= S) {
                if (any) j->slot = B;
                batch[B++] = j;
            } else order[kept++] = j; /* a later call */
        }
        call(s, batch, B, T);
        left = kept;
    }
    free(order);
    free(batch);
    return 0;
}

static int check(const dk_model *m, const dk_score_group *g, int n)
{
    /* at most what the scorer was sized for */
    int ctx = m->acts.S, V = m->cfg.vocab_size;
    for (int gi = 0; gi < n; gi++)
        for (int i = 0; i < g[gi].n; i++) {
            const dk_score_seq *q = &g[gi].seqs[i];
            if (q->n < 1 || q->n > ctx || q->from < 1 || q->from > q->n)
                return dk_fail("scoring: sequence %d of group %d has %d tokens from %d (context %d)", i, gi, q->n, q->from, ctx);
            for (int t = 0; t < q->n; t++)
                if (q->tokens[t] < 0 || q->tokens[t] >= V)
                    return dk_fail("scoring: token %d (id %d) is outside the vocabulary of %d", t, q->tokens[t], V);
        }
    return 0;
}

/* Tokens shared by every sequence of the group. */
static int shared_prefix(const dk_score_group *g)
{
    int P = g->seqs[0].n;
    for (int i = 1; i < g->n; i++) {
        int k = 0, lim = g->seqs[i].n < P ? g->seqs[i].n : P;
        while (k < lim && g->seqs[i].tokens[k] == g->seqs[0].tokens[k]) k++;
        P = k;
    }
    return P;
}

/* A row of the first P tokens of sequence seq (-1: of all, which share
 * them), scoring from the earliest continuation to the last position that
 * predicts a token of some sequence. */
static job prefix_job(dk_score_group *g, int seq, int P, int slot)
{
    int from = P, longest = 0;
    for (int i = seq < 0 ? 0 : seq; i < (seq < 0 ? g->n : seq + 1); i++) {
        from = g->seqs[i].from < from ? g->seqs[i].from : from;
        longest = g->seqs[i].n > longest ? g->seqs[i].n : longest;
    }
    int hi = (longest > P ? P : longest - 1) - 1;
    return (job){g, seq, slot, 0, P, from - 1, hi};
}

/* The prefix's keys and values of every layer from one slot to another. */
static void copy_prefix(dk_model *m, int from, int to, int P)
{
    const dk_acts *a = &m->acts;
    size_t kvd = (size_t)m->head_dim * m->cfg.num_key_value_heads, cache = (size_t)a->B * a->S * kvd;
    for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
        size_t src = l * cache + (size_t)from * a->S * kvd, dst = l * cache + (size_t)to * a->S * kvd;
        memcpy(a->k + dst, a->k + src, sizeof(float) * P * kvd);
        memcpy(a->v + dst, a->v + src, sizeof(float) * P * kvd);
    }
}

/* Groups whose sequences go on after their shared prefix, as many at a time
 * as have a slot for each sequence (a group with more sequences than slots
 * runs its rests in turns over the slots, which keep the prefix). */
static int run_multi(dk_scorer *s, dk_score_group **gs, int n, void (*done)(void *, int), void *user, int *finished)
{
    job *jobs = dk_malloc(sizeof *jobs * (size_t)(s->max_rows > n ? s->max_rows : n));
    int *P = dk_malloc(sizeof *P * (size_t)(n ? n : 1)), rc = 0;
    if (!jobs || !P) rc = -1;
    for (int first = 0; !rc && first < n;) {
        /* the groups of this round and their prefixes, each in its first slot */
        int ng = 0, used = 0;
        while (first + ng < n && (ng == 0 || used + gs[first + ng]->n <= s->max_rows)) used += gs[first + ng++]->n;
        for (int i = 0, slot = 0; i < ng; slot += gs[first + i++]->n) {
            P[i] = shared_prefix(gs[first + i]);
            jobs[i] = prefix_job(gs[first + i], -1, P[i], slot % s->max_rows);
        }
        if ((rc = run(s, jobs, ng))) break;
        /* then every sequence's rest after its prefix, in turns of the slots */
        for (int i = 0, slot = 0; i < ng; slot += gs[first + i++]->n) {
            dk_score_group *g = gs[first + i];
            for (int k = 1; k < g->n && k < s->max_rows; k++) copy_prefix(s->m, slot % s->max_rows, (slot + k) % s->max_rows, P[i]);
        }
        for (int turn = 0, more = 1; !rc && more; turn++) {
            int nj = 0;
            more = 0;
            for (int i = 0, slot = 0; i < ng; slot += gs[first + i++]->n) {
                dk_score_group *g = gs[first + i];
                for (int k = turn * s->max_rows; k < g->n && k < (turn + 1) * s->max_rows; k++) {
                    int rest = g->seqs[k].n - 1 - P[i];
                    if (rest >= 1) jobs[nj++] = (job){g, k, (slot + k) % s->max_rows, P[i], rest, 0, rest - 1};
                }
                more |= g->n > (turn + 1) * s->max_rows;
            }
            rc = run(s, jobs, nj);
        }
        first += ng;
        *finished += ng;
        if (done) done(user, *finished);
    }
    free(jobs);
    free(P);
    return rc;
}

int dk_score_groups(dk_scorer *s, dk_score_group *g, int n, void (*done)(void *user, int groups), void *user)
{
    if (check(s->m, g, n)) return -1;
    int total = 0;
    for (int gi = 0; gi < n; gi++) {
        total += g[gi].n;
        for (int i = 0; i < g[gi].n; i++) g[gi].seqs[i].logprob = 0, g[gi].seqs[i].greedy = true;
    }
    /* Rows that need nothing after them: with reuse a group whose sequences
     * differ at most in their last token; without, every sequence. */
    job *rows = dk_malloc(sizeof *rows * (size_t)(total ? total : 1));
    dk_score_group **multi = dk_malloc(sizeof *multi * (size_t)(n ? n : 1));
    if (!rows || !multi) {
        free(rows), free(multi);
        return -1;
    }
    int nrows = 0, nmulti = 0, finished = 0;
    for (int gi = 0; gi < n; gi++) {
        int P = s->reuse && g[gi].n ? shared_prefix(&g[gi]) : 0;
        bool one_row = true;
        for (int i = 0; i < g[gi].n; i++) one_row = one_row && g[gi].seqs[i].n - P <= 1;
        if (!s->reuse || (!one_row && P < 1))
            for (int i = 0; i < g[gi].n; i++) rows[nrows++] = prefix_job(&g[gi], i, g[gi].seqs[i].n, -1);
        else if (!g[gi].n) continue;
        else if (one_row) rows[nrows++] = prefix_job(&g[gi], -1, P, -1);
        else multi[nmulti++] = &g[gi];
    }
    int rc = run(s, rows, nrows);
    finished = n - nmulti;
    if (!rc && done) done(user, finished);
    if (!rc) rc = run_multi(s, multi, nmulti, done, user, &finished);
    free(rows);
    free(multi);
    return rc;
}
