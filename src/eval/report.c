/* dokja report: gathers what a run left (config.json, log.jsonl, the model
 * directory, ledger.jsonl, the shards' meta.json and a data card beside
 * them) with the results of dokja eval, the arena's database and dokja
 * audit, and writes them as one document. A part that is missing is said
 * to be missing; only unreadable inputs are errors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokja/arena.h"
#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"
#include "dokja/ledger.h"
#include "dokja/model.h"
#include "dokja/report.h"
#include "dokja/sha256.h"
#include "dokja/tokenizer.h"
#include "report_internal.h"

typedef struct {
    const dk_report_options *o;
    dk_doc *d;
    cJSON *config, *log, *lineage, *meta, *card, *arena;
    cJSON **evals;
    char *model_dir, *data_dir, sha[65];
} report;

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = item(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}
static const char *str(const cJSON *o, const char *k, const char *dflt)
{
    const cJSON *v = item(o, k);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* A JSON file that may be absent (NULL); a file that is there but unreadable is an error. */
static int optional_json(const char *path, cJSON **out)
{
    *out = NULL;
    return path && dk_path_exists(path) ? dk_json_read_file(path, out) : 0;
}

static int optional_in(const char *dir, const char *name, cJSON **out)
{
    char *p = dk_path_join(dir, name);
    int rc = p ? optional_json(p, out) : -1;
    free(p);
    return rc;
}

static void fmt(char *buf, size_t n, double v, int digits)
{
    if (!isfinite(v)) snprintf(buf, n, "-");
    else snprintf(buf, n, "%.*f", digits, v);
}

/* ---- the composite ---- */

static void composite(report *r, const cJSON *c)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "Composite stage score");
    dk_doc_text(d, "%.1f of %.0f points (parts measured: %.0f points' worth). Each part is a number from 0 to 1 times its weight; "
                   "a part that was not measured counts 0.",
                num(c, "total", 0), num(c, "max", 0), num(c, "measured", 0));
    static const char *const label[3] = {"Benchmarks", "Expert review", "User evaluation (arena)"};
    const char *hdr[] = {"part", "weight", "score (0-1)", "points", "from"};
    dk_doc_table(d, 5, hdr);
    for (int i = 0; i < 3; i++) {
        const cJSON *p = item(item(c, "parts"), dk_report_part_names[i]);
        char w[16], s[16] = "not measured", pts[16] = "0", from[128] = "";
        fmt(w, sizeof w, num(p, "weight", 0), 0);
        if (item(p, "score")) fmt(s, sizeof s, num(p, "score", 0), 3), fmt(pts, sizeof pts, num(p, "points", 0), 1);
        if (i == 0) snprintf(from, sizeof from, "%d tasks", cJSON_GetArraySize(item(p, "tasks")));
        if (i == 1 && item(p, "reviews")) snprintf(from, sizeof from, "%.0f reviews, mean %.2f of 5", num(p, "reviews", 0), num(p, "mean_score", 0));
        if (i == 2 && item(p, "rating")) snprintf(from, sizeof from, "rating %.1f against %.0f models", num(p, "rating", 0), num(p, "opponents", 0));
        const char *row[] = {label[i], w, s, pts, from};
        dk_doc_row(d, row);
    }
    dk_doc_code(d, "benchmark = mean over tasks t of clip((s_t - r_t) / (1 - r_t), 0, 1)\n"
                   "            s_t: the task's acc_norm (else acc, exact_match); r_t: its random-guess baseline; bpb tasks left out\n"
                   "expert    = (mean rubric score - 1) / 4            (scores 1..5 over every criterion of every review)\n"
                   "user      = mean over the other rated models j of 1 / (1 + 10^((R_j - R) / 400))\n"
                   "            R: the Bradley-Terry rating of this run's model in the arena (Elo scale)\n"
                   "points    = weight x score; total = sum of the points");
}

/* ---- training ---- */

