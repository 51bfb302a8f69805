/* The OpenAI API's requests (JSON -> a dk_req) and responses (JSON text). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokja/error.h"

/* "stop": a string or an array of strings. */
static int parse_stop(dk_req *r, const cJSON *stop)
{
    if (!stop || cJSON_IsNull(stop)) return 0;
    int n = cJSON_IsString(stop) ? 1 : cJSON_IsArray(stop) ? cJSON_GetArraySize(stop) : -1;
    if (n < 0 || n > 16) return dk_fail("'stop' must be a string or an array of at most 16 strings");
    r->stop = dk_calloc((size_t)(n ? n : 1), sizeof *r->stop);
    if (!r->stop) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsString(stop) ? stop : cJSON_GetArrayItem(stop, i);
        if (!cJSON_IsString(s) || !s->valuestring[0]) return dk_fail("'stop' items must be non-empty strings");
        if (!(r->stop[r->nstop++] = strdup(s->valuestring))) return dk_fail("out of memory");
    }
    return 0;
}

/* A message's content: a string, or an array of {"type":"text","text":...} parts. */
static char *message_text(const cJSON *content)
{
    if (cJSON_IsString(content)) return strdup(content->valuestring);
    if (!cJSON_IsArray(content)) return NULL;
    size_t len = 0;
    char *out = calloc(1, 1);
    const cJSON *part;
    cJSON_ArrayForEach(part, content)
    {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!out || !cJSON_IsString(text)) {
            free(out);
            return NULL;
        }
        size_t n = strlen(text->valuestring);
        char *grown = realloc(out, len + n + 1);
        if (!grown) {
            free(out);
            return NULL;
        }
        out = grown;
        memcpy(out + len, text->valuestring, n + 1);
        len += n;
    }
    return out;
}

static int chat_prompt(const dk_lm *lm, dk_req *r, const cJSON *messages)
{
    if (!cJSON_IsArray(messages) || !cJSON_GetArraySize(messages)) return dk_fail("'messages' must be a non-empty array");
    int n = cJSON_GetArraySize(messages), rc = 0, made = 0;
    dk_chat_msg *msgs = dk_calloc((size_t)n, sizeof *msgs);
    if (!msgs) return -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const char *rs = cJSON_IsString(role) ? role->valuestring : "";
        dk_role ro = !strcmp(rs, "system") || !strcmp(rs, "developer") ? DK_ROLE_SYSTEM
                     : !strcmp(rs, "user")                              ? DK_ROLE_USER
                     : !strcmp(rs, "assistant")                         ? DK_ROLE_ASSISTANT
                                                                        : (dk_role)-1;
        if ((int)ro < 0) {
            rc = dk_fail("messages[%d].role must be system, user or assistant", made);
            break;
        }
        char *text = message_text(cJSON_GetObjectItemCaseSensitive(m, "content"));
        if (!text) {
            rc = dk_fail("messages[%d].content must be a string or an array of text parts", made);
            break;
        }
        msgs[made++] = (dk_chat_msg){ro, text};
    }
    if (!rc) rc = dk_lm_chat_prompt(lm, msgs, made, r->reasoning, &r->prompt, &r->n);
    for (int i = 0; i < made; i++) free(msgs[i].content);
    free(msgs);
    return rc;
}

/* "prompt": a string, an array holding one string, or an array of token ids. */
static int text_prompt(const dk_lm *lm, dk_req *r, const cJSON *prompt)
{
    if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) == 1 && cJSON_IsString(cJSON_GetArrayItem(prompt, 0)))
        prompt = cJSON_GetArrayItem(prompt, 0);
    if (cJSON_IsString(prompt)) return dk_lm_text_prompt(lm, prompt->valuestring, &r->prompt, &r->n);
    if (!cJSON_IsArray(prompt) || !cJSON_GetArraySize(prompt))
        return dk_fail("'prompt' must be a string or a non-empty array of token ids");
    return dk_api_ids(prompt, lm->model.cfg.vocab_size, &r->prompt, &r->n, "prompt");
}

int dk_api_ids(const cJSON *arr, int V, int **ids, int *n, const char *what)
{
    int count = cJSON_GetArraySize(arr), i = 0;
    *ids = dk_malloc(sizeof **ids * (size_t)(count ? count : 1));
    if (!*ids) return -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, arr)
    {
        /* the range first: converting a huge double to int is undefined */
        if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble < V) || t->valuedouble != (double)(int)t->valuedouble) {
            free(*ids);
            *ids = NULL;
            return dk_fail("'%s'[%d] is not a token id of this model (0..%d)", what, i, V - 1);
        }
        (*ids)[i++] = t->valueint;
    }
    *n = count;
    return 0;
}

/* "reasoning": true/false or an object ({"effort": ...}: on); "reasoning_effort": a string ("none": off). */
static int parse_reasoning(const cJSON *body, bool *on)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(body, "reasoning"),
                *e = cJSON_GetObjectItemCaseSensitive(body, "reasoning_effort");
    if (r && !cJSON_IsNull(r)) {
        if (!cJSON_IsBool(r) && !cJSON_IsObject(r)) return dk_fail("'reasoning' must be true, false or an object");
        *on = !cJSON_IsFalse(r);
    } else if (e && !cJSON_IsNull(e)) {
        if (!cJSON_IsString(e)) return dk_fail("'reasoning_effort' must be a string");
        *on = strcmp(e->valuestring, "none") != 0;
    }
    return 0;
}

