/* What the arena's database says: Bradley-Terry ratings with bootstrap
 * intervals from the votes (a tie or "both bad" counts half to each side),
 * wins/losses/ties, the win-rate matrix, and the expert reviews' mean score
 * per model and criterion with a 95% normal interval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arena_internal.h"
#include "dokja/error.h"

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }
static const char *str(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuestring; }

/* mean, interval and count of n scores into o */
static void add_mean(cJSON *o, const char *key, double sum, double sumsq, int n)
{
    cJSON *m = cJSON_AddObjectToObject(o, key);
    double mu = n ? sum / n : 0, var = n > 1 ? (sumsq - n * mu * mu) / (n - 1) : 0;
    double h = n > 1 ? 1.96 * sqrt(var > 0 ? var : 0) / sqrt((double)n) : 0;
    cJSON_AddNumberToObject(m, "mean", mu);
    cJSON_AddNumberToObject(m, "lo", mu - h);
    cJSON_AddNumberToObject(m, "hi", mu + h);
    cJSON_AddNumberToObject(m, "n", n);
}

static int expert(dk_arena *a, cJSON *out)
{
    cJSON *rows = NULL, *crit = NULL, *revs = NULL;
    if (dk_arena_query(a, "SELECT m.name AS model, s.criterion AS criterion, s.score AS score FROM scores s"
                          " JOIN reviews r ON r.id = s.review_id JOIN models m ON m.id = r.model_id ORDER BY m.id, s.criterion", &rows) ||
        dk_arena_query(a, "SELECT DISTINCT criterion FROM scores ORDER BY criterion", &crit) ||
        dk_arena_query(a, "SELECT m.name AS model, count(*) AS n FROM reviews r JOIN models m ON m.id = r.model_id"
                          " GROUP BY m.id ORDER BY m.id", &revs)) {
        cJSON_Delete(rows), cJSON_Delete(crit);
        return -1;
    }
    cJSON *e = cJSON_AddObjectToObject(out, "expert"), *names = cJSON_AddArrayToObject(e, "criteria");
    cJSON *models = cJSON_AddArrayToObject(e, "models");
    int total = 0;
    for (cJSON *c = crit->child; c; c = c->next) cJSON_AddItemToArray(names, cJSON_CreateString(str(c, "criterion")));
    for (cJSON *r = revs->child; r; r = r->next) {
        cJSON *m = cJSON_CreateObject(), *per = NULL;
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "name", str(r, "model"));
        cJSON_AddNumberToObject(m, "reviews", num(r, "n"));
        total += (int)num(r, "n");
        per = cJSON_AddObjectToObject(m, "criteria");
        double all = 0, allsq = 0;
        int nall = 0;
        for (cJSON *c = crit->child; c; c = c->next) {
            double s = 0, sq = 0;
            int n = 0;
            for (cJSON *x = rows->child; x; x = x->next)
                if (!strcmp(str(x, "model"), str(r, "model")) && !strcmp(str(x, "criterion"), str(c, "criterion"))) {
                    s += num(x, "score"), sq += num(x, "score") * num(x, "score"), n++;
                }
            if (n) add_mean(per, str(c, "criterion"), s, sq, n);
            all += s, allsq += sq, nall += n;
        }
        add_mean(m, "overall", all, allsq, nall);
    }
    cJSON_AddNumberToObject(e, "reviews", total);
    cJSON_Delete(rows), cJSON_Delete(crit), cJSON_Delete(revs);
    return 0;
}