static void training(report *r)
{
    dk_doc *d = r->d;
    const cJSON *cfg = r->config;
    dk_doc_heading(d, 2, "Training");
    int n = cJSON_GetArraySize(r->log);
    if (!n) {
        dk_doc_text(d, "No log.jsonl in the run.");
        return;
    }
    double *x = calloc((size_t)n, sizeof *x), *loss = calloc((size_t)n, sizeof *loss), *val = calloc((size_t)n, sizeof *val);
    double *lr = calloc((size_t)n, sizeof *lr), *tps = calloc((size_t)n, sizeof *tps);
    if (!x || !loss || !val || !lr || !tps) {
        free(x), free(loss), free(val), free(lr), free(tps);
        dk_doc_text(d, "(out of memory reading the log)");
        return;
    }
    int i = 0, nval = 0;
    double best_val = INFINITY, last_val = NAN, tsum = 0;
    for (const cJSON *l = r->log->child; l; l = l->next, i++) {
        x[i] = num(l, "step", i + 1);
        loss[i] = num(l, "loss", NAN);
        lr[i] = num(l, "lr", NAN);
        tps[i] = num(l, "tok_per_s", NAN);
        val[i] = num(l, "val_loss", NAN);
        if (isfinite(val[i])) nval++, last_val = val[i], best_val = val[i] < best_val ? val[i] : best_val;
        if (i >= n / 2 && isfinite(tps[i])) tsum += tps[i];
    }
    /* validation points only where measured */
    double *vx = calloc((size_t)n, sizeof *vx), *vy = calloc((size_t)n, sizeof *vy);
    int k = 0;
    for (int j = 0; vx && vy && j < n; j++)
        if (isfinite(val[j])) vx[k] = x[j], vy[k++] = val[j];
    dk_series ls[2] = {{"train loss", x, loss, n}, {"validation loss", vx, vy, k}};
    dk_doc_figure(d, "loss", dk_svg_chart("Loss", "step", "cross-entropy (nats)", ls, nval ? 2 : 1), "training and validation loss");
    dk_series lrs = {"learning rate", x, lr, n}, ts = {"tokens/s", x, tps, n};
    dk_doc_figure(d, "lr", dk_svg_chart("Learning rate", "step", "lr", &lrs, 1), "learning-rate schedule");
    dk_doc_figure(d, "throughput", dk_svg_chart("Throughput", "step", "tokens per second", &ts, 1), "training throughput");
    const char *hdr[] = {"", "value"};
    dk_doc_table(d, 2, hdr);
    char v[256];
    double tokens = x[n - 1] * num(cfg, "batch_size", 0) * num(cfg, "seq_len", 0) * num(cfg, "grad_accum", 1);
#define ROW(name, ...) snprintf(v, sizeof v, __VA_ARGS__), dk_doc_row(d, (const char *[]){name, v})
    ROW("steps", "%.0f", x[n - 1]);
    ROW("tokens seen", "%.4g", tokens);
    ROW("final training loss", "%.4f", loss[n - 1]);
    if (nval) ROW("validation loss (last / best)", "%.4f / %.4f", last_val, best_val);
    ROW("tokens/s (mean of the second half)", "%.1f", tsum / (n - n / 2));
    ROW("model", "%.0f layers, hidden %.0f, %.0f heads (%.0f key/value), vocabulary %.0f, context %.0f", num(cfg, "num_hidden_layers", 0),
        num(cfg, "hidden_size", 0), num(cfg, "num_attention_heads", 0), num(cfg, "num_key_value_heads", 0), num(cfg, "vocab_size", 0),
        num(cfg, "max_position_embeddings", 0));
    ROW("optimizer", "AdamW, lr %g -> %g (%s), batch %.0f x %.0f tokens", num(cfg, "lr", 0), num(cfg, "min_lr", 0),
        str(cfg, "schedule", "?"), num(cfg, "batch_size", 0), num(cfg, "seq_len", 0));
    ROW("seed", "%.0f", num(cfg, "seed", 0));
#undef ROW
    free(x), free(loss), free(val), free(lr), free(tps), free(vx), free(vy);
}

/* ---- data and tokenizer ---- */

/* Numbers of a JSON object, flattened with dotted names ("dropped.short"). */
static void flat_rows(dk_doc *d, const cJSON *o, const char *prefix, int depth)
{
    for (const cJSON *c = o ? o->child : NULL; c; c = c->next) {
        char name[160], v[64];
        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", c->string);
        if (cJSON_IsNumber(c)) {
            snprintf(v, sizeof v, "%.15g", c->valuedouble);
            dk_doc_row(d, (const char *[]){name, v});
        } else if (cJSON_IsObject(c) && depth < 2) flat_rows(d, c, name, depth + 1);
    }
}

