/* Running a task: the kind's scorer, then the result object every kind
 * shares (n, metrics with standard errors, per-subject metrics, baseline,
 * records and timing). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "eval_internal.h"

bool dk_eval_wants(const dk_task *t, const char *metric, bool by_default)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(t->spec, "metrics");
    if (!want) return by_default;
    for (const cJSON *w = want->child; w; w = w->next)
        if (!strcmp(w->valuestring, metric)) return true;
    return false;
}

cJSON *dk_eval_metric(cJSON *metrics, const char *name, double value, double se)
{
    cJSON *m = cJSON_AddObjectToObject(metrics, name);
    if (m) {
        cJSON_AddNumberToObject(m, "value", value);
        cJSON_AddNumberToObject(m, "stderr", se);
    }
    return m;
}

int dk_eval_add_metrics(cJSON *result, const dk_eval_set *s, const char *const *names, double *const *values, int nmetrics)
{
    cJSON *metrics = cJSON_AddObjectToObject(result, "metrics");
    cJSON *subjects = s->nsubjects > 1 ? cJSON_AddObjectToObject(result, "subjects") : NULL;
    double *x = dk_malloc(sizeof *x * (size_t)(s->n ? s->n : 1));
    if (!metrics || !x || (s->nsubjects > 1 && !subjects)) {
        free(x);
        return dk_fail("out of memory");
    }
    for (int k = 0; k < nmetrics; k++) {
        dk_eval_metric(metrics, names[k], dk_mean(values[k], s->n), dk_mean_se(values[k], s->n));
        if (!subjects) continue;
        /* items are in subject order: each subject is one run of them */
        double macro = 0, var = 0;
        for (int si = 0, i = 0; si < s->nsubjects; si++) {
            int n = 0;
            for (; i < s->n && s->items[i].subject == si; i++) x[n++] = values[k][i];
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(subjects, s->subjects[si]);
            if (!sub && (sub = cJSON_AddObjectToObject(subjects, s->subjects[si]))) cJSON_AddNumberToObject(sub, "n", n);
            cJSON *sm = sub ? cJSON_GetObjectItemCaseSensitive(sub, "metrics") : NULL;
            if (sub && !sm) sm = cJSON_AddObjectToObject(sub, "metrics");
            double mu = dk_mean(x, n), se = dk_mean_se(x, n);
            if (sm) dk_eval_metric(sm, names[k], mu, se);
            macro += mu / s->nsubjects;
            var += se * se;
        }
        char name[64];
        snprintf(name, sizeof name, "%s_macro", names[k]);
        dk_eval_metric(metrics, name, macro, sqrt(var) / s->nsubjects);
    }
    free(x);
    return 0;
}

void dk_eval_groups_done(void *user, int groups)
{
    dk_eval_ctx *c = user;
    char text[64], json[64];
    double el = dk_now() - c->progress.start;
    snprintf(text, sizeof text, "%.1f rows/s", el > 0 ? (c->done + groups) / el : 0);
    snprintf(json, sizeof json, "\"rows_per_s\":%.2f", el > 0 ? (c->done + groups) / el : 0);
    dk_progress_update(&c->progress, c->done + groups, text, json);
}

int dk_eval_encode_prompt(dk_encoder *e, int bos, const char *text, size_t len, int **ids, int *n, int *cap)
{
    *n = 0;
    if (*cap < 1) {
        int *g = realloc(*ids, sizeof *g * 64);
        if (!g) return dk_fail("out of memory");
        *ids = g;
        *cap = 64;
    }
    (*ids)[(*n)++] = bos;
    return dk_encoder_encode(e, text, len, false, ids, n, cap);
}

int dk_eval_run(dk_model *m, const dk_tokenizer *tok, const dk_task *t, const dk_eval_set *s, const dk_eval_options *o,
                cJSON **out)
{
    dk_eval_ctx c = {.m = m, .tok = tok, .t = t, .s = s, .o = o};
    cJSON *r = cJSON_CreateObject();
    if (!r) return dk_fail("out of memory");
    static const char *const kinds[] = {"mc", "gen", "bpb"};
    cJSON_AddStringToObject(r, "kind", kinds[t->kind]);
    cJSON_AddStringToObject(r, "spec", t->file);
    cJSON_AddStringToObject(r, "spec_sha256", t->sha256);
    cJSON_AddNumberToObject(r, "n", s->n);
    if (o->records) c.records = cJSON_AddArrayToObject(r, "records");
    dk_progress_start(&c.progress, t->name, s->n);
    double t0 = dk_now();
    int rc = t->kind == DK_TASK_MC ? dk_eval_mc(&c, r) : t->kind == DK_TASK_GEN ? dk_eval_gen(&c, r) : dk_eval_bpb(&c, r);
    double dt = dk_now() - t0;
    dk_progress_finish(&c.progress);
    if (!rc && t->baseline >= 0) cJSON_ReplaceItemInObjectCaseSensitive(r, "random_baseline", cJSON_CreateNumber(t->baseline));
    cJSON *tm = rc ? NULL : cJSON_AddObjectToObject(r, "timing");
    if (tm) {
        cJSON_AddNumberToObject(tm, "seconds", dt);
        cJSON_AddNumberToObject(tm, "rows_per_s", dt > 0 ? s->n / dt : 0);
        cJSON_AddNumberToObject(tm, "tokens", (double)c.tokens);
        cJSON_AddNumberToObject(tm, "tokens_per_s", dt > 0 ? c.tokens / dt : 0);
        cJSON_AddNumberToObject(tm, "flops_per_s", dt > 0 ? c.flops / dt : 0);
    }
    if (rc) {
        cJSON_Delete(r);
        return -1;
    }
    *out = r;
    return 0;
}

/* One line per metric; macro averages and a baseline where there is one. */
void dk_eval_print(FILE *f, const cJSON *tasks)
{
    int w = 4;
    for (const cJSON *t = tasks ? tasks->child : NULL; t; t = t->next) w = (int)strlen(t->string) > w ? (int)strlen(t->string) : w;
    fprintf(f, "%-*s %7s  %-16s %8s %8s %8s\n", w, "task", "n", "metric", "value", "stderr", "random");
    for (const cJSON *t = tasks ? tasks->child : NULL; t; t = t->next) {
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(t, "metrics"), *b = cJSON_GetObjectItemCaseSensitive(t, "random_baseline");
        int first = 1;
        for (const cJSON *m = ms ? ms->child : NULL; m; m = m->next, first = 0) {
            char n[16] = "", base[16] = "-";
            if (first) snprintf(n, sizeof n, "%d", cJSON_GetObjectItemCaseSensitive(t, "n")->valueint);
            if (cJSON_IsNumber(b)) snprintf(base, sizeof base, "%.4f", b->valuedouble);
            fprintf(f, "%-*s %7s  %-16s %8.4f %8.4f %8s\n", w, first ? t->string : "", n, m->string,
                    cJSON_GetObjectItemCaseSensitive(m, "value")->valuedouble, cJSON_GetObjectItemCaseSensitive(m, "stderr")->valuedouble,
                    base);
        }
    }
}