int dk_arena_summary(dk_arena *a, int bootstrap, uint64_t seed, cJSON **out)
{
    cJSON *models = NULL, *votes = NULL;
    if (dk_arena_query(a, "SELECT id, name, weights_sha256 FROM models ORDER BY id", &models) ||
        dk_arena_query(a, "SELECT model_a, model_b, vote FROM votes ORDER BY id", &votes)) {
        cJSON_Delete(models);
        return -1;
    }
    int M = cJSON_GetArraySize(models), n = cJSON_GetArraySize(votes), k = 0, rc = 0;
    dk_battle *b = dk_malloc(sizeof *b * (size_t)(n ? n : 1));
    double *r = dk_calloc((size_t)M + 1, sizeof *r), *lo = dk_calloc((size_t)M + 1, sizeof *lo), *hi = dk_calloc((size_t)M + 1, sizeof *hi);
    double *w = dk_calloc((size_t)M * M + 1, sizeof *w);
    int *games = dk_calloc((size_t)M * 3 + 1, sizeof *games); /* wins, losses, ties */
    cJSON *s = cJSON_CreateObject();
    if (!b || !r || !lo || !hi || !w || !games || !s) rc = -1;
    for (cJSON *v = rc ? NULL : votes->child; v; v = v->next) {
        int ia = -1, ib = -1, i = 0;
        for (cJSON *m = models->child; m; m = m->next, i++) {
            if (num(m, "id") == num(v, "model_a")) ia = i;
            if (num(m, "id") == num(v, "model_b")) ib = i;
        }
        const char *vote = str(v, "vote");
        double score = !strcmp(vote, "a") ? 1 : !strcmp(vote, "b") ? 0 : 0.5;
        b[k++] = (dk_battle){ia, ib, score};
        w[ia * M + ib] += score;
        w[ib * M + ia] += 1 - score;
        games[ia * 3 + (score == 1 ? 0 : score == 0 ? 1 : 2)]++;
        games[ib * 3 + (score == 0 ? 0 : score == 1 ? 1 : 2)]++;
    }
    if (!rc && M) rc = dk_bt_ratings(M, b, k, bootstrap, seed, r, lo, hi);
    if (!rc) {
        cJSON_AddNumberToObject(s, "votes", n);
        cJSON_AddNumberToObject(s, "bootstrap", bootstrap);
        cJSON *list = cJSON_AddArrayToObject(s, "models"), *wr = cJSON_AddObjectToObject(s, "win_rate");
        cJSON *wn = cJSON_AddArrayToObject(wr, "models"), *mat = cJSON_AddArrayToObject(wr, "matrix");
        /* best first; models that were never in a battle last, unrated */
        int *order = dk_malloc(sizeof *order * (size_t)(M ? M : 1));
        for (int i = 0; order && i < M; i++) order[i] = i;
        for (int i = 0; order && i < M; i++)
            for (int j = i + 1; j < M; j++) {
                int x = order[i], y = order[j], gx = games[x * 3] + games[x * 3 + 1] + games[x * 3 + 2], gy = games[y * 3] + games[y * 3 + 1] + games[y * 3 + 2];
                if ((!gx && gy) || ((!gx) == (!gy) && r[y] > r[x])) order[i] = y, order[j] = x;
            }
        for (int oi = 0; order && oi < M; oi++) {
            int i = order[oi], played = games[i * 3] + games[i * 3 + 1] + games[i * 3 + 2];
            cJSON *m = cJSON_CreateObject(), *row = cJSON_CreateArray();
            const cJSON *src = cJSON_GetArrayItem(models, i);
            cJSON_AddItemToArray(list, m);
            cJSON_AddStringToObject(m, "name", str(src, "name"));
            cJSON_AddStringToObject(m, "weights_sha256", str(src, "weights_sha256"));
            if (played) {
                cJSON_AddNumberToObject(m, "rating", r[i]);
                if (bootstrap > 0) cJSON_AddNumberToObject(m, "ci_low", lo[i]), cJSON_AddNumberToObject(m, "ci_high", hi[i]);
            } else cJSON_AddNullToObject(m, "rating");
            cJSON_AddNumberToObject(m, "battles", played);
            cJSON_AddNumberToObject(m, "wins", games[i * 3]);
            cJSON_AddNumberToObject(m, "losses", games[i * 3 + 1]);
            cJSON_AddNumberToObject(m, "ties", games[i * 3 + 2]);
            cJSON_AddItemToArray(wn, cJSON_CreateString(str(src, "name")));
            cJSON_AddItemToArray(mat, row);
            for (int oj = 0; oj < M; oj++) {
                int j = order[oj];
                double g = w[i * M + j] + w[j * M + i];
                cJSON_AddItemToArray(row, i != j && g > 0 ? cJSON_CreateNumber(w[i * M + j] / g) : cJSON_CreateNull());
            }
        }
        if (!order) rc = -1;
        free(order);
    }
    if (!rc) rc = expert(a, s);
    free(b), free(r), free(lo), free(hi), free(w), free(games);
    cJSON_Delete(models);
    cJSON_Delete(votes);
    if (rc) {
        cJSON_Delete(s);
        return -1;
    }
    *out = s;
    return 0;
}