static void data(report *r)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "Data");
    if (r->data_dir) dk_doc_text(d, "Token shards: %s", r->data_dir);
    if (r->meta) {
        const char *hdr[] = {"shards (meta.json)", "value"};
        dk_doc_table(d, 2, hdr);
        flat_rows(d, r->meta, "", 2);
        for (const cJSON *in = item(r->meta, "inputs") ? item(r->meta, "inputs")->child : NULL; in; in = in->next)
            dk_doc_row(d, (const char *[]){str(in, "path", "?"), str(in, "sha256", "")});
    }
    if (r->card) {
        const char *hdr[] = {"data card (datacard.json)", "value"};
        dk_doc_table(d, 2, hdr);
        flat_rows(d, item(r->card, "total") ? item(r->card, "total") : r->card, "", 0);
        char v[32];
        snprintf(v, sizeof v, "%d", cJSON_GetArraySize(item(r->card, "sources")));
        dk_doc_row(d, (const char *[]){"sources", v});
    } else dk_doc_text(d, "No datacard.json found (dokja data prepare writes one; give it with --datacard).");
}

static int tokenizer(report *r)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "Tokenizer");
    char *p = dk_path_join(r->model_dir, "tokenizer.json");
    dk_tokenizer *t = NULL;
    if (!p || !dk_path_exists(p)) {
        dk_doc_text(d, "No tokenizer.json in %s.", r->model_dir);
        free(p);
        return 0;
    }
    int rc = dk_tokenizer_load(&t, p);
    free(p);
    if (rc) return -1;
    dk_tokenizer_summary s;
    dk_tokenizer_describe(t, &s);
    const char *hdr[] = {"", "value"};
    char v[160];
    dk_doc_table(d, 2, hdr);
#define ROW(name, ...) snprintf(v, sizeof v, __VA_ARGS__), dk_doc_row(d, (const char *[]){name, v})
    ROW("vocabulary", "%d (%d merges, %d added tokens)", dk_tokenizer_vocab_size(t), s.merges, s.added);
    ROW("normalizer", "%s", s.normalizer);
    ROW("pre-tokenizer pattern", "%.150s", s.pattern ? s.pattern : "(none)");
    ROW("sha256", "%s", dk_tokenizer_sha256(t));
    /* compression on the training text: bytes per token (a document's separator is not text) */
    double tok = num(r->meta, "train_tokens", 0) + num(r->meta, "val_tokens", 0) - num(r->meta, "documents", 0);
    if (num(r->meta, "text_bytes", 0) > 0 && tok > 0) ROW("bytes per token (training text)", "%.3f", num(r->meta, "text_bytes", 0) / tok);
    for (int e = 0; e < r->o->nevals; e++)
        for (const cJSON *x = item(r->evals[e], "tasks")->child; x; x = x->next)
            if (item(x, "bytes_per_token")) ROW("bytes per token (eval text)", "%.3f (%s)", num(x, "bytes_per_token", 0), x->string);
#undef ROW
    dk_tokenizer_free(t);
    return 0;
}

/* ---- benchmarks ---- */

static void benchmarks(report *r, const cJSON *composite)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "Benchmarks");
    if (!r->o->nevals) {
        dk_doc_text(d, "No results.json given (dokja eval --out results.json; then --eval results.json).");
        return;
    }
    const cJSON *scored = item(item(item(composite, "parts"), "benchmark"), "tasks");
    for (int e = 0; e < r->o->nevals; e++) {
        const cJSON *m = item(r->evals[e], "model");
        const char *ws = str(m, "weights_sha256", "");
        dk_doc_text(d, "%s: model %s (weights %.12s, %s)%s", r->o->evals[e], str(m, "dir", "?"), ws,
                    !strcmp(ws, r->sha) ? "this run's" : "another model: not in the composite score",
                    num(item(r->evals[e], "config"), "limit", 0) > 0 ? "; a --limit run, not the whole benchmark" : "");
        const char *hdr[] = {"task", "n", "shots", "metric", "value", "stderr", "random", "normalized"};
        dk_doc_table(d, 8, hdr);
        for (const cJSON *t = item(r->evals[e], "tasks")->child; t; t = t->next) {
            const char *main = dk_report_main_metric(t);
            int first = 1;
            for (const cJSON *mt = item(t, "metrics")->child; mt; mt = mt->next, first = 0) {
                char n[16] = "", shots[16] = "", v[16], se[16], base[16] = "-", norm[16] = "";
                if (first) snprintf(n, sizeof n, "%.0f", num(t, "n", 0)), snprintf(shots, sizeof shots, "%.0f", num(t, "fewshot", 0));
                fmt(v, sizeof v, num(mt, "value", NAN), 4);
                fmt(se, sizeof se, num(mt, "stderr", NAN), 4);
                if (item(t, "random_baseline")) fmt(base, sizeof base, num(t, "random_baseline", NAN), 4);
                /* the normalized score of the metric the composite uses */
                for (const cJSON *x = scored ? scored->child : NULL; x; x = x->next)
                    if (main && !strcmp(mt->string, main) && !strcmp(str(x, "task", ""), t->string) && !strcmp(ws, r->sha))
                        fmt(norm, sizeof norm, num(x, "normalized", NAN), 3);
                dk_doc_row(d, (const char *[]){first ? t->string : "", n, shots, mt->string, v, se, base, norm});
            }
        }
    }
}

