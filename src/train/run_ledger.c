/* The ledger records of a training run (docs/audit.md): what each session
 * read (data, tokenizer), how it was configured and built, where it started
 * (the step-0 weights, or a checkpoint), and every checkpoint it wrote. */
#include <dirent.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/ledger.h"
#include "dokja/progress.h"

#define INIT_SCHEME "normal-0.02-scaled"

static char *absolute(const char *path)
{
    char *abs = realpath(path, NULL);
    return abs ? abs : dk_strdupf("%s", path);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* meta.json and every train-/val- shard of a token directory, sorted. */
static int data_record(const char *run_dir, const char *data_dir, char head[DK_SHA256_HEX])
{
    DIR *d = opendir(data_dir);
    if (!d) return dk_fail("%s: cannot open the token directory", data_dir);
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        bool shard = (!strncmp(e->d_name, "train-", 6) || !strncmp(e->d_name, "val-", 4)) && len > 4 &&
                     !strcmp(e->d_name + len - 4, ".bin");
        if (!shard && strcmp(e->d_name, "meta.json")) continue;
        char **grown = realloc(names, sizeof *names * (size_t)(n + 1));
        rc = grown ? 0 : dk_fail("out of memory");
        if (!rc) names = grown, names[n] = dk_strdupf("%s", e->d_name), rc = names[n++] ? 0 : -1;
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    cJSON *rec = cJSON_CreateObject(), *files = cJSON_CreateArray();
    char *dir = absolute(data_dir);
    cJSON_AddStringToObject(rec, "dir", dir);
    cJSON_AddItemToObject(rec, "files", files);
    dk_progress prog;
    dk_progress_start(&prog, "hashing data", n);
    for (int i = 0; !rc && i < n; i++) {
        cJSON *f = dk_ledger_file(dir, names[i]);
        rc = f ? 0 : -1;
        cJSON_AddItemToArray(files, f);
        dk_progress_update(&prog, i + 1, NULL, NULL);
    }
    dk_progress_finish(&prog);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(dir);
    if (rc) {
        cJSON_Delete(rec);
        return -1;
    }
    return dk_ledger_append(run_dir, "data", rec, head);
}

static int tokenizer_record(const char *run_dir, const char *tokenizer_path, char head[DK_SHA256_HEX])
{
    char *abs = absolute(tokenizer_path), *slash = strrchr(abs, '/');
    cJSON *rec = cJSON_CreateObject(), *file = NULL;
    if (slash) {
        *slash = '\0';
        cJSON_AddStringToObject(rec, "dir", abs);
        file = dk_ledger_file(abs, slash + 1);
    } else file = dk_ledger_file(".", abs);
    free(abs);
    if (!file) {
        cJSON_Delete(rec);
        return -1;
    }
    cJSON_AddItemToObject(rec, "file", file);
    return dk_ledger_append(run_dir, "tokenizer", rec, head);
}

static int session_record(const dk_train_job *job, const dk_train_state *start, int ranks, char head[DK_SHA256_HEX])
{
    char *cfg_path = dk_path_join(job->out_dir, "config.json");
    cJSON *cfg = NULL;
    if (!cfg_path || dk_json_read_file(cfg_path, &cfg)) {
        free(cfg_path);
        return -1;
    }
    free(cfg_path);
    cJSON *rec = cJSON_CreateObject(), *from = cJSON_CreateObject();
    cJSON_AddItemToObject(rec, "config", cfg);
    cJSON_AddItemToObject(rec, "code", dk_ledger_code());
    cJSON_AddNumberToObject(rec, "threads", omp_get_max_threads());
    cJSON_AddNumberToObject(rec, "ranks", ranks);
    /* A replay must run on the same kind of device at the same precision. */
    const dk_backend *be = job->be ? job->be : dk_backend_cpu();
    cJSON_AddStringToObject(rec, "device", be->name);
    cJSON_AddStringToObject(rec, "precision", be->bf16 ? "bf16" : "fp32");
    if (!be->host_memory) cJSON_AddStringToObject(rec, "gpu", dk_backend_device_name(be));
    cJSON_AddNumberToObject(from, "step", (double)start->step);
    cJSON_AddNumberToObject(from, "samples", (double)start->samples);
    char *ckpt = dk_strdupf("ckpt/step-%08lld", (long long)start->step);
    cJSON_AddStringToObject(from, "from", start->step ? ckpt : "init");
    free(ckpt);
    cJSON_AddItemToObject(rec, "start", from);
    return dk_ledger_append(job->out_dir, "train", rec, head);
}

/* RUN/init/: the step-0 weights, as a model directory, and their record. */
static int init_record(const dk_train_job *job, const dk_model *m, const dk_model_dir_info *info, char head[DK_SHA256_HEX])
{
    if (dk_model_dir_publish(job->out_dir, "init", m, info)) return -1;
    cJSON *rec = cJSON_CreateObject(), *weights = dk_ledger_file(job->out_dir, "init/model.safetensors");
    if (!weights) {
        cJSON_Delete(rec);
        return -1;
    }
    if (job->init_from) {
        cJSON_AddStringToObject(rec, "scheme", "from-model");
        char *dir = absolute(job->init_from), *st = dk_path_join(dir, "model.safetensors"), *lineage = dk_path_join(dir, "dokja.json");
        cJSON *parent = cJSON_AddObjectToObject(rec, "parent"), *dj = NULL;
        cJSON_AddStringToObject(parent, "path", st ? st : "");
        cJSON_AddStringToObject(parent, "sha256", info->parent_sha256 ? info->parent_sha256 : "");
        /* The parent may live elsewhere later: verify checks it only when it is there. */
        cJSON_AddBoolToObject(parent, "optional", true);
        const cJSON *h = lineage && dk_json_read_file(lineage, &dj) == 0 ? cJSON_GetObjectItemCaseSensitive(dj, "ledger_head") : NULL;
        if (cJSON_IsString(h)) cJSON_AddStringToObject(parent, "ledger_head", h->valuestring);
        dk_clear_error();
        cJSON_Delete(dj);
        free(dir), free(st), free(lineage);
    } else {
        cJSON_AddStringToObject(rec, "scheme", INIT_SCHEME);
        cJSON_AddNumberToObject(rec, "seed", (double)job->train.seed);
        cJSON_AddNumberToObject(rec, "std", DK_INIT_STD);
    }
    cJSON_AddItemToObject(rec, "weights", weights);
    return dk_ledger_append(job->out_dir, "init", rec, head);
}

int dk_ledger_train_checkpoint(const char *run_dir, int64_t step, bool recovered, char head[DK_SHA256_HEX])
{
    char *dir = dk_strdupf("ckpt/step-%08lld", (long long)step), *state_rel = dir ? dk_path_join(dir, "state.json") : NULL;
    char *state_path = state_rel ? dk_path_join(run_dir, state_rel) : NULL;
    cJSON *state = NULL, *rec = NULL;
    int rc = state_path ? dk_json_read_file(state_path, &state) : -1;
    const char *keys[][2] = {{"weights", "model_sha256"}, {"optimizer", "optimizer_sha256"}};
    const char *files[] = {"model.safetensors", "optimizer.safetensors"};
    if (!rc) {
        rec = cJSON_CreateObject();
        cJSON_AddNumberToObject(rec, "step", (double)step);
        cJSON_AddItemToObject(rec, "samples", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(state, "samples"), 1));
        cJSON_AddItemToObject(rec, "loss", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(state, "loss"), 1));
        for (int k = 0; !rc && k < 2; k++) {
            const cJSON *sha = cJSON_GetObjectItemCaseSensitive(state, keys[k][1]);
            if (!cJSON_IsString(sha)) rc = dk_fail("%s: no \"%s\"", state_path, keys[k][1]);
            cJSON *f = cJSON_AddObjectToObject(rec, keys[k][0]);
            char *p = dk_path_join(dir, files[k]);
            cJSON_AddStringToObject(f, "path", p ? p : "");
            cJSON_AddStringToObject(f, "sha256", cJSON_IsString(sha) ? sha->valuestring : "");
            free(p);
        }
    }
    cJSON *sf = rc ? NULL : dk_ledger_file(run_dir, state_rel);
    if (!rc && !sf) rc = -1;
    if (!rc) {
        cJSON_AddItemToObject(rec, "state", sf);
        if (recovered) cJSON_AddBoolToObject(rec, "recovered", true);
        rc = dk_ledger_append(run_dir, "checkpoint", rec, head);
        rec = NULL;
    }
    cJSON_Delete(rec);
    cJSON_Delete(state);
    free(dir), free(state_rel), free(state_path);
    return rc;
}

