/* Generation tasks: greedy decoding until a stop string, the model's end of
 * text or max_tokens (dk_eval_reply); the answer is the first group of answer_pattern (or
 * the whole reply), compared with the gold after the spec's ignore
 * patterns, case folding and trimming. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "eval_internal.h"

static pcre2_code *compile(const char *pattern, const char *file)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        dk_fail("%s: regex \"%s\" at offset %zu: %s", file, pattern, (size_t)off, (char *)msg);
    }
    return re;
}

/* The spec's ignore patterns removed, ASCII case folded when asked, trimmed. */
static char *normalize(pcre2_code *const *ignore, int nignore, bool fold, const char *s)
{
    char *cur = strdup(s);
    for (int i = 0; cur && i < nignore; i++) {
        PCRE2_SIZE outlen = strlen(cur) + 1;
        char *out = malloc(outlen);
        int rc = out ? pcre2_substitute(ignore[i], (PCRE2_SPTR)cur, PCRE2_ZERO_TERMINATED, 0,
                                        PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, NULL,
                                        (PCRE2_SPTR) "", 0, (PCRE2_UCHAR *)out, &outlen)
                       : -1;
        free(cur);
        cur = rc >= 0 ? out : NULL;
        if (rc < 0) free(out);
    }
    if (!cur) return NULL;
    size_t a = 0, n = strlen(cur);
    while (a < n && isspace((unsigned char)cur[a])) a++;
    while (n > a && isspace((unsigned char)cur[n - 1])) n--;
    memmove(cur, cur + a, n - a);
    cur[n - a] = '\0';
    for (char *p = cur; fold && *p; p++) *p = (char)tolower((unsigned char)*p);
    return cur;
}

/* The answer in a reply: answer_pattern's first group (or its match); "[invalid]" when it does not match. */
static char *extract(pcre2_code *re, const char *s)
{
    if (!re) return strdup(s);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = md ? pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL) : -1;
    char *out;
    if (rc > 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        int g = rc > 1 && ov[2] != PCRE2_UNSET ? 1 : 0;
        out = strndup(s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    } else out = strdup("[invalid]");
    pcre2_match_data_free(md);
    return out;
}

int dk_eval_gen(dk_eval_ctx *c, cJSON *result)
{
    const dk_task *t = c->t;
    const dk_eval_set *s = c->s;
    int n = s->n, rc = 0, limit = c->m->cfg.max_position_embeddings, V = c->m->cfg.vocab_size;
    int nignore = cJSON_GetArraySize(t->ignore);
    pcre2_code *re = NULL, *ignore[nignore > 0 ? nignore : 1];
    memset(ignore, 0, sizeof ignore);
    if (t->answer_pattern && !(re = compile(t->answer_pattern, t->file))) rc = -1;
    int k = 0;
    for (const cJSON *x = t->ignore ? t->ignore->child : NULL; !rc && x; x = x->next, k++)
        if (!(ignore[k] = compile(x->valuestring, t->file))) rc = -1;
    double *em = dk_malloc(sizeof *em * (size_t)n), *f1 = dk_malloc(sizeof *f1 * (size_t)n);
    dk_sampler smp = {0};
    dk_sampler_config greedy = {.temperature = 0};
    dk_encoder *e = dk_encoder_new(c->tok);
    int *ids = NULL, nids = 0, cap = 0, nstop = 0;
    char *stop[cJSON_GetArraySize(t->stop) + 1];
    for (const cJSON *x = t->stop ? t->stop->child : NULL; x; x = x->next) stop[nstop++] = x->valuestring;
    if (!em || !f1 || !e || dk_sampler_init(&smp, &greedy, V)) rc = -1;
    /* the prompt keeps its last tokens, leaving room to answer */
    int keep = limit - t->max_tokens > limit / 2 ? limit - t->max_tokens : limit / 2;
    for (int i = 0; !rc && i < n; i++) {
        const dk_eval_item *it = &s->items[i];
        rc = dk_eval_encode_prompt(e, c->m->cfg.bos_token_id, it->context, strlen(it->context), &ids, &nids, &cap);
        if (rc) {
            dk_fail_context("%s: row index %d", t->name, it->index);
            break;
        }
        int drop = nids > keep ? nids - keep : 0, made = 0;
        char *reply = NULL;
        if (dk_eval_reply(c->m, c->tok, ids + drop, nids - drop, t->max_tokens, &c->m->cfg.eos_token_id, 1, stop, nstop, &smp,
                          &reply, &made)) {
            rc = -1;
            break;
        }
        char *ans = extract(re, reply), *na = ans ? normalize(ignore, nignore, t->ignore_case, ans) : NULL;
        char *ng = normalize(ignore, nignore, t->ignore_case, it->gold_text);
        if (na && ng) {
            em[i] = !strcmp(na, ng);
            f1[i] = dk_token_f1(na, ng);
            for (int p = 0; p < nids - drop + made; p++) c->flops += dk_score_token_flops(&c->m->cfg, p);
            c->flops += 2.0 * (made + 1) * c->m->cfg.hidden_size * (double)V;
            c->tokens += nids - drop + made;
        } else rc = dk_fail("out of memory");
        cJSON *rec = c->records && !rc ? cJSON_CreateObject() : NULL;
        if (rec) {
            cJSON_AddNumberToObject(rec, "index", it->index);
            if (s->nsubjects > 1) cJSON_AddStringToObject(rec, "subject", s->subjects[it->subject]);
            cJSON_AddStringToObject(rec, "generated", reply);
            cJSON_AddStringToObject(rec, "answer", ans);
            cJSON_AddStringToObject(rec, "gold", it->gold_text);
            cJSON_AddNumberToObject(rec, "exact_match", em[i]);
            if (dk_eval_wants(t, "f1", false)) cJSON_AddNumberToObject(rec, "f1", f1[i]);
            if (drop) cJSON_AddNumberToObject(rec, "truncated", drop);
            cJSON_AddItemToArray(c->records, rec);
        }
        free(ans), free(na), free(ng), free(reply);
        dk_eval_groups_done(c, i + 1);
    }
    const char *names[2];
    double *values[2];
    int nm = 0;
    if (dk_eval_wants(t, "exact_match", true)) names[nm] = "exact_match", values[nm++] = em;
    if (dk_eval_wants(t, "f1", false)) names[nm] = "f1", values[nm++] = f1;
    if (!rc) rc = dk_eval_add_metrics(result, s, names, values, nm);
    if (!rc) cJSON_AddNumberToObject(result, "random_baseline", 0);
    c->done = n;
    free(em), free(f1), free(ids);
    dk_encoder_free(e);
    dk_sampler_free(&smp);
    pcre2_code_free(re);
    for (int i = 0; i < nignore; i++) pcre2_code_free(ignore[i]);
    return rc;
}