/* ---- arena and experts ---- */

static void arena(report *r)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "User evaluation (arena)");
    if (!r->arena) {
        dk_doc_text(d, "No arena database given (dokja arena; then --arena arena.sqlite).");
        return;
    }
    dk_doc_text(d, "Bradley-Terry ratings on the Elo scale from %.0f side-by-side votes (a tie or 'both bad' counts half to each), "
                   "with 95%% intervals from %.0f bootstrap resamples of the votes.",
                num(r->arena, "votes", 0), num(r->arena, "bootstrap", 0));
    const char *hdr[] = {"rank", "model", "rating", "95% interval", "battles", "wins / losses / ties"};
    dk_doc_table(d, 6, hdr);
    int rank = 1;
    for (const cJSON *m = item(r->arena, "models")->child; m; m = m->next, rank++) {
        char rk[16], rt[16] = "-", ci[48] = "-", b[16], wlt[48];
        snprintf(rk, sizeof rk, "%d", rank);
        if (cJSON_IsNumber(item(m, "rating"))) fmt(rt, sizeof rt, num(m, "rating", 0), 1);
        if (item(m, "ci_low")) snprintf(ci, sizeof ci, "[%.1f, %.1f]", num(m, "ci_low", 0), num(m, "ci_high", 0));
        snprintf(b, sizeof b, "%.0f", num(m, "battles", 0));
        snprintf(wlt, sizeof wlt, "%.0f / %.0f / %.0f", num(m, "wins", 0), num(m, "losses", 0), num(m, "ties", 0));
        dk_doc_row(d, (const char *[]){rk, str(m, "name", "?"), rt, ci, b, wlt});
    }
    const cJSON *wr = item(r->arena, "win_rate"), *names = item(wr, "models");
    int M = cJSON_GetArraySize(names);
    if (M > 1) {
        dk_doc_text(d, "Win rate of the row's model against the column's:");
        const char **row = calloc((size_t)M + 1, sizeof *row);
        char (*cells)[16] = calloc((size_t)M, sizeof *cells);
        if (row && cells) {
            row[0] = "";
            for (int j = 0; j < M; j++) row[j + 1] = cJSON_GetArrayItem(names, j)->valuestring;
            dk_doc_table(d, M + 1, row);
            int i = 0;
            for (const cJSON *mr = item(wr, "matrix")->child; mr; mr = mr->next, i++) {
                row[0] = cJSON_GetArrayItem(names, i)->valuestring;
                int j = 0;
                for (const cJSON *x = mr->child; x; x = x->next, j++) {
                    if (cJSON_IsNumber(x)) fmt(cells[j], sizeof cells[j], x->valuedouble, 3);
                    else snprintf(cells[j], sizeof cells[j], "-");
                    row[j + 1] = cells[j];
                }
                dk_doc_row(d, row);
            }
        }
        free(row), free(cells);
    }
    dk_doc_heading(d, 2, "Expert review");
    const cJSON *e = item(r->arena, "expert"), *crit = item(e, "criteria");
    if (!num(e, "reviews", 0)) {
        dk_doc_text(d, "No expert reviews in the arena database (its /expert page).");
        return;
    }
    int nc = cJSON_GetArraySize(crit);
    dk_doc_text(d, "%.0f reviews; scores 1 to 5, mean with a 95%% normal interval.", num(e, "reviews", 0));
    const char **row = calloc((size_t)nc + 3, sizeof *row);
    char (*cells)[48] = calloc((size_t)nc + 2, sizeof *cells);
    if (!row || !cells) {
        free(row), free(cells);
        return;
    }
    row[0] = "model", row[1] = "reviews", row[2] = "overall";
    for (int j = 0; j < nc; j++) row[j + 3] = cJSON_GetArrayItem(crit, j)->valuestring;
    dk_doc_table(d, nc + 3, row);
    for (const cJSON *m = item(e, "models")->child; m; m = m->next) {
        row[0] = str(m, "name", "?");
        snprintf(cells[0], sizeof cells[0], "%.0f", num(m, "reviews", 0));
        row[1] = cells[0];
        for (int j = -1; j < nc; j++) {
            const cJSON *x = j < 0 ? item(m, "overall") : item(item(m, "criteria"), cJSON_GetArrayItem(crit, j)->valuestring);
            if (x) snprintf(cells[j + 2], sizeof cells[j + 2], "%.2f [%.2f, %.2f]", num(x, "mean", 0), num(x, "lo", 0), num(x, "hi", 0));
            else snprintf(cells[j + 2], sizeof cells[j + 2], "-");
            row[j + 3] = cells[j + 2];
        }
        dk_doc_row(d, row);
    }
    free(row), free(cells);
}

