/* The scheduler: a bounded queue of requests and one thread that owns the
 * model. New requests are prefilled into free KV-cache slots; then every
 * active request advances by one token in a single batched decode step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "serve_internal.h"

dk_req *dk_req_new(void)
{
    dk_req *r = dk_calloc(1, sizeof *r);
    if (!r) return NULL;
    pthread_cond_init(&r->changed, NULL);
    r->refs = 1;
    return r;
}

static void req_free(dk_req *r)
{
    free(r->prompt);
    for (int i = 0; i < r->nstop; i++) free(r->stop[i]);
    free(r->stop);
    dk_sampler_free(&r->sampler);
    dk_textstream_free(&r->ts);
    free(r->text);
    free(r->think);
    pthread_cond_destroy(&r->changed);
    free(r);
}

void dk_req_release(dk_sched *s, dk_req *r)
{
    pthread_mutex_lock(&s->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) req_free(r);
}

void dk_req_cancel(dk_sched *s, dk_req *r)
{
    pthread_mutex_lock(&s->mu);
    r->cancelled = true;
    pthread_mutex_unlock(&s->mu);
}

static int append(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1) c *= 2;
        char *b = realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
    return 0;
}

/* Text for the reply (or its reasoning), under the mutex, and the reader woken. */
static int publish(dk_sched *s, dk_req *r, const char *delta, bool reasoning, int new_tokens)
{
    pthread_mutex_lock(&s->mu);
    int rc = reasoning ? append(&r->think, &r->think_len, &r->think_cap, delta)
                       : append(&r->text, &r->text_len, &r->text_cap, delta);
    r->tokens += new_tokens;
    s->c.generated_tokens += (uint64_t)new_tokens;
    bool cancelled = r->cancelled;
    pthread_cond_broadcast(&r->changed);
    pthread_mutex_unlock(&s->mu);
    return rc || cancelled;
}

/* dk_gen's callback, on the scheduler thread. */
static int on_token(int token, void *user)
{
    void **ctx = user;
    dk_sched *s = ctx[0];
    dk_req *r = ctx[1];
    const char *delta;
    if (r->in_reasoning && token == s->lm->ct.think_end) {
        if (dk_textstream_push(&r->ts, -1, true, &delta)) return 1;
        r->in_reasoning = false;
        int rc = publish(s, r, delta, true, 1);
        dk_textstream_reset(&r->ts);
        return rc;
    }
    if (dk_textstream_push(&r->ts, token, false, &delta)) return 1;
    return publish(s, r, delta, r->in_reasoning, 1) || r->ts.stopped;
}

/* The callback's context lives with the slot. */
typedef struct {
    void *ctx[2];
} slot_ctx;

static void finish(dk_sched *s, dk_req *r, int slot)
{
    const char *delta = "";
    if (!r->error[0]) dk_textstream_push(&r->ts, -1, true, &delta);
    publish(s, r, delta, r->in_reasoning, 0);
    pthread_mutex_lock(&s->mu);
    r->done = true;
    r->finish = r->ts.stopped ? DK_FINISH_STOP : r->gen.finish;
    pthread_cond_broadcast(&r->changed);
    if (slot >= 0) {
        s->active[slot] = NULL;
        s->nactive--;
    }
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) req_free(r);
}