/* Whether the ledger's newest checkpoint record is the one we resume from;
 * it is not when the run stopped between the checkpoint and its record, or
 * when later checkpoints were removed by hand. */
static int has_checkpoint_record(const char *run_dir, const dk_train_state *s, bool *has)
{
    dk_ledger l;
    if (dk_ledger_read(run_dir, &l)) return -1;
    *has = false;
    for (int i = l.count - 1; i >= 0; i--) {
        const cJSON *r = l.lines[i].record, *kind = cJSON_GetObjectItemCaseSensitive(r, "kind");
        if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "checkpoint")) continue;
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(r, "step");
        *has = cJSON_IsNumber(step) && step->valuedouble == (double)s->step;
        break;
    }
    dk_ledger_free(&l);
    return 0;
}

int dk_ledger_train_begin(const dk_train_job *job, const dk_model *m, const dk_train_state *start,
                          const dk_model_dir_info *info, int ranks, char head[DK_SHA256_HEX])
{
    bool has = true;
    int rc = start->step > 0 ? has_checkpoint_record(job->out_dir, start, &has) : 0;
    if (!rc && !has) rc = dk_ledger_train_checkpoint(job->out_dir, start->step, true, head);
    /* Rows a stage built itself (chat data) are that stage's to record. */
    if (!rc && job->data_dir) rc = data_record(job->out_dir, job->data_dir, head);
    if (!rc && info->tokenizer_path) rc = tokenizer_record(job->out_dir, info->tokenizer_path, head);
    if (!rc) rc = session_record(job, start, ranks, head);
    if (!rc && start->step == 0) rc = init_record(job, m, info, head);
    if (rc) dk_fail_context("%s: writing the ledger", job->out_dir);
    return rc;
}