void dk_arena_print(FILE *f, const cJSON *s)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(s, "models");
    int wname = 5;
    for (const cJSON *m = models->child; m; m = m->next) wname = (int)strlen(str(m, "name")) > wname ? (int)strlen(str(m, "name")) : wname;
    fprintf(f, "Bradley-Terry ratings (Elo scale) from %d votes, 95%% intervals from %d bootstrap resamples\n",
            (int)num(s, "votes"), (int)num(s, "bootstrap"));
    fprintf(f, "%-4s %-*s %8s %19s %8s %12s\n", "rank", wname, "model", "rating", "95% interval", "battles", "W/L/T");
    int rank = 1;
    for (const cJSON *m = models->child; m; m = m->next) {
        const cJSON *rt = cJSON_GetObjectItemCaseSensitive(m, "rating"), *lo = cJSON_GetObjectItemCaseSensitive(m, "ci_low");
        char rating[16] = "-", ci[32] = "-", wlt[32];
        if (cJSON_IsNumber(rt)) snprintf(rating, sizeof rating, "%.1f", rt->valuedouble);
        if (cJSON_IsNumber(lo)) snprintf(ci, sizeof ci, "[%.1f, %.1f]", lo->valuedouble, num(m, "ci_high"));
        snprintf(wlt, sizeof wlt, "%d/%d/%d", (int)num(m, "wins"), (int)num(m, "losses"), (int)num(m, "ties"));
        fprintf(f, "%-4d %-*s %8s %19s %8d %12s\n", rank++, wname, str(m, "name"), rating, ci, (int)num(m, "battles"), wlt);
    }
    const cJSON *wr = cJSON_GetObjectItemCaseSensitive(s, "win_rate"), *names = cJSON_GetObjectItemCaseSensitive(wr, "models");
    fprintf(f, "\nwin rate of the row's model against the column's (ties count half)\n%-*s", wname, "");
    for (int j = 0; j < cJSON_GetArraySize(names); j++) fprintf(f, " %7d", j + 1);
    fputc('\n', f);
    int i = 0;
    for (const cJSON *row = cJSON_GetObjectItemCaseSensitive(wr, "matrix")->child; row; row = row->next, i++) {
        fprintf(f, "%-*s", wname, cJSON_GetArrayItem(names, i)->valuestring);
        for (const cJSON *x = row->child; x; x = x->next)
            if (cJSON_IsNumber(x)) fprintf(f, " %7.3f", x->valuedouble);
            else fprintf(f, " %7s", "-");
        fputc('\n', f);
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "expert"), *crit = cJSON_GetObjectItemCaseSensitive(e, "criteria");
    fprintf(f, "\nexpert reviews: %d (scores 1-5, mean and 95%% interval)\n", (int)num(e, "reviews"));
    if (!num(e, "reviews")) return;
    fprintf(f, "%-*s %7s %17s", wname, "model", "reviews", "overall");
    for (const cJSON *c = crit->child; c; c = c->next) fprintf(f, " %17.17s", c->valuestring);
    fputc('\n', f);
    for (const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "models")->child; m; m = m->next) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(m, "overall"), *per = cJSON_GetObjectItemCaseSensitive(m, "criteria");
        fprintf(f, "%-*s %7d  %4.2f [%4.2f, %4.2f]", wname, str(m, "name"), (int)num(m, "reviews"), num(o, "mean"), num(o, "lo"), num(o, "hi"));
        for (const cJSON *c = crit->child; c; c = c->next) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(per, c->valuestring);
            if (x) fprintf(f, "  %4.2f [%4.2f, %4.2f]", num(x, "mean"), num(x, "lo"), num(x, "hi"));
            else fprintf(f, " %17s", "-");
        }
        fputc('\n', f);
    }
}
