/* The arena's web server on libmicrohttpd: one internal thread answers
 * every request in turn, so the models and the database are used by one
 * request at a time. Pages are web/arena.html and web/expert.html (inside
 * the binary) rendered with the template code of task specs; forms post
 * back, and a bad post gets a 400 page saying what was wrong. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "arena_internal.h"
#include "dokja/data.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/lm.h"
#include "dokja/rng.h"
#include "dokja/sha256.h"
#include "eval_internal.h"

/* web/arena.html and web/expert.html, embedded by arena_pages.c */
extern const char dk_arena_page_html[], dk_expert_page_html[];

char *const dk_arena_default_criteria[] = {"accuracy", "korean_fluency", "cultural_fit", "safety"};
const int dk_arena_default_ncriteria = 4;

#define MAX_BODY 65536

typedef struct {
    dk_lm lm;
    int64_t id;
    char *name;
} arena_model;

typedef struct {
    const dk_arena_config *cfg;
    dk_arena *db;
    arena_model *models;
    int nmodels;
    int64_t *prompts;
    char **prompt_text;
    int nprompts;
    dk_rng rng;
    char settings[160];
} arena;

/* One request's form fields as they arrive. */
typedef struct {
    struct MHD_PostProcessor *pp;
    cJSON *form;
    size_t bytes;
    bool too_large;
} request;

/* ---- answers ---- */

/* The stored answer of a model to a prompt, generated the first time. */
static int answer(arena *A, int mi, int pi, int64_t *id, char **text)
{
    arena_model *m = &A->models[mi];
    int found = dk_arena_get_answer(A->db, m->id, A->prompts[pi], id, text);
    if (found) return found < 0 ? -1 : 0;
    int *ids = NULL, n = 0, made = 0, rc;
    dk_chat_msg msg = {DK_ROLE_USER, A->prompt_text[pi]};
    rc = m->lm.chat ? dk_lm_chat_prompt(&m->lm, &msg, 1, false, &ids, &n) : dk_lm_text_prompt(&m->lm, A->prompt_text[pi], &ids, &n);
    /* a prompt longer than the context keeps its end, leaving room to answer */
    int ctx = m->lm.model.cfg.max_position_embeddings, keep = ctx / 2, drop = n > keep ? n - keep : 0;
    dk_sampler s = {0};
    dk_sampler_config sc = {.temperature = A->cfg->temperature, .top_p = 1,
                            .seed = A->cfg->seed ^ (uint64_t)m->id << 32 ^ (uint64_t)A->prompts[pi]};
    if (!rc) rc = dk_sampler_init(&s, &sc, m->lm.model.cfg.vocab_size);
    if (!rc) rc = dk_eval_reply(&m->lm.model, m->lm.tok, ids + drop, n - drop, A->cfg->max_new_tokens, m->lm.stop_ids,
                                m->lm.chat ? 2 : 1, NULL, 0, &s, text, &made);
    if (!rc && dk_arena_put_answer(A->db, m->id, A->prompts[pi], *text, A->settings, id)) {
        free(*text);
        rc = -1;
    }
    dk_sampler_free(&s);
    free(ids);
    return rc;
}

/* ---- responses ---- */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type, char *body, const char *cookie,
                               const char *location)
{
    if (!body) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 405) MHD_add_response_header(r, "Allow", "GET, POST");
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    if (location) MHD_add_response_header(r, "Location", location);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* A page from a template over fields; a failure to render is a 500 with the message. */
static enum MHD_Result page(struct MHD_Connection *c, unsigned status, const char *tmpl, const cJSON *fields, const char *cookie)
{
    char *html = NULL;
    if (dk_template_render(tmpl, fields, "page", &html)) return respond(c, 500, "text/plain; charset=utf-8", strdup(dk_error()), NULL, NULL);
    return respond(c, status, "text/html; charset=utf-8", html, cookie, NULL);
}

