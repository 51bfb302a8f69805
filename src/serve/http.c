/* The HTTP front on libmicrohttpd: a thread per connection, routing, API
 * keys, body limits, Server-Sent Events, and noticing clients that left. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "dokja/error.h"
#include "dokja/progress.h"

/* web/chat.html, embedded by page.c */
extern const char dk_page_html[];

struct dk_server {
    struct MHD_Daemon *d;
    dk_lm *lm;
    dk_serve_config cfg;
    dk_sched sched;
    int port;
    atomic_uint_fast64_t http_requests, http_errors, ids;
};

/* One connection's request body as it arrives. */
typedef struct {
    char *body;
    size_t len, cap;
    bool too_large;
} upload;

static enum MHD_Result send_text(dk_server *s, struct MHD_Connection *c, unsigned status, const char *type, char *text)
{
    if (!text) text = strdup("{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    if (!text) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (status == 405) MHD_add_response_header(r, "Allow", "GET, POST");
    if (status >= 400) s->http_errors++;
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(dk_server *s, struct MHD_Connection *c, unsigned status, cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_text(s, c, status, "application/json", text);
}

static enum MHD_Result send_error(dk_server *s, struct MHD_Connection *c, const dk_api_error *e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_text(s, c, (unsigned)e->status, "application/json", dk_api_error_json(e, msg));
}

#define ERR(status, type, code) (&(dk_api_error){status, type, code})

/* A client that closed its connection reads as end of file. */
static bool peer_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    char b;
    if (!ci) return false;
    ssize_t n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Waits (mutex held) until the request has news, checking every 100 ms that
 * the client is still there. Returns false when it left. */
static bool wait_news(dk_sched *sc, dk_req *r, struct MHD_Connection *c, size_t think_seen, size_t text_seen)
{
    while (!r->done && r->think_len == think_seen && r->text_len == text_seen) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&r->changed, &sc->mu, &ts);
        if (!r->done && peer_gone(c)) {
            r->cancelled = true;
            return false;
        }
    }
    return true;
}

typedef struct {
    dk_server *s;
    dk_req *r;
    struct MHD_Connection *c;
    dk_api_ctx ctx;
    size_t think_sent, text_sent;
    bool first, finished;
    char *pending;
    size_t plen, poff;
} sse;