/* ---- provenance ---- */

static int provenance(report *r)
{
    dk_doc *d = r->d;
    dk_doc_heading(d, 2, "Provenance");
    dk_ledger l;
    if (dk_ledger_read(r->o->run, &l)) return -1;
    if (!l.count) dk_doc_text(d, "No ledger.jsonl in the run.");
    else {
        bool intact = !dk_ledger_check(&l);
        const char *last = str(l.lines[l.count - 1].record, "kind", "?");
        dk_doc_text(d, "Ledger: %d records, chain %s; head (sha256 of the last record, a %s): %s", l.count,
                    intact ? "intact" : "BROKEN", last, l.lines[l.count - 1].sha256);
        if (!intact) dk_doc_text(d, "%s", dk_error());
    }
    dk_ledger_free(&l);
    for (int i = 0; i < r->o->naudits; i++) {
        cJSON *a = NULL;
        if (dk_json_read_file(r->o->audits[i], &a)) return -1;
        const char *kind = str(a, "kind", "?");
        if (!strcmp(kind, "verify")) {
            const cJSON *p = item(a, "problems"), *lj = item(a, "ledger");
            dk_doc_text(d, "Audit (%s): dokja audit verify %s: %s; ledger of %.0f records, chain %s, head %s.", r->o->audits[i],
                        str(a, "run", "?"), cJSON_IsTrue(item(a, "passed")) ? "PASS" : "FAIL", num(lj, "records", 0),
                        cJSON_IsTrue(item(lj, "chain_intact")) ? "intact" : "broken", str(lj, "head", "?"));
            for (const cJSON *x = p ? p->child : NULL; x; x = x->next)
                if (cJSON_IsString(x)) dk_doc_text(d, "problem: %s", x->valuestring);
        } else if (!strcmp(kind, "compare")) {
            dk_doc_text(d, "Audit (%s): dokja audit compare: %s (log10 p = %.1f).", r->o->audits[i], str(a, "verdict", "?"), num(a, "log10_p", NAN));
        } else dk_doc_text(d, "Audit (%s): a report of kind \"%s\".", r->o->audits[i], kind);
        cJSON_Delete(a);
    }
    if (!r->o->naudits) dk_doc_text(d, "No audit.json given (dokja audit verify RUN; then --audit audit.json).");
    return 0;
}

/* ---- gathering ---- */

/* The token directory: the ledger's data record (an absolute path), else config.json's "data". */
static char *find_data(const report *r)
{
    dk_ledger l;
    char *dir = NULL;
    if (!dk_ledger_read(r->o->run, &l)) {
        for (int i = 0; i < l.count && !dir; i++)
            if (!strcmp(str(l.lines[i].record, "kind", ""), "data") && dk_is_dir(str(l.lines[i].record, "dir", "")))
                dir = strdup(str(l.lines[i].record, "dir", ""));
        dk_ledger_free(&l);
    }
    const char *c = str(r->config, "data", NULL);
    if (!dir && c && dk_is_dir(c)) dir = strdup(c);
    return dir;
}

