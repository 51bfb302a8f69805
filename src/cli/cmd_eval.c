/* dokja eval: benchmarks from tasks/NAME.json (or bits per byte of a text file)
 * on a model directory; results.json and a table on stdout. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"
#include "dokja/lm.h"
#include "dokja/peak.h"

/* The first of: the flag, the environment variable, a path relative to the
 * working directory, a path relative to the binary (build-x/dokja in a checkout). */
static char *find_dir(const char *flag, const char *env, const char *cwd_rel, const char *exe_rel)
{
    if (flag) return strdup(flag);
    if (getenv(env) && *getenv(env)) return strdup(getenv(env));
    if (dk_is_dir(cwd_rel)) return strdup(cwd_rel);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        char *p = dk_strdupf("%s/%s", exe, exe_rel);
        if (p && dk_is_dir(p)) return p;
        free(p);
    }
    return strdup(cwd_rel);
}

static cJSON *model_info(const char *dir, const dk_model *m, const dk_tokenizer *tok)
{
    cJSON *o = cJSON_CreateObject(), *lineage = NULL;
    char *p = dk_path_join(dir, "dokja.json");
    cJSON_AddStringToObject(o, "dir", dir);
    if (p && dk_path_exists(p) && !dk_json_read_file(p, &lineage)) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(lineage, "weights_sha256");
        if (cJSON_IsString(w)) cJSON_AddStringToObject(o, "weights_sha256", w->valuestring);
    }
    cJSON_Delete(lineage);
    free(p);
    cJSON_AddNumberToObject(o, "params", (double)m->nparams);
    cJSON_AddNumberToObject(o, "context", m->cfg.max_position_embeddings);
    cJSON_AddStringToObject(o, "tokenizer_sha256", dk_tokenizer_sha256(tok));
    return o;
}

static int list_tasks(const char *tasks_dir)
{
    char **names;
    int n;
    if (dk_task_list(tasks_dir, &names, &n)) return dk_cli_error();
    for (int i = 0; i < n; i++) {
        printf("%s\n", names[i]);
        free(names[i]);
    }
    free(names);
    return DK_EXIT_OK;
}

