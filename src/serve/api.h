/* The OpenAI API: parsing requests into dk_req, and the JSON of results,
 * stream chunks and errors. */
#ifndef DK_SERVE_API_H
#define DK_SERVE_API_H

#include <stdbool.h>
#include <time.h>

#include "dokja/json.h"
#include "serve_internal.h"

typedef struct {
    int status;       /* HTTP status */
    const char *type; /* "invalid_request_error", ... */
    const char *code; /* "model_not_found", ... or NULL */
} dk_api_error;

/* What every object of one response shares. */
typedef struct {
    char id[48];
    time_t created;
    const char *model;
    bool chat, stream;
} dk_api_ctx;

/* Fills r (prompt, sampler, limits, stop strings, reasoning) from a
 * completions (chat false) or chat completions body. On error, *err says the
 * status and dk_error() the message. */
int dk_api_parse(const dk_lm *lm, int context, const cJSON *body, bool chat, dk_req *r, bool *stream, dk_api_error *err);
/* An array of token ids, each checked against the vocabulary (the error names `what` and the index). */
int dk_api_ids(const cJSON *arr, int V, int **ids, int *n, const char *what);

char *dk_api_error_json(const dk_api_error *e, const char *message);
cJSON *dk_api_envelope(const dk_api_ctx *c, const char *object);
/* The whole response of a finished request. */
char *dk_api_result(const dk_api_ctx *c, const dk_req *r);
/* A stream chunk with new text (either part may be NULL); the last one has finish_reason and usage. */
char *dk_api_chunk(const dk_api_ctx *c, const dk_req *r, const char *think, const char *text, bool last, bool first);

#endif