static enum MHD_Result problem(struct MHD_Connection *c, unsigned status, const char *message, const char *back)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "message", message);
    cJSON_AddStringToObject(f, "back", back);
    enum MHD_Result r = page(c, status,
                             "<!doctype html><html><head><meta charset=\"utf-8\"><title>dokja arena: not stored</title></head>"
                             "<body><p id=\"error\" class=\"error\">{{message|html}}</p><p><a href=\"{{back|html}}\">back</a></p>"
                             "</body></html>",
                             f, NULL);
    cJSON_Delete(f);
    return r;
}

/* ---- raters ---- */

/* The rater: ?rater=NAME (kept in a cookie), the cookie, or a new random id. */
static void rater_of(struct MHD_Connection *c, char out[48], char cookie[96])
{
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rater");
    const char *k = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "dokja_rater");
    const char *name = q && *q ? q : k;
    cookie[0] = '\0';
    if (name && *name && strlen(name) < 41 && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(name)) {
        snprintf(out, 48, "%s", name);
        if (name == q) snprintf(cookie, 96, "dokja_rater=%s; Path=/; Max-Age=31536000; SameSite=Lax", out);
        return;
    }
    unsigned char r[8] = {0};
    if (getrandom(r, sizeof r, 0) != sizeof r) r[0] = 1;
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
    snprintf(cookie, 96, "dokja_rater=%s; Path=/; Max-Age=31536000; SameSite=Lax", out);
}

static void add_counts(arena *A, cJSON *f, const char *rater, bool votes)
{
    int64_t v = 0, rv = 0, r = 0, rr = 0;
    dk_arena_counts(A->db, rater, &v, &rv, &r, &rr);
    cJSON_AddNumberToObject(f, votes ? "votes" : "reviews", (double)(votes ? v : r));
    cJSON_AddNumberToObject(f, votes ? "rater_votes" : "rater_reviews", (double)(votes ? rv : rr));
    cJSON_AddStringToObject(f, "rater", rater);
}

/* ---- pages ---- */

static enum MHD_Result vote_page(arena *A, struct MHD_Connection *c)
{
    char rater[48], cookie[96], token[33], *ta = NULL, *tb = NULL;
    rater_of(c, rater, cookie);
    /* a random prompt, two different models in a random order */
    int pi = (int)dk_rng_below(&A->rng, (uint64_t)A->nprompts), x = (int)dk_rng_below(&A->rng, (uint64_t)A->nmodels);
    int y = (x + 1 + (int)dk_rng_below(&A->rng, (uint64_t)(A->nmodels - 1))) % A->nmodels;
    int64_t ia, ib;
    if (answer(A, x, pi, &ia, &ta) || answer(A, y, pi, &ib, &tb) || dk_arena_new_battle(A->db, rater, A->prompts[pi], ia, ib, token)) {
        free(ta), free(tb);
        return respond(c, 500, "text/plain; charset=utf-8", strdup(dk_error()), NULL, NULL);
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "prompt", A->prompt_text[pi]);
    cJSON_AddStringToObject(f, "answer_a", ta);
    cJSON_AddStringToObject(f, "answer_b", tb);
    cJSON_AddStringToObject(f, "token", token);
    add_counts(A, f, rater, true);
    /* after a vote: what it was and which models were behind A and B */
    const char *voted = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "voted");
    char *ma = NULL, *mb = NULL, *v = NULL, *notice = NULL;
    if (voted && dk_arena_reveal(A->db, voted, &ma, &mb, &v) == 1)
        notice = dk_strdupf("Your vote (%s) is stored: A was %s, B was %s.", !strcmp(v, "a") ? "A is better" : !strcmp(v, "b") ? "B is better" : !strcmp(v, "tie") ? "tie" : "both are bad", ma, mb);
    cJSON_AddStringToObject(f, "notice", notice ? notice : "");
    cJSON_AddStringToObject(f, "notice_class", notice ? "" : "hidden");
    enum MHD_Result r = page(c, 200, dk_arena_page_html, f, cookie[0] ? cookie : NULL);
    free(ta), free(tb), free(ma), free(mb), free(v), free(notice);
    cJSON_Delete(f);
    return r;
}

