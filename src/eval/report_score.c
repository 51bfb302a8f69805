/* The composite stage score of the report: benchmarks, expert review and
 * user evaluation, each a number from 0 to 1 times its weight in points.
 * docs/report.md gives the formulas; report.json keeps every input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "report_internal.h"

const char *const dk_report_part_names[3] = {"benchmark", "expert", "user"};

/* The metric a task is judged by: acc_norm, else acc, exact_match or f1. */
const char *dk_report_main_metric(const cJSON *task)
{
    static const char *const order[] = {"acc_norm", "acc", "exact_match", "f1"};
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(task, "metrics");
    for (int i = 0; i < 4; i++)
        if (cJSON_GetObjectItemCaseSensitive(m, order[i])) return order[i];
    return NULL;
}

static double get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

/* Benchmarks: the mean over tasks of (score - random) / (1 - random), clipped to [0, 1]. */
static void benchmark(cJSON *part, const cJSON *const *evals, int nevals, const char *sha)
{
    cJSON *tasks = cJSON_AddArrayToObject(part, "tasks");
    double sum = 0;
    int n = 0;
    for (int e = 0; e < nevals; e++) {
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(evals[e], "model");
        const cJSON *ws = cJSON_GetObjectItemCaseSensitive(model, "weights_sha256");
        /* results of another model are shown in the report, not counted */
        if (sha && cJSON_IsString(ws) && strcmp(ws->valuestring, sha)) continue;
        for (const cJSON *t = cJSON_GetObjectItemCaseSensitive(evals[e], "tasks")->child; t; t = t->next) {
            const char *metric = dk_report_main_metric(t);
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "random_baseline");
            if (!metric || !cJSON_IsNumber(b) || b->valuedouble >= 1) continue;
            double v = get(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "metrics"), metric), "value");
            double norm = (v - b->valuedouble) / (1 - b->valuedouble);
            norm = norm < 0 ? 0 : norm > 1 ? 1 : norm;
            cJSON *x = cJSON_CreateObject();
            cJSON_AddStringToObject(x, "task", t->string);
            cJSON_AddStringToObject(x, "metric", metric);
            cJSON_AddNumberToObject(x, "value", v);
            cJSON_AddNumberToObject(x, "random_baseline", b->valuedouble);
            cJSON_AddNumberToObject(x, "normalized", norm);
            cJSON_AddItemToArray(tasks, x);
            sum += norm, n++;
        }
    }
    if (n) cJSON_AddNumberToObject(part, "score", sum / n);
}

/* The run's model in the arena summary: by name when given, else by weights. */
static const cJSON *arena_model(const cJSON *list, const char *name, const char *sha)
{
    for (const cJSON *m = list ? list->child : NULL; m; m = m->next) {
        const char *mn = cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring;
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(m, "weights_sha256");
        if (name ? !strcmp(mn, name) : sha && cJSON_IsString(ms) && !strcmp(ms->valuestring, sha)) return m;
    }
    return NULL;
}

cJSON *dk_report_composite(const cJSON *const *evals, int nevals, const char *sha, const cJSON *arena, const char *name,
                           const double weights[3])
{
    cJSON *c = cJSON_CreateObject(), *parts = cJSON_AddObjectToObject(c, "parts");
    cJSON *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = cJSON_AddObjectToObject(parts, dk_report_part_names[i]);
        cJSON_AddNumberToObject(p[i], "weight", weights[i]);
    }
    benchmark(p[0], evals, nevals, sha);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(arena, "models");
    const cJSON *me = arena_model(models, name, sha);
    const cJSON *ex = arena_model(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(arena, "expert"), "models"),
                                  me ? cJSON_GetObjectItemCaseSensitive(me, "name")->valuestring : name, NULL);
    if (me) cJSON_AddStringToObject(c, "arena_model", cJSON_GetObjectItemCaseSensitive(me, "name")->valuestring);
    /* expert: the mean rubric score (1..5) mapped to 0..1 */
    if (ex) {
        double mean = get(cJSON_GetObjectItemCaseSensitive(ex, "overall"), "mean");
        cJSON_AddNumberToObject(p[1], "mean_score", mean);
        cJSON_AddNumberToObject(p[1], "reviews", get(ex, "reviews"));
        cJSON_AddNumberToObject(p[1], "score", (mean - 1) / 4);
    }
    /* user: the expected win rate against the other rated models under the Bradley-Terry ratings */
    const cJSON *rm = me ? cJSON_GetObjectItemCaseSensitive(me, "rating") : NULL;
    if (cJSON_IsNumber(rm)) {
        double sum = 0;
        int n = 0;
        for (const cJSON *m = models->child; m; m = m->next) {
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "rating");
            if (m == me || !cJSON_IsNumber(r)) continue;
            sum += 1 / (1 + pow(10, (r->valuedouble - rm->valuedouble) / 400)), n++;
        }
        cJSON_AddNumberToObject(p[2], "rating", rm->valuedouble);
        cJSON_AddNumberToObject(p[2], "opponents", n);
        if (n) cJSON_AddNumberToObject(p[2], "score", sum / n);
    }
    double total = 0, measured = 0, max = 0;
    for (int i = 0; i < 3; i++) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p[i], "score");
        max += weights[i];
        if (!s) continue;
        cJSON_AddNumberToObject(p[i], "points", weights[i] * s->valuedouble);
        total += weights[i] * s->valuedouble;
        measured += weights[i];
    }
    cJSON_AddNumberToObject(c, "total", total);
    cJSON_AddNumberToObject(c, "measured", measured);
    cJSON_AddNumberToObject(c, "max", max);
    return c;
}