int dk_api_parse(const dk_lm *lm, int context, const cJSON *body, bool chat, dk_req *r, bool *stream, dk_api_error *err)
{
    *err = (dk_api_error){400, "invalid_request_error", NULL};
    if (!cJSON_IsObject(body)) return dk_fail("the body must be a JSON object");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model"), *st = cJSON_GetObjectItemCaseSensitive(body, "stream"),
                *n = cJSON_GetObjectItemCaseSensitive(body, "n");
    if (model && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model)) return dk_fail("'model' must be a string");
        if (strcmp(model->valuestring, lm->name)) {
            *err = (dk_api_error){404, "invalid_request_error", "model_not_found"};
            return dk_fail("the model '%.100s' does not exist; this server has '%s'", model->valuestring, lm->name);
        }
    }
    if (st && !cJSON_IsNull(st) && !cJSON_IsBool(st)) return dk_fail("'stream' must be true or false");
    *stream = cJSON_IsTrue(st);
    if (n && !cJSON_IsNull(n) && !(cJSON_IsNumber(n) && n->valuedouble == 1)) return dk_fail("only 'n': 1 is supported");
    /* OpenAI's defaults */
    dk_sampler_config sc = {.temperature = 1.0, .top_p = 1.0};
    if (dk_fields_from_json(dk_sampler_fields, &sc, body, "request") || dk_sampler_config_check(&sc)) return -1;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_completion_tokens");
    if (!mt || cJSON_IsNull(mt)) mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    r->gen.max_new = chat ? context : 16;
    if (mt && !cJSON_IsNull(mt)) {
        if (!cJSON_IsNumber(mt) || !(mt->valuedouble >= 0 && mt->valuedouble <= 1e9) || mt->valuedouble != (double)(int)mt->valuedouble)
            return dk_fail("'max_tokens' must be a non-negative integer");
        r->gen.max_new = mt->valueint;
    }
    r->chat = chat;
    if (parse_stop(r, cJSON_GetObjectItemCaseSensitive(body, "stop")) || (chat && parse_reasoning(body, &r->reasoning)))
        return -1;
    if (chat ? chat_prompt(lm, r, cJSON_GetObjectItemCaseSensitive(body, "messages"))
             : text_prompt(lm, r, cJSON_GetObjectItemCaseSensitive(body, "prompt")))
        return -1;
    if (r->n >= context) {
        err->code = "context_length_exceeded";
        return dk_fail("the prompt has %d tokens; the context is %d", r->n, context);
    }
    return dk_sampler_init(&r->sampler, &sc, lm->model.cfg.vocab_size);
}

char *dk_api_error_json(const dk_api_error *e, const char *message)
{
    cJSON *o = cJSON_CreateObject(), *er = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(er, "message", message);
    cJSON_AddStringToObject(er, "type", e->type);
    cJSON_AddNullToObject(er, "param");
    if (e->code) cJSON_AddStringToObject(er, "code", e->code);
    else cJSON_AddNullToObject(er, "code");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static const char *finish_name(dk_finish f) { return f == DK_FINISH_LENGTH ? "length" : "stop"; }

static void add_usage(cJSON *o, const dk_req *r)
{
    cJSON *u = cJSON_AddObjectToObject(o, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", r->n);
    cJSON_AddNumberToObject(u, "completion_tokens", r->tokens);
    cJSON_AddNumberToObject(u, "total_tokens", r->n + r->tokens);
}

cJSON *dk_api_envelope(const dk_api_ctx *c, const char *object)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)c->created);
    cJSON_AddStringToObject(o, "model", c->model);
    return o;
}

/* One choice: a chat message or delta, or a completion's text. Deltas
 * (think/text) are the new text; NULL parts are left out. */
static void add_choice(cJSON *o, const dk_api_ctx *c, const char *think, const char *text, const char *finish, bool first)
{
    cJSON *choices = cJSON_AddArrayToObject(o, "choices"), *ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    if (c->chat) {
        cJSON *msg = cJSON_AddObjectToObject(ch, c->stream ? "delta" : "message");
        if (first || !c->stream) cJSON_AddStringToObject(msg, "role", "assistant");
        if (text) cJSON_AddStringToObject(msg, "content", text);
        if (think) cJSON_AddStringToObject(msg, "reasoning_content", think);
    } else {
        cJSON_AddStringToObject(ch, "text", text ? text : "");
        cJSON_AddNullToObject(ch, "logprobs");
    }
    if (finish) cJSON_AddStringToObject(ch, "finish_reason", finish);
    else cJSON_AddNullToObject(ch, "finish_reason");
}

char *dk_api_result(const dk_api_ctx *c, const dk_req *r)
{
    cJSON *o = dk_api_envelope(c, c->chat ? "chat.completion" : "text_completion");
    add_choice(o, c, r->think_len || r->reasoning ? (r->think ? r->think : "") : NULL, r->text ? r->text : "",
               finish_name(r->finish), true);
    add_usage(o, r);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *dk_api_chunk(const dk_api_ctx *c, const dk_req *r, const char *think, const char *text, bool last, bool first)
{
    cJSON *o = dk_api_envelope(c, c->chat ? "chat.completion.chunk" : "text_completion");
    add_choice(o, c, think, text, last ? finish_name(r->finish) : NULL, first);
    if (last) add_usage(o, r);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