static char *rubric_html(const dk_arena_config *cfg)
{
    dk_buf b = {0};
    for (int i = 0; i < cfg->ncriteria; i++) {
        cJSON *f = cJSON_CreateObject();
        char *label = strdup(cfg->criteria[i]), *html = NULL;
        for (char *p = label; p && *p; p++)
            if (*p == '_') *p = ' ';
        cJSON_AddStringToObject(f, "name", cfg->criteria[i]);
        cJSON_AddStringToObject(f, "label", label ? label : "");
        if (!dk_template_render("<fieldset class=\"criterion\"><legend>{{label|html}}</legend>"
                                "<label><input type=\"radio\" name=\"score_{{name|html}}\" value=\"1\" required> 1</label>"
                                "<label><input type=\"radio\" name=\"score_{{name|html}}\" value=\"2\"> 2</label>"
                                "<label><input type=\"radio\" name=\"score_{{name|html}}\" value=\"3\"> 3</label>"
                                "<label><input type=\"radio\" name=\"score_{{name|html}}\" value=\"4\"> 4</label>"
                                "<label><input type=\"radio\" name=\"score_{{name|html}}\" value=\"5\"> 5</label></fieldset>\n",
                                f, "rubric", &html))
            dk_buf_put(&b, html, strlen(html));
        free(html);
        free(label);
        cJSON_Delete(f);
    }
    dk_buf_put(&b, "", 0);
    return b.p;
}

static enum MHD_Result expert_page(arena *A, struct MHD_Connection *c)
{
    char rater[48], cookie[96], token[33], *text = NULL;
    rater_of(c, rater, cookie);
    int pi = (int)dk_rng_below(&A->rng, (uint64_t)A->nprompts), mi = (int)dk_rng_below(&A->rng, (uint64_t)A->nmodels);
    int64_t id;
    if (answer(A, mi, pi, &id, &text) || dk_arena_new_battle(A->db, rater, A->prompts[pi], id, 0, token)) {
        free(text);
        return respond(c, 500, "text/plain; charset=utf-8", strdup(dk_error()), NULL, NULL);
    }
    cJSON *f = cJSON_CreateObject();
    char *rubric = rubric_html(A->cfg);
    cJSON_AddStringToObject(f, "prompt", A->prompt_text[pi]);
    cJSON_AddStringToObject(f, "answer", text);
    cJSON_AddStringToObject(f, "token", token);
    cJSON_AddStringToObject(f, "rubric", rubric ? rubric : "");
    add_counts(A, f, rater, false);
    bool done = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "done") != NULL;
    cJSON_AddStringToObject(f, "notice", done ? "Your review is stored." : "");
    cJSON_AddStringToObject(f, "notice_class", done ? "" : "hidden");
    enum MHD_Result r = page(c, 200, dk_expert_page_html, f, cookie[0] ? cookie : NULL);
    free(text), free(rubric);
    cJSON_Delete(f);
    return r;
}

static const char *field(const request *q, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q->form, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static enum MHD_Result store_vote(arena *A, struct MHD_Connection *c, const request *q)
{
    char rater[48], cookie[96];
    rater_of(c, rater, cookie);
    const char *token = field(q, "token"), *vote = field(q, "vote");
    if (!token || !vote) return problem(c, 400, "a vote needs the fields \"token\" and \"vote\"", "/");
    int rc = dk_arena_vote(A->db, token, rater, vote);
    if (rc) return problem(c, rc > 0 ? 400 : 500, dk_error(), "/");
    char *loc = dk_strdupf("/?voted=%s", token);
    enum MHD_Result r = respond(c, 303, "text/plain; charset=utf-8", strdup("stored\n"), NULL, loc);
    free(loc);
    return r;
}

static enum MHD_Result store_review(arena *A, struct MHD_Connection *c, const request *q)
{
    char rater[48], cookie[96];
    rater_of(c, rater, cookie);
    const char *token = field(q, "token"), *comment = field(q, "comment");
    if (!token) return problem(c, 400, "a review needs the field \"token\"", "/expert");
    int n = A->cfg->ncriteria, scores[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "score_%s", A->cfg->criteria[i]);
        const char *v = field(q, key);
        char *end = NULL;
        long s = v ? strtol(v, &end, 10) : 0;
        scores[i] = v && *v && !*end && s >= 1 && s <= 5 ? (int)s : 0;
    }
    int rc = dk_arena_review(A->db, token, rater, A->cfg->criteria, scores, n, comment ? comment : "");
    if (rc) return problem(c, rc > 0 ? 400 : 500, dk_error(), "/expert");
    return respond(c, 303, "text/plain; charset=utf-8", strdup("stored\n"), NULL, "/expert?done=1");
}