static void *run(void *arg)
{
    dk_sched *s = arg;
    dk_model *m = &s->lm->model;
    slot_ctx *ctxs = calloc((size_t)s->slots, sizeof *ctxs);
    dk_gen **gens = calloc((size_t)s->slots, sizeof *gens);
    if (!ctxs || !gens) abort(); /* a few bytes at start; nothing can run without them */
    /* OpenMP's and OpenBLAS's thread counts are per calling thread: this one decodes */
    dk_set_threads(s->threads);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->stop && !s->nactive && !s->queued) pthread_cond_wait(&s->work, &s->mu);
        if (s->stop) break;
        /* admit: prefill waiting requests into free slots, one at a time */
        while (s->queued && s->nactive < s->slots) {
            dk_req *r = s->queue_head;
            s->queue_head = r->next;
            if (!s->queue_head) s->queue_tail = NULL;
            s->queued--;
            int slot = 0;
            while (s->active[slot]) slot++;
            s->active[slot] = r;
            s->nactive++;
            bool cancelled = r->cancelled;
            pthread_mutex_unlock(&s->mu);
            ctxs[slot].ctx[0] = s;
            ctxs[slot].ctx[1] = r;
            r->gen.fn = on_token;
            r->gen.user = ctxs[slot].ctx;
            r->in_reasoning = r->reasoning;
            if (cancelled || dk_gen_start(m, &r->gen, r->prompt, r->n, slot)) {
                if (!cancelled) snprintf(r->error, sizeof r->error, "%s", dk_error());
                r->gen.done = true;
            }
            if (r->gen.done) finish(s, r, slot);
            pthread_mutex_lock(&s->mu);
        }
        /* one batched step for every active request that goes on */
        int n = 0;
        for (int i = 0; i < s->slots; i++) {
            dk_req *r = s->active[i];
            if (!r) continue;
            if (r->cancelled) r->gen.done = true;
            if (r->gen.done) {
                pthread_mutex_unlock(&s->mu);
                finish(s, r, i);
                pthread_mutex_lock(&s->mu);
                continue;
            }
            gens[n++] = &r->gen;
        }
        if (!n) continue;
        pthread_mutex_unlock(&s->mu);
        double t0 = dk_now();
        dk_gen_step(m, gens, n);
        double dt = dk_now() - t0;
        pthread_mutex_lock(&s->mu);
        s->c.busy_s += dt;
    }
    /* stopping: whatever is left ends as cancelled */
    for (int i = 0; i < s->slots; i++)
        if (s->active[i]) {
            dk_req *r = s->active[i];
            r->cancelled = true;
            pthread_mutex_unlock(&s->mu);
            finish(s, r, i);
            pthread_mutex_lock(&s->mu);
        }
    while (s->queue_head) {
        dk_req *r = s->queue_head;
        s->queue_head = r->next;
        r->cancelled = r->done = true;
        pthread_cond_broadcast(&r->changed);
        bool last = --r->refs == 0;
        if (last) req_free(r);
    }
    s->queued = 0;
    pthread_mutex_unlock(&s->mu);
    free(ctxs);
    free(gens);
    return NULL;
}

int dk_sched_start(dk_sched *s, dk_lm *lm, int slots, int queue_max, int context, int threads)
{
    memset(s, 0, sizeof *s);
    s->threads = threads;
    s->lm = lm;
    s->slots = slots;
    s->queue_max = queue_max;
    s->context = context;
    int tokens = context < DK_PREFILL_CHUNK ? context : DK_PREFILL_CHUNK;
    if (dk_infer_begin(&lm->model, slots, tokens > slots ? tokens : slots, context)) return -1;
    s->active = dk_calloc((size_t)slots, sizeof *s->active);
    if (!s->active) return -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    if (pthread_create(&s->thread, NULL, run, s)) {
        free(s->active);
        return dk_fail("cannot start the scheduler thread");
    }
    return 0;
}

void dk_sched_stop(dk_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
}

void dk_sched_free(dk_sched *s)
{
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    free(s->active);
}

int dk_sched_submit(dk_sched *s, dk_req *r)
{
    const dk_lm *lm = s->lm;
    dk_textstream_init(&r->ts, lm->tok, r->stop, r->nstop);
    r->gen.sampler = &r->sampler;
    r->gen.stop_ids = lm->stop_ids;
    r->gen.nstop_ids = r->chat ? 2 : 1;
    pthread_mutex_lock(&s->mu);
    s->c.requests++;
    if (s->stop || s->queued >= s->queue_max) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    r->refs++;
    r->next = NULL;
    if (s->queue_tail) s->queue_tail->next = r;
    else s->queue_head = r;
    s->queue_tail = r;
    s->queued++;
    s->c.prompt_tokens += (uint64_t)r->n;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}