static int gather(report *r)
{
    const dk_report_options *o = r->o;
    if (!dk_is_dir(o->run)) return dk_fail("%s: not a run directory", o->run);
    char *cfg = dk_path_join(o->run, "config.json"), *log = dk_path_join(o->run, "log.jsonl");
    int rc = !cfg || !log || dk_json_read_file(cfg, &r->config) || (dk_path_exists(log) && dk_table_read(log, "jsonl", NULL, &r->log));
    free(cfg), free(log);
    if (rc) return -1;
    r->model_dir = dk_path_join(o->run, "model");
    char *w = dk_path_join(r->model_dir, "model.safetensors");
    if (!w || optional_in(r->model_dir, "dokja.json", &r->lineage)) {
        free(w);
        return -1;
    }
    /* the run's weights: as dokja.json records them, else hashed here */
    if (cJSON_IsString(item(r->lineage, "weights_sha256"))) snprintf(r->sha, sizeof r->sha, "%s", str(r->lineage, "weights_sha256", ""));
    else if (dk_path_exists(w) && dk_sha256_file(w, r->sha)) rc = -1;
    free(w);
    r->data_dir = find_data(r);
    if (!rc && r->data_dir) rc = optional_in(r->data_dir, "meta.json", &r->meta);
    /* the data card: given, in the run, beside the shards or one level up */
    if (!rc) rc = o->datacard ? dk_json_read_file(o->datacard, &r->card) : optional_in(o->run, "datacard.json", &r->card);
    if (!rc && !r->card && r->data_dir) rc = optional_in(r->data_dir, "datacard.json", &r->card);
    if (!rc && !r->card && r->data_dir) rc = optional_in(r->data_dir, "../datacard.json", &r->card);
    r->evals = dk_calloc((size_t)o->nevals + 1, sizeof *r->evals);
    if (!r->evals) rc = -1;
    for (int i = 0; !rc && i < o->nevals; i++) {
        if (dk_json_read_file(o->evals[i], &r->evals[i])) rc = -1;
        else if (!cJSON_IsObject(item(r->evals[i], "tasks"))) rc = dk_fail("%s: not a dokja eval results.json (no \"tasks\")", o->evals[i]);
    }
    if (!rc && o->arena) {
        dk_arena *a = NULL;
        if (!dk_path_exists(o->arena)) rc = dk_fail("%s: no such database", o->arena);
        else rc = dk_arena_open(&a, o->arena) || dk_arena_summary(a, o->bootstrap, o->seed, &r->arena) ? -1 : 0;
        dk_arena_close(a);
    }
    return rc;
}

int dk_report_write(const dk_report_options *o, const char *out_dir)
{
    report r = {.o = o};
    int rc = gather(&r);
    cJSON *comp = NULL;
    if (!rc && !(r.d = dk_doc_new())) rc = -1;
    if (!rc) {
        comp = dk_report_composite((const cJSON *const *)r.evals, o->nevals, r.sha[0] ? r.sha : NULL, r.arena, o->arena_model, o->weights);
        time_t now = time(NULL);
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
        const char *base = strrchr(o->run, '/') && strrchr(o->run, '/')[1] ? strrchr(o->run, '/') + 1 : o->run;
        dk_doc_heading(r.d, 1, "Report card: %s", base);
        dk_doc_text(r.d, "Run %s; model weights sha256 %s; written %s by dokja %s.", o->run, r.sha[0] ? r.sha : "(no model)", when, DK_VERSION);
        if (o->arena && !item(comp, "arena_model"))
            dk_doc_text(r.d, "This run's model is not in the arena database%s%s%s: the arena counts for nothing here.",
                        o->arena_model ? " under the name \"" : " (by its weights)", o->arena_model ? o->arena_model : "", o->arena_model ? "\"" : "");
        composite(&r, comp);
        training(&r);
        data(&r);
        rc = tokenizer(&r);
        benchmarks(&r, comp);
        arena(&r);
        if (!rc) rc = provenance(&r);
    }
    char *json = comp ? dk_path_join(out_dir, "report.json") : NULL;
    if (!rc) rc = dk_doc_write(r.d, out_dir, "dokja report card") || !json || dk_json_write_file(json, comp) ? -1 : 0;
    free(json);
    cJSON_Delete(comp);
    dk_doc_free(r.d);
    for (int i = 0; r.evals && i < o->nevals; i++) cJSON_Delete(r.evals[i]);
    free(r.evals);
    cJSON_Delete(r.config), cJSON_Delete(r.log), cJSON_Delete(r.lineage), cJSON_Delete(r.meta), cJSON_Delete(r.card), cJSON_Delete(r.arena);
    free(r.model_dir), free(r.data_dir);
    return rc;
}