/* Runs one task (a spec, or the --text file when t is NULL) into tasks[name]. */
static int run_task(dk_model *m, const dk_tokenizer *tok, const char *tasks_dir, const char *data_dir, const char *name,
                    const char *text, int fewshot, int limit, int64_t seed, const dk_eval_options *o, cJSON *tasks)
{
    dk_task t;
    dk_eval_set set;
    cJSON *r = NULL;
    int rc;
    if (text) {
        /* bits per byte of one file needs no spec */
        memset(&t, 0, sizeof t);
        t.kind = DK_TASK_BPB;
        t.name = (char *)name;
        t.file = (char *)text;
        t.baseline = -1;
        rc = dk_eval_set_text(text, &set);
    } else {
        rc = dk_task_load(&t, tasks_dir, name);
        if (!rc && (rc = dk_eval_set_build(&t, data_dir, fewshot, limit, (uint64_t)seed, &set))) dk_task_free(&t);
    }
    if (rc) return -1;
    rc = dk_eval_run(m, tok, &t, &set, o, &r);
    if (!rc) {
        cJSON_AddNumberToObject(r, "fewshot", text ? 0 : fewshot >= 0 ? fewshot : t.k);
        cJSON_AddItemToObject(tasks, name, r);
    }
    dk_eval_set_free(&set);
    if (!text) dk_task_free(&t);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    char *model_dir = NULL, *task_list = NULL, *data_opt = NULL, *tasks_opt = NULL, *out = NULL, *text = NULL;
    int fewshot = -1, limit = 0, batch = 32, threads = 0;
    int64_t seed = 1234;
    bool no_reuse = false, no_records = false, list = false;
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "HF Llama model directory with its tokenizer.json"},
        {"tasks", DK_FIELD_STRING, &task_list, "A,B", "task names (tasks/<name>.json, kmmlu_<subject>, groups) or spec files"},
        {"text", DK_FIELD_STRING, &text, "FILE", "also: bits per byte of this text file (task \"bpb\")"},
        {"out", DK_FIELD_STRING, &out, "FILE", "results.json to write (metrics, per-row records, timing)"},
        {"data-dir", DK_FIELD_STRING, &data_opt, "DIR", "where the specs' paths start ($DOKJA_DATA, ../shared/data)"},
        {"tasks-dir", DK_FIELD_STRING, &tasks_opt, "DIR", "where the specs are ($DOKJA_TASKS, ./tasks, the checkout's)"},
        {"fewshot", DK_FIELD_INT, &fewshot, "K", "few-shot examples (default: each spec's)"},
        {"limit", DK_FIELD_INT, &limit, "N", "the first N rows of each task (of each subject); 0: all"},
        {"batch", DK_FIELD_INT, &batch, "N", "sequences per forward pass (default 32; fewer when their KV caches would pass 512 MiB)"},
        {"no-prefix-reuse", DK_FIELD_BOOL, &no_reuse, NULL, "run every choice's whole sequence (for comparison)"},
        {"no-records", DK_FIELD_BOOL, &no_records, NULL, "leave the per-row records out of results.json"},
        {"seed", DK_FIELD_I64, &seed, "S", "seed of the random few-shot draws (default 1234)"},
        {"list", DK_FIELD_BOOL, &list, NULL, "list the tasks and exit"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja eval --model DIR (--tasks NAME[,NAME...] | --text FILE) [--out results.json] [options]",
                  .summary = "Scores a model on benchmarks: multiple choice by log-likelihood (acc, acc_norm), generation\n"
                             "with an answer pattern (exact_match, f1), bits per byte. Prints a table with the random-guess\n"
                             "baseline of each score; --out keeps every number and each row's record (docs/eval.md).",
                  .opts = opts};
    dk_lm lm = {0};
    char *tasks_dir = NULL, *data_dir = NULL, **names = NULL;
    int nnames = 0;
    cJSON *results = NULL;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    tasks_dir = find_dir(tasks_opt, "DOKJA_TASKS", "tasks", "../tasks");
    data_dir = find_dir(data_opt, "DOKJA_DATA", "../shared/data", "../../shared/data");
    if (list) {
        rc = list_tasks(tasks_dir);
        goto done;
    }
    if (!model_dir || (!task_list && !text) || cli.npositional || batch < 1 || batch > 256 || limit < 0 || fewshot < -1) {
        fprintf(stderr, "dokja: eval needs --model DIR and --tasks or --text (1 <= --batch <= 256, --limit >= 0, --fewshot >= 0)\n"
                        "usage: %s (see --help)\n", cli.usage);
        goto done;
    }
    dk_set_threads(threads);
    rc = DK_EXIT_ERROR;
    /* every spec is checked before the model runs */
    if (task_list && dk_task_names(tasks_dir, task_list, &names, &nnames)) goto fail;
    for (int i = 0; i < nnames; i++) {
        dk_task t;
        if (dk_task_load(&t, tasks_dir, names[i])) goto fail;
        dk_task_free(&t);
    }
    if (dk_lm_open(&lm, model_dir)) goto fail;
    if (!lm.tok) {
        dk_fail("%s has no tokenizer.json: benchmarks are text", model_dir);
        goto fail;
    }
    dk_model *m = &lm.model;
    const dk_tokenizer *tok = lm.tok;
    results = cJSON_CreateObject();
    cJSON *cfg = cJSON_AddObjectToObject(results, "config");
    cJSON_AddItemToObject(results, "model", model_info(model_dir, m, tok));
    cJSON_AddNumberToObject(cfg, "limit", limit);
    cJSON_AddNumberToObject(cfg, "batch", batch);
    cJSON_AddBoolToObject(cfg, "prefix_reuse", !no_reuse);
    cJSON_AddNumberToObject(cfg, "seed", (double)seed);
    cJSON_AddStringToObject(cfg, "data_dir", data_dir);
    cJSON *tasks = cJSON_AddObjectToObject(results, "tasks");
    dk_eval_options o = {.batch = batch, .prefix_reuse = !no_reuse, .records = !no_records};
    for (int i = 0; i < nnames; i++)
        if (run_task(m, tok, tasks_dir, data_dir, names[i], NULL, fewshot, limit, seed, &o, tasks)) goto fail;
    if (text && run_task(m, tok, tasks_dir, data_dir, "bpb", text, 0, 0, seed, &o, tasks)) goto fail;
    if (out && dk_json_write_file(out, results)) goto fail;
    dk_eval_print(stdout, tasks);
    rc = DK_EXIT_OK;
    goto done;
fail:
    rc = dk_cli_error();
done:
    for (int i = 0; i < nnames; i++) free(names[i]);
    free(names);
    cJSON_Delete(results);
    dk_lm_close(&lm);
    free(tasks_dir), free(data_dir);
    free(model_dir), free(task_list), free(data_opt), free(tasks_opt), free(out), free(text);
    return rc;
}
