/* The server's parts: the scheduler (batched decoding of requests), the
 * OpenAI API (requests and responses as JSON) and the HTTP front. */
#ifndef DK_SERVE_INTERNAL_H
#define DK_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dokja/serve.h"

/* One generation request. The connection thread fills the input and reads
 * the output; the scheduler thread generates. Output fields are guarded by
 * the scheduler's mutex. */
typedef struct dk_req {
    /* input */
    int *prompt;
    int n;
    dk_sampler sampler;
    dk_gen gen;
    char **stop;       /* stop strings */
    int nstop;
    bool chat;         /* chat: stops at <|end|> too */
    bool reasoning;    /* the reply opens with reasoning, up to </think> */
    /* generation state (scheduler thread) */
    dk_textstream ts;
    bool in_reasoning;
    /* output */
    char *text, *think; /* the answer and the reasoning so far */
    size_t text_len, text_cap, think_len, think_cap;
    int tokens;         /* generated */
    bool done, cancelled;
    dk_finish finish;
    char error[256];    /* set when generation failed */
    pthread_cond_t changed;
    int refs;           /* the connection and the scheduler */
    struct dk_req *next;
} dk_req;

typedef struct {
    uint64_t requests, errors, prompt_tokens, generated_tokens;
    double busy_s; /* time spent decoding */
} dk_counters;

typedef struct dk_sched {
    dk_lm *lm;
    int slots, queue_max, context, threads;
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_t thread;
    bool stop;
    dk_req *queue_head, *queue_tail;
    int queued;
    dk_req **active; /* (slots) NULL where free */
    int nactive;
    dk_counters c;
} dk_sched;

int dk_sched_start(dk_sched *s, dk_lm *lm, int slots, int queue_max, int context, int threads);
/* Ends the thread; every request still queued or running ends cancelled. */
void dk_sched_stop(dk_sched *s);
/* After the connections are gone. */
void dk_sched_free(dk_sched *s);
/* A request with its prompt and settings set (refs taken by the caller: 1). 
 * Returns 0 when queued, -1 when the queue is full. */
int dk_sched_submit(dk_sched *s, dk_req *r);
dk_req *dk_req_new(void);
/* Drops a reference (under the mutex); the last one frees. */
void dk_req_release(dk_sched *s, dk_req *r);
/* The caller gives up on a request (the client went away). */
void dk_req_cancel(dk_sched *s, dk_req *r);

#endif