/* ---- the daemon ---- */

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename, const char *type,
                                  const char *encoding, const char *data, uint64_t off, size_t size)
{
    (void)kind, (void)filename, (void)type, (void)encoding;
    request *q = cls;
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(q->form, key);
    char *val = dk_strdupf("%s%.*s", off && cJSON_IsString(old) ? old->valuestring : "", (int)size, data);
    if (!val) return MHD_NO;
    cJSON_DeleteItemFromObjectCaseSensitive(q->form, key);
    cJSON_AddStringToObject(q->form, key, val);
    free(val);
    return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                              const char *data, size_t *size, void **state)
{
    (void)version;
    arena *A = cls;
    bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool known = !strcmp(url, "/") || !strcmp(url, "/expert") || !strcmp(url, "/vote") || !strcmp(url, "/summary.json");
    request *q = *state;
    if (!q) {
        /* the first call only sets up the request */
        if (!(q = calloc(1, sizeof *q)) || !(q->form = cJSON_CreateObject())) {
            free(q);
            return MHD_NO;
        }
        if (post) q->pp = MHD_create_post_processor(c, 4096, post_field, q);
        *state = q;
        return MHD_YES;
    }
    if (post && *size) {
        q->bytes += *size;
        if (q->bytes > MAX_BODY) q->too_large = true;
        else if (q->pp) MHD_post_process(q->pp, data, *size);
        *size = 0;
        return MHD_YES;
    }
    if (!known) return problem(c, 404, "no such page", "/");
    if (post && q->too_large) return problem(c, 413, "the form is too large", "/");
    if (post && !q->pp) return problem(c, 400, "send the form as application/x-www-form-urlencoded or multipart/form-data", "/");
    if (get && !strcmp(url, "/")) return vote_page(A, c);
    if (get && !strcmp(url, "/expert")) return expert_page(A, c);
    if (get && !strcmp(url, "/summary.json")) {
        cJSON *s = NULL;
        if (dk_arena_summary(A->db, 0, 0, &s)) return respond(c, 500, "text/plain; charset=utf-8", strdup(dk_error()), NULL, NULL);
        char *text = cJSON_PrintUnformatted(s);
        cJSON_Delete(s);
        return respond(c, 200, "application/json", text, NULL, NULL);
    }
    if (post && !strcmp(url, "/vote")) return store_vote(A, c, q);
    if (post && !strcmp(url, "/expert")) return store_review(A, c, q);
    return problem(c, 405, "this page does not take that method", "/");
}

static void done_request(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    request *q = *state;
    if (!q) return;
    if (q->pp) MHD_destroy_post_processor(q->pp);
    cJSON_Delete(q->form);
    free(q);
    *state = NULL;
}