static int sse_add(sse *st, char *json)
{
    if (!json) return -1;
    size_t n = strlen(json);
    char *p = realloc(st->pending, st->plen + n + 9);
    if (!p) {
        free(json);
        return -1;
    }
    st->pending = p;
    st->plen += (size_t)sprintf(p + st->plen, "data: %s\n\n", json);
    free(json);
    return 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse *st = cls;
    dk_sched *sc = &st->s->sched;
    dk_req *r = st->r;
    if (st->poff == st->plen) {
        if (st->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        st->plen = st->poff = 0;
        pthread_mutex_lock(&sc->mu);
        if (!wait_news(sc, r, st->c, st->think_sent, st->text_sent)) {
            pthread_mutex_unlock(&sc->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        char *think = r->think_len > st->think_sent ? strndup(r->think + st->think_sent, r->think_len - st->think_sent) : NULL;
        char *text = r->text_len > st->text_sent ? strndup(r->text + st->text_sent, r->text_len - st->text_sent) : NULL;
        st->think_sent = r->think_len;
        st->text_sent = r->text_len;
        bool done = r->done;
        pthread_mutex_unlock(&sc->mu);
        int rc = 0;
        if (think || text || st->first) rc = sse_add(st, dk_api_chunk(&st->ctx, r, think, text, false, st->first));
        st->first = false;
        if (!rc && done) rc = sse_add(st, dk_api_chunk(&st->ctx, r, NULL, st->ctx.chat ? NULL : "", true, false));
        if (!rc && done) rc = sse_add(st, strdup("[DONE]"));
        free(think);
        free(text);
        if (rc) return MHD_CONTENT_READER_END_WITH_ERROR;
        st->finished = done;
    }
    size_t n = st->plen - st->poff < max ? st->plen - st->poff : max;
    memcpy(buf, st->pending + st->poff, n);
    st->poff += n;
    return (ssize_t)n;
}

/* The connection ended, finished or not: a request still running is cancelled. */
static void sse_free(void *cls)
{
    sse *st = cls;
    dk_req_cancel(&st->s->sched, st->r);
    dk_req_release(&st->s->sched, st->r);
    free(st->pending);
    free(st);
}

static enum MHD_Result generate(dk_server *s, struct MHD_Connection *c, const upload *u, bool chat)
{
    const char *end = NULL;
    cJSON *body = cJSON_ParseWithLengthOpts(u->body ? u->body : "", u->len, &end, false);
    if (!body)
        return send_error(s, c, ERR(400, "invalid_request_error", NULL), "the body is not valid JSON (at byte %ld)",
                          end && u->body ? (long)(end - u->body) : 0L);
    dk_req *r = dk_req_new();
    bool stream = false;
    dk_api_error err;
    if (!r) {
        cJSON_Delete(body);
        return send_error(s, c, ERR(500, "server_error", NULL), "out of memory");
    }
    int rc = dk_api_parse(s->lm, s->sched.context, body, chat, r, &stream, &err);
    cJSON_Delete(body);
    if (rc) {
        dk_req_release(&s->sched, r);
        return send_error(s, c, &err, "%s", dk_error());
    }
    if (dk_sched_submit(&s->sched, r)) {
        dk_req_release(&s->sched, r);
        return send_error(s, c, ERR(429, "rate_limit_error", "queue_full"), "the server is busy: %d requests wait already; try again",
                          s->cfg.queue);
    }
    dk_api_ctx ctx = {.created = time(NULL), .model = s->lm->name, .chat = chat, .stream = stream};
    snprintf(ctx.id, sizeof ctx.id, "%s-%llu", chat ? "chatcmpl" : "cmpl", (unsigned long long)++s->ids);
    if (stream) {
        sse *st = calloc(1, sizeof *st);
        struct MHD_Response *resp = st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, st, sse_free) : NULL;
        if (!resp) {
            if (st) free(st);
            dk_req_cancel(&s->sched, r);
            dk_req_release(&s->sched, r);
            return MHD_NO;
        }
        *st = (sse){.s = s, .r = r, .c = c, .ctx = ctx, .first = true};
        MHD_add_response_header(resp, "Content-Type", "text/event-stream");
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        enum MHD_Result ok = MHD_queue_response(c, 200, resp);
        MHD_destroy_response(resp);
        return ok;
    }
    pthread_mutex_lock(&s->sched.mu);
    bool here = true;
    while (here && !r->done) here = wait_news(&s->sched, r, c, r->think_len, r->text_len);
    pthread_mutex_unlock(&s->sched.mu);
    enum MHD_Result ok = MHD_NO; /* a client that left gets nothing */
    if (here && r->error[0]) ok = send_error(s, c, ERR(500, "server_error", NULL), "%s", r->error);
    else if (here) ok = send_text(s, c, 200, "application/json", dk_api_result(&ctx, r));
    dk_req_release(&s->sched, r);
    return ok;
}

static cJSON *parse_object(const upload *u)
{
    cJSON *b = cJSON_ParseWithLength(u->body ? u->body : "", u->len);
    if (b && !cJSON_IsObject(b)) cJSON_Delete(b), b = NULL;
    return b;
}

static enum MHD_Result tokenize(dk_server *s, struct MHD_Connection *c, const upload *u)
{
    cJSON *b = parse_object(u);
    const cJSON *content = b ? cJSON_GetObjectItemCaseSensitive(b, "content") : NULL,
                *special = b ? cJSON_GetObjectItemCaseSensitive(b, "add_special") : NULL;
    int *ids = NULL, n = 0;
    enum MHD_Result ok;
    if (!cJSON_IsString(content) || (special && !cJSON_IsBool(special)))
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "expected {\"content\": string, \"add_special\": bool}");
    else if (!s->lm->tok)
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "this model has no tokenizer");
    else if (cJSON_IsTrue(special) ? dk_lm_text_prompt(s->lm, content->valuestring, &ids, &n)
                                   : dk_tokenizer_encode(s->lm->tok, content->valuestring, strlen(content->valuestring), false,
                                                         &ids, &n))
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "%s", dk_error());
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "tokens", cJSON_CreateIntArray(ids, n));
        ok = send_json(s, c, 200, o);
    }
    free(ids);
    cJSON_Delete(b);
    return ok;
}

