/* dokja serve: an OpenAI-compatible HTTP server over one model, with a
 * scheduler that decodes the active requests together. docs/server.md. */
#ifndef DK_SERVE_H
#define DK_SERVE_H

#include <stddef.h>

#include "lm.h"

typedef struct {
    const char *host;     /* address to listen on (default 127.0.0.1) */
    int port;             /* 0: any free port (dk_server_port tells which) */
    int parallel;         /* sequences decoded together (KV cache slots) */
    int queue;            /* requests waiting for a slot at most; more get 429 */
    int context;          /* KV cache positions per slot (0: the model's) */
    size_t max_body;      /* request bodies above this get 413 */
    const char *api_key;  /* NULL: no key needed */
    int threads;          /* decoding threads (0: all cores) */
} dk_serve_config;

typedef struct dk_server dk_server;

/* Starts listening and decoding in background threads; lm must outlive the server. */
int dk_server_start(dk_server **s, dk_lm *lm, const dk_serve_config *c);
int dk_server_port(const dk_server *s);
/* Stops accepting, cancels what is running and frees everything. */
void dk_server_stop(dk_server *s);

#endif