/* Models, prompts and the database, registered before serving. */
static int setup(arena *A, const dk_arena_config *cfg)
{
    if (cfg->nmodels < 2) return dk_fail("the arena needs at least two models");
    if (dk_arena_open(&A->db, cfg->db)) return -1;
    A->models = dk_calloc((size_t)cfg->nmodels, sizeof *A->models);
    if (!A->models) return -1;
    for (int i = 0; i < cfg->nmodels; i++, A->nmodels++) {
        arena_model *m = &A->models[i];
        char sha[DK_SHA256_HEX], *w = dk_path_join(cfg->models[i], "model.safetensors");
        int bad = !w || dk_lm_open(&m->lm, cfg->models[i]) || dk_sha256_file(w, sha);
        free(w);
        if (bad) return dk_fail_context("model %s", cfg->models[i]);
        if (!m->lm.tok) return dk_fail("model %s has no tokenizer.json", cfg->models[i]);
        /* named as given, without a trailing slash */
        m->name = strdup(cfg->models[i]);
        for (size_t l = m->name ? strlen(m->name) : 0; l > 1 && m->name[l - 1] == '/';) m->name[--l] = '\0';
        if (!m->name || dk_arena_add_model(A->db, m->name, cfg->models[i], sha, &m->id)) return -1;
        for (int j = 0; j < i; j++)
            if (A->models[j].id == m->id) return dk_fail("models %s and %s have the same weights", A->models[j].name, m->name);
    }
    /* prompts: a JSONL file with "prompt" fields, or a text file with one per line */
    cJSON *rows = NULL;
    size_t pl = strlen(cfg->prompts);
    bool jsonl = pl > 6 && !strcmp(cfg->prompts + pl - 6, ".jsonl");
    if (dk_table_read(cfg->prompts, jsonl ? "jsonl" : "lines", NULL, &rows)) return -1;
    int n = cJSON_GetArraySize(rows), line = 0;
    A->prompts = dk_calloc((size_t)(n ? n : 1), sizeof *A->prompts);
    A->prompt_text = dk_calloc((size_t)(n ? n : 1), sizeof *A->prompt_text);
    for (cJSON *r = rows->child; r && A->prompts && A->prompt_text; r = r->next) {
        line++;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, jsonl ? "prompt" : "text");
        if (!cJSON_IsString(t)) {
            cJSON_Delete(rows);
            return dk_fail("%s: line %d: no string \"prompt\"", cfg->prompts, line);
        }
        if (!*t->valuestring) continue;
        if (!(A->prompt_text[A->nprompts] = strdup(t->valuestring)) ||
            dk_arena_add_prompt(A->db, t->valuestring, &A->prompts[A->nprompts])) {
            cJSON_Delete(rows);
            return -1;
        }
        A->nprompts++;
    }
    cJSON_Delete(rows);
    if (!A->nprompts) return dk_fail("%s: no prompts", cfg->prompts);
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = (uint64_t)A->nprompts;
    dk_rng_seed(&A->rng, seed);
    snprintf(A->settings, sizeof A->settings, "{\"temperature\":%g,\"max_new_tokens\":%d,\"seed\":%llu}", cfg->temperature,
             cfg->max_new_tokens, (unsigned long long)cfg->seed);
    return 0;
}

static void teardown(arena *A)
{
    for (int i = 0; i < A->nmodels; i++) {
        dk_lm_close(&A->models[i].lm);
        free(A->models[i].name);
    }
    for (int i = 0; i < A->nprompts; i++) free(A->prompt_text[i]);
    free(A->models), free(A->prompts), free(A->prompt_text);
    dk_arena_close(A->db);
}

int dk_arena_serve(const dk_arena_config *cfg)
{
    arena A = {.cfg = cfg};
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) return dk_fail("--host %s: not an IPv4 address", cfg->host);
    if (setup(&A, cfg)) {
        teardown(&A);
        return -1;
    }
    /* SIGINT and SIGTERM wait for sigwait below, in this thread only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, &A, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, done_request, &A, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                                            MHD_OPTION_END);
    if (!d) {
        teardown(&A);
        return dk_fail("cannot listen on %s:%d (is the port taken?)", cfg->host, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("arena: http://%s:%u/ (votes), /expert (reviews); %d models, %d prompts, database %s\n", cfg->host,
           info ? info->port : (unsigned)cfg->port, A.nmodels, A.nprompts, cfg->db);
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    teardown(&A);
    fprintf(stderr, "arena: stopped\n");
    return 0;
}