static enum MHD_Result detokenize(dk_server *s, struct MHD_Connection *c, const upload *u)
{
    cJSON *b = parse_object(u);
    const cJSON *tokens = b ? cJSON_GetObjectItemCaseSensitive(b, "tokens") : NULL;
    int *ids = NULL, n = 0;
    char *text = NULL;
    enum MHD_Result ok;
    if (!cJSON_IsArray(tokens))
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "expected {\"tokens\": [ids]}");
    else if (!s->lm->tok)
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "this model has no tokenizer");
    else if (dk_api_ids(tokens, s->lm->model.cfg.vocab_size, &ids, &n, "tokens"))
        ok = send_error(s, c, ERR(400, "invalid_request_error", NULL), "%s", dk_error());
    else if (!(text = dk_tokenizer_decode(s->lm->tok, ids, n, false)))
        ok = send_error(s, c, ERR(500, "server_error", NULL), "out of memory");
    else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "content", text);
        ok = send_json(s, c, 200, o);
    }
    free(text);
    free(ids);
    cJSON_Delete(b);
    return ok;
}

static enum MHD_Result models(dk_server *s, struct MHD_Connection *c)
{
    cJSON *o = cJSON_CreateObject(), *data = cJSON_AddArrayToObject(o, "data"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON_AddItemToArray(data, m);
    cJSON_AddStringToObject(m, "id", s->lm->name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "dokja");
    cJSON_AddNumberToObject(m, "context_length", s->sched.context);
    cJSON_AddBoolToObject(m, "chat", s->lm->chat);
    return send_json(s, c, 200, o);
}

static enum MHD_Result metrics(dk_server *s, struct MHD_Connection *c)
{
    dk_sched *sc = &s->sched;
    pthread_mutex_lock(&sc->mu);
    dk_counters k = sc->c;
    int queued = sc->queued, active = sc->nactive;
    pthread_mutex_unlock(&sc->mu);
    struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        {"dokja_http_requests_total", "counter", "HTTP requests received", (double)s->http_requests},
        {"dokja_http_errors_total", "counter", "responses with a 4xx or 5xx status", (double)s->http_errors},
        {"dokja_generation_requests_total", "counter", "completion and chat requests that reached the queue", (double)k.requests},
        {"dokja_prompt_tokens_total", "counter", "prompt tokens of queued requests", (double)k.prompt_tokens},
        {"dokja_generated_tokens_total", "counter", "tokens generated", (double)k.generated_tokens},
        {"dokja_queue_depth", "gauge", "requests waiting for a slot", queued},
        {"dokja_active_sequences", "gauge", "requests being decoded", active},
        {"dokja_slots", "gauge", "sequences decoded together at most", sc->slots},
        {"dokja_tokens_per_second", "gauge", "generated tokens per second of decoding (all sequences)",
         k.busy_s > 0 ? (double)k.generated_tokens / k.busy_s : 0},
    };
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    for (size_t i = 0; text && len < cap && i < sizeof rows / sizeof *rows; i++)
        len += (size_t)snprintf(text + len, cap - len, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", rows[i].name, rows[i].help,
                                rows[i].name, rows[i].type, rows[i].name, rows[i].v);
    return send_text(s, c, 200, "text/plain; version=0.0.4", text);
}

static bool authorized(dk_server *s, struct MHD_Connection *c)
{
    if (!s->cfg.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7)) return false;
    const char *k = h + 7, *want = s->cfg.api_key;
    size_t n = strlen(want);
    if (strlen(k) != n) return false;
    /* the time taken does not depend on where a wrong key differs */
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(k[i] ^ want[i]);
    return !diff;
}

typedef enum { R_PAGE, R_HEALTH, R_MODELS, R_COMPLETIONS, R_CHAT, R_TOKENIZE, R_DETOKENIZE, R_METRICS } route_id;
static const struct {
    const char *path, *method;
    route_id id;
    bool key;
} routes[] = {
    {"/", "GET", R_PAGE, false},
    {"/health", "GET", R_HEALTH, false},
    {"/metrics", "GET", R_METRICS, false},
    {"/v1/models", "GET", R_MODELS, true},
    {"/v1/completions", "POST", R_COMPLETIONS, true},
    {"/v1/chat/completions", "POST", R_CHAT, true},
    {"/tokenize", "POST", R_TOKENIZE, true},
    {"/detokenize", "POST", R_DETOKENIZE, true},
};

