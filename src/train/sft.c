/* Fine-tuning to chat: conversations -> packed rows -> the trainer. */
#include "dokja/sft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/chat.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/pack.h"

void dk_sft_config_default(dk_train_config *c)
{
    dk_train_config_default(c);
    c->lr = 3e-4;
    c->min_lr = 3e-5;
    c->weight_decay = 0.0;
    c->warmup_steps = 10;
    c->batch_size = 8;
    c->seq_len = 0; /* 0: the base model's context, at most 512 */
    c->eval_batches = 4;
}

/* Everything a fine-tuning run is made of, built from the job. */
typedef struct {
    dk_model_config model;
    dk_tokenizer *tok;
    dk_chat_tokens ct;
    char *tokenizer_path;
    dk_seq *seqs;
    int64_t nseqs;
    dk_rows train, val;
    dk_pack_stats train_stats, val_stats;
} sft_data;

static void sft_data_free(sft_data *d)
{
    for (int64_t i = 0; i < d->nseqs; i++) free(d->seqs[i].ids), free(d->seqs[i].train);
    free(d->seqs);
    dk_pack_rows_free(&d->train);
    dk_pack_rows_free(&d->val);
    dk_tokenizer_free(d->tok);
    free(d->tokenizer_path);
}

/* Loads the base model's configuration and tokenizer and renders every conversation. */
static int render_all(const dk_sft_job *job, sft_data *d)
{
    char *cfg = dk_path_join(job->base_dir, "config.json");
    d->tokenizer_path = dk_path_join(job->base_dir, "tokenizer.json");
    int rc = !cfg || !d->tokenizer_path ? -1 : 0;
    if (!rc) rc = dk_model_config_load(&d->model, cfg);
    free(cfg);
    if (!rc && !dk_path_exists(d->tokenizer_path)) rc = dk_fail("%s: the base model has no tokenizer.json", job->base_dir);
    if (!rc) rc = dk_tokenizer_load(&d->tok, d->tokenizer_path);
    if (!rc) rc = dk_chat_tokens_find(d->tok, &d->ct);
    for (int f = 0; !rc && f < job->ndata; f++) {
        dk_chat *chats;
        int64_t n;
        if ((rc = dk_chat_read(job->data[f], &chats, &n))) break;
        dk_seq *grown = realloc(d->seqs, sizeof *grown * (size_t)(d->nseqs + n));
        if (!grown) rc = dk_fail("out of memory");
        else d->seqs = grown;
        for (int64_t i = 0; !rc && i < n; i++) {
            dk_seq *s = &d->seqs[d->nseqs];
            rc = dk_chat_render(d->tok, &d->ct, chats[i].msgs, chats[i].n, false, job->think, &s->ids, &s->train, &s->n);
            if (rc) dk_fail_context("%s: conversation %lld", job->data[f], (long long)i + 1);
            else d->nseqs++;
        }
        dk_chats_free(chats, n);
    }
    return rc;
}

/* Every val_every-th conversation goes to validation; both sets are packed. */
static int pack_all(const dk_sft_job *job, sft_data *d, int T)
{
    dk_seq *tr = dk_malloc(sizeof *tr * (size_t)d->nseqs), *va = dk_malloc(sizeof *va * (size_t)d->nseqs);
    int64_t ntr = 0, nva = 0;
    int rc = !tr || !va ? -1 : 0;
    for (int64_t i = 0; !rc && i < d->nseqs; i++) {
        if (job->val_every > 0 && i % job->val_every == job->val_every - 1) va[nva++] = d->seqs[i];
        else tr[ntr++] = d->seqs[i];
    }
    if (!rc) rc = dk_pack_rows(&d->train, tr, ntr, T, d->ct.end, (uint64_t)job->train.seed, &d->train_stats);
    if (!rc && nva) {
        if (dk_pack_rows(&d->val, va, nva, T, d->ct.end, 0, &d->val_stats)) dk_pack_rows_free(&d->val);
    }
    free(tr);
    free(va);
    return rc;
}

static int build(const dk_sft_job *job, sft_data *d, int *T)
{
    if (render_all(job, d)) return -1;
    *T = job->train.seq_len > 0 ? job->train.seq_len : d->model.max_position_embeddings < 512 ? d->model.max_position_embeddings : 512;
    if (*T > d->model.max_position_embeddings)
        return dk_fail("seq_len %d exceeds the base model's max_position_embeddings (%d)", *T, d->model.max_position_embeddings);
    return pack_all(job, d, *T);
}

static void print_stats(const char *what, const dk_pack_stats *s, int T)
{
    fprintf(stderr,
            "%s: %lld conversations in %lld rows of %d tokens (%lld learnt tokens, %.0f%% padding; %lld cut to fit, %lld "
            "with nothing to learn)\n",
            what, (long long)s->sequences, (long long)s->rows, T, (long long)s->trained_tokens,
            s->rows ? 100.0 * (double)s->pad_tokens / ((double)s->rows * T) : 0.0, (long long)s->truncated,
            (long long)s->skipped);
}

int dk_sft_dry_run(const dk_sft_job *job)
{
    sft_data d = {0};
    int T, rc = build(job, &d, &T);
    if (!rc) {
        /* runs of learnt or not-learnt tokens, each decoded whole so characters stay intact */
        const dk_seq *s = &d.seqs[0];
        for (int k = 0, end; k < s->n; k = end) {
            for (end = k; end < s->n && s->train[end] == s->train[k]; end++) {}
            char *text = dk_tokenizer_decode(d.tok, &s->ids[k], end - k, false);
            printf("%s%s%s", s->train[k] ? "⟦" : "", text ? text : "", s->train[k] ? "⟧" : "");
            free(text);
        }
        putchar('\n');
        int learnt = 0;
        for (int k = 0; k < s->n; k++) learnt += s->train[k];
        printf("(%d tokens, %d learnt: the assistant's words and its <|end|>)\n", s->n, learnt);
        print_stats("train", &d.train_stats, T);
        if (d.val.count) print_stats("validation", &d.val_stats, T);
    }
    sft_data_free(&d);
    return rc;
}

int dk_sft(dk_sft_job *job)
{
    sft_data d = {0};
    int T, rc = build(job, &d, &T);
    if (rc) {
        sft_data_free(&d);
        return -1;
    }
    print_stats("train", &d.train_stats, T);
    if (d.val.count) print_stats("validation", &d.val_stats, T);
    dk_train_job tj = {0};
    tj.model = d.model;
    /* A chat model's reply ends at <|end|>. */
    tj.model.eos_token_id = d.ct.end;
    tj.model.bos_token_id = d.ct.bos;
    tj.train = job->train;
    tj.train.seq_len = T;
    /* --epochs sets the steps; with --epochs 0 the given --steps stand */
    if (job->epochs > 0) tj.train.steps = (int64_t)ceil(job->epochs * (double)d.train.count / job->train.batch_size);
    if (tj.train.steps < 1) tj.train.steps = 1;
    if (tj.train.eval_every == 0) tj.train.eval_every = tj.train.steps / 5 > 0 ? tj.train.steps / 5 : 1;
    tj.out_dir = job->out_dir;
    tj.init_from = job->base_dir;
    tj.resume = job->resume;
    tj.threads = job->threads;
    tj.be = job->be;
    tj.dist = job->dist;
    tj.train_rows = &d.train;
    tj.val_rows = d.val.count ? &d.val : NULL;
    tj.tokenizer_path = d.tokenizer_path;
    rc = dk_train_config_validate(&tj.train, &tj.model, "fine-tuning configuration");
    if (!rc) rc = dk_train(&tj);
    sft_data_free(&d);
    return rc;
}