static enum MHD_Result route(dk_server *s, struct MHD_Connection *c, const char *url, const char *method, const upload *u)
{
    s->http_requests++;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        if (strcmp(url, routes[i].path)) continue;
        if (strcmp(method, routes[i].method) && !(routes[i].method[0] == 'G' && !strcmp(method, "HEAD")))
            return send_error(s, c, ERR(405, "invalid_request_error", "method_not_allowed"), "%s %s: use %s", method, url,
                              routes[i].method);
        if (u->too_large)
            return send_error(s, c, ERR(413, "invalid_request_error", "request_too_large"), "the body is over %zu bytes",
                              s->cfg.max_body);
        if (routes[i].key && !authorized(s, c))
            return send_error(s, c, ERR(401, "invalid_request_error", "invalid_api_key"),
                              "a valid API key is needed: Authorization: Bearer KEY");
        switch (routes[i].id) {
        case R_PAGE: return send_text(s, c, 200, "text/html; charset=utf-8", strdup(dk_page_html));
        case R_HEALTH: return send_text(s, c, 200, "application/json", strdup("{\"status\":\"ok\"}"));
        case R_METRICS: return metrics(s, c);
        case R_MODELS: return models(s, c);
        case R_COMPLETIONS: return generate(s, c, u, false);
        case R_CHAT: return generate(s, c, u, true);
        case R_TOKENIZE: return tokenize(s, c, u);
        case R_DETOKENIZE: return detokenize(s, c, u);
        }
    }
    return send_error(s, c, ERR(404, "invalid_request_error", "not_found"), "no such endpoint: %.200s", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                                  const char *data, size_t *size, void **con_cls)
{
    (void)version;
    dk_server *s = cls;
    upload *u = *con_cls;
    if (!u) {
        *con_cls = u = calloc(1, sizeof *u);
        return u ? MHD_YES : MHD_NO;
    }
    if (*size) {
        /* over the limit: the rest is read and dropped, then 413 */
        if (!u->too_large && u->len + *size > s->cfg.max_body) {
            u->too_large = true;
            free(u->body);
            u->body = NULL;
            u->len = u->cap = 0;
        }
        if (!u->too_large) {
            if (u->len + *size + 1 > u->cap) {
                size_t cap = u->cap ? u->cap : 4096;
                while (cap < u->len + *size + 1) cap *= 2;
                char *b = realloc(u->body, cap);
                if (!b) return MHD_NO;
                u->body = b;
                u->cap = cap;
            }
            memcpy(u->body + u->len, data, *size);
            u->len += *size;
            u->body[u->len] = '\0';
        }
        *size = 0;
        return MHD_YES;
    }
    return route(s, c, url, method, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    upload *u = *con_cls;
    if (u) free(u->body);
    free(u);
    *con_cls = NULL;
}

int dk_server_start(dk_server **out, dk_lm *lm, const dk_serve_config *cfg)
{
    dk_server *s = dk_calloc(1, sizeof *s);
    if (!s) return -1;
    s->lm = lm;
    s->cfg = *cfg;
    int ctx = cfg->context > 0 && cfg->context < lm->model.cfg.max_position_embeddings ? cfg->context
                                                                                          : lm->model.cfg.max_position_embeddings;
    if (dk_sched_start(&s->sched, lm, cfg->parallel, cfg->queue, ctx, cfg->threads)) {
        free(s);
        return -1;
    }
    /* the scheduler is stopped and freed on every failure below */
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (inet_pton(AF_INET, cfg->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
    } else if (inet_pton(AF_INET6, cfg->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        flags |= MHD_USE_IPv6;
    } else {
        dk_sched_stop(&s->sched);
        dk_sched_free(&s->sched);
        free(s);
        return dk_fail("--host %s is not an IPv4 or IPv6 address", cfg->host);
    }
    s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT, 256u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_END);
    if (!s->d) {
        dk_sched_stop(&s->sched);
        dk_sched_free(&s->sched);
        free(s);
        return dk_fail("cannot listen on %s port %d (in use, or not allowed)", cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return 0;
}

int dk_server_port(const dk_server *s) { return s->port; }

void dk_server_stop(dk_server *s)
{
    /* no new connections; running requests end (cancelled), so their
     * connection threads return and the daemon can stop */
    MHD_quiesce_daemon(s->d);
    dk_sched_stop(&s->sched);
    MHD_stop_daemon(s->d);
    dk_sched_free(&s->sched);
    free(s);
}
