/* dokja audit verify RUN: is the ledger intact, are the files it names the
 * ones it names, does re-running training between checkpoints give the same
 * bits, and do the step-0 weights look like the recorded initialisation?
 *
 * The ledger is read as a sequence of events: a "train" record starts a
 * session at a step, and checkpoint records with a later step written before
 * it are superseded (those checkpoints were abandoned or removed when the run
 * resumed from an earlier one); a later record of the same step replaces an
 * earlier one. The live states (init, then checkpoints by step) form the
 * intervals that can be replayed, each with the configuration and thread
 * count of the session that wrote its end. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/ledger.h"
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "dokja/rng.h"
#include "dokja/shards.h"
#include "dokja/stats.h"
#include "dokja/train.h"

/* KS on at most this many values of a tensor (evenly strided). */
#define KS_MAX 1048576

typedef struct {
    int line;
    int64_t step, samples;
    const char *weights, *optimizer; /* recorded sha256 */
    char *dir;                       /* "init" or "ckpt/step-N", under the run */
    int session;                     /* line of the train record in effect when written, -1: none */
} node;

typedef struct {
    char *path;
    char sha[DK_SHA256_HEX];
    int rc; /* 0 hashed, -1 missing or unreadable */
} hashed;

typedef struct {
    const char *run;
    const dk_verify_opts *o;
    FILE *out;
    dk_ledger l;
    cJSON *report, *problems;
    bool *live;
    node *nodes;
    int nnodes;
    hashed *cache;
    int ncache;
    bool chain; /* every link holds */
} verifier;

static void problem(verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verifier *v, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(v->out, "  FAIL %s\n", msg);
    cJSON_AddItemToArray(v->problems, cJSON_CreateString(msg));
}

static const char *str(const cJSON *obj, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static double num(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(n) ? n->valuedouble : fallback;
}

/* ---- the chain and the live states ---- */

static int add_node(verifier *v, int line, int64_t step, const cJSON *weights, const cJSON *opt, const char *dir, int session)
{
    for (int i = v->nnodes - 1; i >= 0; i--)
        if (v->nodes[i].step == step) { /* a later record of the same step replaces the earlier one */
            v->live[v->nodes[i].line] = false;
            free(v->nodes[i].dir);
            v->nodes[i] = v->nodes[--v->nnodes];
        }
    node *grown = realloc(v->nodes, sizeof *grown * (size_t)(v->nnodes + 1));
    if (!grown) return dk_fail("out of memory");
    v->nodes = grown;
    v->nodes[v->nnodes++] = (node){line, step, 0, str(weights, "sha256"), str(opt, "sha256"), dk_strdupf("%s", dir), session};
    v->live[line] = true;
    return 0;
}

static int by_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

static int by_step(const void *a, const void *b)
{
    const node *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

static int build_states(verifier *v)
{
    int session = -1, superseded = 0;
    for (int i = 0; i < v->l.count; i++) {
        const cJSON *r = v->l.lines[i].record;
        const char *kind = str(r, "kind");
        v->live[i] = r != NULL;
        if (!kind) continue;
        if (!strcmp(kind, "train")) {
            int64_t from = (int64_t)num(cJSON_GetObjectItemCaseSensitive(r, "start"), "step", 0);
            for (int k = v->nnodes - 1; k >= 0; k--)
                if (v->nodes[k].step > from || from == 0) {
                    v->live[v->nodes[k].line] = false;
                    superseded++;
                    free(v->nodes[k].dir);
                    v->nodes[k] = v->nodes[--v->nnodes];
                }
            session = i;
        } else if (!strcmp(kind, "init")) {
            if (add_node(v, i, 0, cJSON_GetObjectItemCaseSensitive(r, "weights"), NULL, "init", session)) return -1;
        } else if (!strcmp(kind, "checkpoint")) {
            int64_t step = (int64_t)num(r, "step", -1);
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(r, "weights");
            const char *path = str(w, "path"), *slash = path ? strrchr(path, '/') : NULL;
            if (step <= 0 || !slash) {
                char what[128];
                dk_ledger_describe(&v->l, i, what, sizeof what);
                problem(v, "%s: a checkpoint record needs \"step\" and \"weights\".\"path\"", what);
                continue;
            }
            char *dir = dk_strdupf("%.*s", (int)(slash - path), path);
            int rc = dir ? add_node(v, i, step, w, cJSON_GetObjectItemCaseSensitive(r, "optimizer"), dir, session) : -1;
            if (!rc) v->nodes[v->nnodes - 1].samples = (int64_t)num(r, "samples", -1);
            free(dir);
            if (rc) return -1;
        }
    }
    qsort(v->nodes, (size_t)v->nnodes, sizeof *v->nodes, by_step);
    if (superseded)
        fprintf(v->out, "  %d record(s) superseded by a later resume from an earlier step (not checked)\n", superseded);
    return 0;
}

/* ---- files ---- */

static const hashed *hash_of(verifier *v, const char *path)
{
    for (int i = 0; i < v->ncache; i++)
        if (!strcmp(v->cache[i].path, path)) return &v->cache[i];
    hashed *grown = realloc(v->cache, sizeof *grown * (size_t)(v->ncache + 1));
    if (!grown) return NULL;
    v->cache = grown;
    hashed *h = &v->cache[v->ncache++];
    h->path = dk_strdupf("%s", path);
    h->rc = dk_path_exists(path) ? dk_sha256_file(path, h->sha) : -1;
    return h;
}

/* The directory relative paths of a record resolve against. */
static const char *base_of(const verifier *v, const cJSON *rec)
{
    const char *kind = str(rec, "kind"), *dir = str(rec, "dir");
    if (dir && v->o->data_dir && kind && (!strcmp(kind, "data") || !strcmp(kind, "tokenizer"))) return v->o->data_dir;
    return dir ? dir : v->run;
}

/* Every {"path", "sha256"} object inside a record, at any depth. */
static void check_refs(verifier *v, int line, const cJSON *rec, const cJSON *node, int *checked)
{
    const char *path = str(node, "path"), *sha = str(node, "sha256");
    if (cJSON_IsObject(node) && path && sha) {
        char *full = path[0] == '/' ? dk_strdupf("%s", path) : dk_path_join(base_of(v, rec), path), what[128];
        const hashed *h = full ? hash_of(v, full) : NULL;
        dk_ledger_describe(&v->l, line, what, sizeof what);
        (*checked)++;
        if (!h) problem(v, "out of memory");
        else if (h->rc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(node, "optional")))
            fprintf(v->out, "  note: %s (named by %s) is not here; not checked\n", full, what);
        else if (h->rc) problem(v, "%s: named by %s, is missing or unreadable", full, what);
        else if (strcmp(h->sha, sha)) problem(v, "%s: sha256 differs from the one recorded in %s", full, what);
        free(full);
        dk_clear_error();
        return;
    }
    const cJSON *child;
    cJSON_ArrayForEach(child, node) check_refs(v, line, rec, child, checked);
}

static int line_with_sha(const verifier *v, const char *sha, int before)
{
    for (int i = 0; sha && i < before && i < v->l.count; i++)
        if (!strcmp(v->l.lines[i].sha256, sha)) return i;
    return -1;
}

/* A model directory's dokja.json names the ledger head when it was written:
 * that line must exist (before `before`), which anchors the ledger's tail to
 * the model, and the final model must hold the weights checkpointed by then. */
static void check_head(verifier *v, const char *dir, int before, bool final)
{
    char *path = dk_strdupf("%s/%s/dokja.json", v->run, dir);
    cJSON *j = NULL;
    if (!path || dk_json_read_file(path, &j)) {
        dk_clear_error();
        free(path);
        return;
    }
    const char *head = str(j, "ledger_head");
    int at = line_with_sha(v, head, before);
    if (head && at < 0) {
        /* With every link intact, only the newest line can have changed unnoticed by the chain. */
        char what[128] = "a record";
        if (v->chain) dk_ledger_describe(&v->l, before - 1, what, sizeof what);
        problem(v, "%s: its ledger_head %.12s… is no line of the ledger before it: %s was altered after this model was written",
                path, head, what);
    }
    for (int k = v->nnodes - 1; final && head && at >= 0 && k >= 0; k--) {
        if (v->nodes[k].line > at) continue;
        const char *w = str(j, "weights_sha256");
        if (!w || !v->nodes[k].weights || strcmp(w, v->nodes[k].weights))
            problem(v, "%s: weights_sha256 is not that of the checkpoint at step %lld recorded before its ledger head", path,
                    (long long)v->nodes[k].step);
        break;
    }
    cJSON_Delete(j);
    free(path);
}

static void check_files(verifier *v, cJSON *json)
{
    int checked = 0, before = (int)cJSON_GetArraySize(v->problems);
    for (int i = 0; i < v->l.count; i++)
        if (v->live[i]) check_refs(v, i, v->l.lines[i].record, v->l.lines[i].record, &checked);
    for (int k = 0; k < v->nnodes; k++) check_head(v, v->nodes[k].dir, v->nodes[k].line, false);
    if (dk_is_dir(v->run) && v->l.count) {
        char *model = dk_path_join(v->run, "model");
        if (model && dk_is_dir(model)) check_head(v, "model", v->l.count, true);
        free(model);
    }
    int failed = cJSON_GetArraySize(v->problems) - before;
    fprintf(v->out, "files: %d named by live records, %s\n", checked, failed ? "some FAIL (above)" : "all match");
    cJSON_AddNumberToObject(json, "checked", checked);
    cJSON_AddNumberToObject(json, "failed", failed);
}

/* ---- replay ---- */

/* The model and training configuration of a session record. */
static int session_config(const verifier *v, int session, dk_model_config *mc, dk_train_config *tc, int *threads, int *ranks)
{
    char what[128];
    dk_ledger_describe(&v->l, session, what, sizeof what);
    const cJSON *r = session >= 0 ? v->l.lines[session].record : NULL, *cfg = cJSON_GetObjectItemCaseSensitive(r, "config");
    dk_model_config_default(mc);
    dk_train_config_default(tc);
    if (!cJSON_IsObject(cfg)) return dk_fail("%s: no \"config\" to replay with", session >= 0 ? what : "the ledger");
    *threads = (int)num(r, "threads", 0);
    *ranks = (int)num(r, "ranks", 1);
    if (dk_fields_from_json(dk_model_config_fields, mc, cfg, what) || dk_fields_from_json(dk_train_config_fields, tc, cfg, what) ||
        dk_model_config_validate(mc, what) || dk_train_config_validate(tc, mc, what))
        return -1;
    return 0;
}

static const char *data_dir_of(const verifier *v, int session)
{
    if (v->o->data_dir) return v->o->data_dir;
    for (int i = session; i >= 0; i--)
        if (str(v->l.lines[i].record, "kind") && !strcmp(str(v->l.lines[i].record, "kind"), "data"))
            return str(v->l.lines[i].record, "dir");
    return NULL;
}

/* The device a session trained on (the CPU in ledgers older than the GPU
 * backend), when this machine has it: a GPU run repeats its bits on the same
 * GPU model only, since another may get other matmul algorithms. */
static const dk_backend *session_backend(const verifier *v, int session)
{
    const cJSON *r = v->l.lines[session].record;
    const dk_backend *be = dk_backend_get(str(r, "device") ? str(r, "device") : "cpu", str(r, "precision"));
    const char *gpu = str(r, "gpu");
    if (be && !be->host_memory && gpu && strcmp(gpu, dk_backend_device_name(be))) {
        dk_fail("trained on %s; this machine's GPU is %s", gpu, dk_backend_device_name(be));
        return NULL;
    }
    return be;
}

/* The replay's end state through the checkpoint writer, its moments copied
 * off the device first. */
static int save_replayed(const char *dir, dk_model *m, const dk_adamw *o, const dk_train_state *state)
{
    dk_model_download(m);
    if (!o->be) return dk_checkpoint_save(dir, m, o, state, NULL);
    dk_adamw host = {.n = o->n, .lo = 0, .hi = o->n, .m = dk_malloc(sizeof(float) * o->n), .v = dk_malloc(sizeof(float) * o->n)};
    int rc = host.m && host.v ? dk_adamw_download(o, host.m, host.v) : -1;
    if (!rc) rc = dk_checkpoint_save(dir, m, &host, state, NULL);
    free(host.m);
    free(host.v);
    return rc;
}

/* Trains from state a to state b with b's session and returns the sha256 of
 * the weights and moments it ends with, written exactly as a checkpoint is. */
static int replay(verifier *v, const node *a, const node *b, dk_progress *prog, int64_t *done, char wsha[DK_SHA256_HEX],
                  char osha[DK_SHA256_HEX], int64_t *samples)
{
    dk_model_config mc;
    dk_train_config tc;
    int threads, ranks;
    dk_model m = {0};
    dk_adamw o = {0};
    dk_loader loader = {0};
    dk_train_state state = {0};
    char *tmp = NULL;
    int rc = session_config(v, b->session, &mc, &tc, &threads, &ranks);
    const char *data = rc ? NULL : data_dir_of(v, b->session);
    if (!rc && !data) rc = dk_fail("no data record before the session that wrote step %lld", (long long)b->step);
    if (!rc) {
        dk_set_threads(threads);
        rc = dk_model_create(&m, &mc);
    }
    if (!rc) rc = dk_adamw_create(&o, m.nparams);
    if (!rc && a->step == 0) {
        char *w = dk_strdupf("%s/%s/model.safetensors", v->run, a->dir);
        rc = w ? dk_model_load_weights(&m, w) : -1;
        free(w);
    } else if (!rc) {
        char *dir = dk_path_join(v->run, a->dir);
        rc = dir ? dk_checkpoint_load(dir, &m, &o, &state) : -1;
        free(dir);
    }
    if (!rc) rc = dk_loader_open(&loader, data, "train", tc.seq_len, mc.vocab_size, (uint64_t)tc.seed, true);
    const dk_backend *be = rc ? NULL : session_backend(v, b->session);
    if (!rc && (!be || dk_model_use(&m, be) || dk_adamw_use(&o, be))) rc = -1;
    m.recompute = tc.recompute;
    if (!rc) rc = dk_model_alloc_acts(&m, tc.batch_size, tc.seq_len, tc.seq_len, true);
    dk_rows rows;
    dk_rows_from_loader(&rows, &loader);
    dk_train_feed feed = {.rows = &rows, .state = &state, .batch_size = tc.batch_size};
    for (int64_t s = a->step; !rc && s < b->step; s++) {
        double loss, norm;
        rc = dk_train_step(&m, &o, &tc, s, dk_train_feed_batch, &feed, &loss, &norm);
        state.step = s + 1;
        state.loss = loss;
        dk_progress_update(prog, ++*done, NULL, NULL);
    }
    /* The end state goes through the checkpoint writer, so its bytes are what training would have written. */
    const char *base = getenv("TMPDIR");
    if (!rc) tmp = dk_strdupf("%s/dokja-replay-XXXXXX", base && *base ? base : "/tmp");
    if (!rc && (!tmp || !mkdtemp(tmp))) rc = dk_fail("cannot create a temporary directory for the replay");
    if (!rc) rc = save_replayed(tmp, &m, &o, &state);
    if (!rc) {
        char *sp = dk_strdupf("%s/ckpt/step-%08lld/state.json", tmp, (long long)state.step);
        cJSON *sj = NULL;
        rc = sp ? dk_json_read_file(sp, &sj) : -1;
        if (!rc) {
            snprintf(wsha, DK_SHA256_HEX, "%s", str(sj, "model_sha256") ? str(sj, "model_sha256") : "");
            snprintf(osha, DK_SHA256_HEX, "%s", str(sj, "optimizer_sha256") ? str(sj, "optimizer_sha256") : "");
        }
        cJSON_Delete(sj);
        free(sp);
    }
    if (tmp && dk_is_dir(tmp)) dk_remove_tree(tmp);
    *samples = state.samples;
    free(tmp);
    dk_loader_close(&loader);
    dk_adamw_free(&o);
    dk_model_free(&m);
    dk_train_config_free(&tc);
    return rc;
}

/* One process replays what one process trained, from token shards, on the
 * device it trained on; a data-parallel session sums its gradients in
 * another order, and rows that a stage built itself (chat data) are not in
 * the ledger to re-read. */
static bool replayable(const verifier *v, const node *b)
{
    const cJSON *r = b->session >= 0 ? v->l.lines[b->session].record : NULL;
    return r && num(r, "ranks", 1) == 1 && data_dir_of(v, b->session) && session_backend(v, b->session);
}

/* A different build may round differently: worth a note when a replay differs. */
static void note_code(const verifier *v, const node *b)
{
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(v->l.lines[b->session].record, "code");
    cJSON *now = dk_ledger_code();
    const char *then = str(code, "commit"), *here = str(now, "commit");
    if (then && here && strcmp(then, here))
        fprintf(v->out, "  note: step %lld was written by commit %.12s, replayed by %.12s\n", (long long)b->step, then, here);
    cJSON_Delete(now);
}

static void check_replay(verifier *v, cJSON *json)
{
    int n = v->nnodes > 0 ? v->nnodes - 1 : 0, m = 0;
    int *pick = dk_malloc(sizeof *pick * (size_t)(n ? n : 1));
    if (!pick) {
        problem(v, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        if (replayable(v, &v->nodes[i + 1])) pick[m++] = i;
    int k = v->o->samples < m ? v->o->samples : m;
    dk_rng rng;
    dk_rng_seed(&rng, v->o->seed);
    for (int i = 0; i < k; i++) { /* the first k of a seeded shuffle */
        int j = i + (int)dk_rng_below(&rng, (uint64_t)(m - i)), t = pick[i];
        pick[i] = pick[j], pick[j] = t;
    }
    qsort(pick, (size_t)k, sizeof *pick, by_int);
    fprintf(v->out, "replay: %d of %d checkpoint intervals, chosen with --seed %llu\n", k, n, (unsigned long long)v->o->seed);
    if (m < n)
        fprintf(v->out, "  %d interval(s) cannot be replayed here (trained on several ranks, from rows not in token shards, or "
                "on a GPU this machine lacks)\n",
                n - m);
    cJSON_AddNumberToObject(json, "seed", (double)v->o->seed);
    cJSON_AddNumberToObject(json, "intervals", n);
    cJSON_AddNumberToObject(json, "replayable", m);
    cJSON *rows = cJSON_AddArrayToObject(json, "checked");
    int64_t total = 0, done = 0;
    for (int i = 0; i < k; i++) total += v->nodes[pick[i] + 1].step - v->nodes[pick[i]].step;
    dk_progress prog;
    dk_progress_start(&prog, "replay", total);
    for (int i = 0; i < k; i++) {
        const node *a = &v->nodes[pick[i]], *b = &v->nodes[pick[i] + 1];
        char what[128], wsha[DK_SHA256_HEX] = "", osha[DK_SHA256_HEX] = "";
        dk_ledger_describe(&v->l, b->line, what, sizeof what);
        int64_t samples = -1;
        double t0 = dk_now();
        int rc = replay(v, a, b, &prog, &done, wsha, osha, &samples);
        double secs = dk_now() - t0;
        bool same = !rc && b->weights && b->optimizer && !strcmp(wsha, b->weights) && !strcmp(osha, b->optimizer) &&
                    samples == b->samples;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "from_step", (double)a->step);
        cJSON_AddNumberToObject(row, "to_step", (double)b->step);
        cJSON_AddStringToObject(row, "record", what);
        cJSON_AddStringToObject(row, "expected_weights_sha256", b->weights ? b->weights : "");
        cJSON_AddStringToObject(row, "replayed_weights_sha256", wsha);
        cJSON_AddBoolToObject(row, "identical", same);
        cJSON_AddNumberToObject(row, "seconds", secs);
        cJSON_AddItemToArray(rows, row);
        if (!rc && !same) note_code(v, b);
        if (rc) problem(v, "replay of step %lld -> %lld could not run: %s", (long long)a->step, (long long)b->step, dk_error());
        else if (!same)
            problem(v, "replay of step %lld -> %lld: weights %.12s… optimizer %.12s… samples %lld; %s records weights %.12s… "
                       "optimizer %.12s… samples %lld",
                    (long long)a->step, (long long)b->step, wsha, osha, (long long)samples, what, b->weights ? b->weights : "-",
                    b->optimizer ? b->optimizer : "-", (long long)b->samples);
        else
            fprintf(v->out, "  step %lld -> %lld: identical (weights %.16s…, optimizer %.16s…) [%.1f s]\n", (long long)a->step,
                    (long long)b->step, wsha, osha, secs);
    }
    dk_progress_finish(&prog);
    free(pick);
}

/* ---- initialisation ---- */

static void check_init(verifier *v, cJSON *json)
{
    const node *init = v->nnodes && v->nodes[0].step == 0 ? &v->nodes[0] : NULL;
    if (!init) {
        problem(v, "no init record: the run's starting weights are not in the ledger");
        return;
    }
    const cJSON *r = v->l.lines[init->line].record;
    const char *scheme = str(r, "scheme");
    cJSON_AddStringToObject(json, "scheme", scheme ? scheme : "");
    if (!scheme || strcmp(scheme, "normal-0.02-scaled")) {
        fprintf(v->out, "init: scheme \"%s\" (from another model, sha256 %.16s…): the KS test does not apply\n", scheme ? scheme : "?",
                str(cJSON_GetObjectItemCaseSensitive(r, "parent"), "sha256") ? str(cJSON_GetObjectItemCaseSensitive(r, "parent"), "sha256") : "?");
        return;
    }
    dk_model_config mc;
    dk_train_config tc;
    int threads, ranks;
    dk_model m = {0}, fresh = {0};
    char *w = dk_strdupf("%s/init/model.safetensors", v->run);
    int rc = session_config(v, init->session, &mc, &tc, &threads, &ranks);
    if (!rc) rc = dk_model_create(&m, &mc);
    if (!rc) rc = w ? dk_model_load_weights(&m, w) : -1;
    if (!rc) rc = dk_model_create(&fresh, &mc);
    uint64_t seed = (uint64_t)num(r, "seed", 0);
    if (!rc) rc = dk_model_init(&fresh, seed);
    float *buf = rc ? NULL : dk_malloc(sizeof *buf * KS_MAX);
    if (!rc && !buf) rc = -1;
    if (rc) {
        problem(v, "init: %s", dk_error());
        goto done;
    }
    bool same = !memcmp(m.param_block, fresh.param_block, sizeof(float) * m.nparams);
    fprintf(v->out, "init: scheme %s, seed %llu; regenerated from the seed: %s\n", scheme, (unsigned long long)seed,
            same ? "identical" : "DIFFERENT");
    if (!same) problem(v, "init: the weights in init/model.safetensors are not what seed %llu gives", (unsigned long long)seed);
    cJSON_AddNumberToObject(json, "seed", (double)seed);
    cJSON_AddBoolToObject(json, "regenerated_identical", same);
    double cut = v->o->alpha / m.ntensors;
    fprintf(v->out, "  Kolmogorov-Smirnov per tensor against the scheme (a tensor fails below p = %.2g, i.e. %g over %d tensors)\n"
                    "  %-48s %9s %9s %9s %9s\n",
            cut, v->o->alpha, m.ntensors, "tensor", "n", "std", "D", "p");
    cJSON *rows = cJSON_AddArrayToObject(json, "tensors");
    for (int i = 0; i < m.ntensors; i++) {
        const dk_param_tensor *t = &m.tensors[i];
        const float *x = m.param_block + t->offset;
        double sd = dk_model_init_std(&m, t), D = 0, p = 1;
        size_t stride = (t->numel + KS_MAX - 1) / KS_MAX, n = 0;
        bool ok;
        if (t->ndim == 1) { /* norm weights start at exactly 1 */
            ok = true;
            for (size_t k = 0; k < t->numel; k++) ok &= x[k] == 1.0f;
            n = t->numel;
        } else {
            for (size_t k = 0; k < t->numel; k += stride) buf[n++] = x[k];
            dk_ks_normal(buf, n, sd, &D, &p);
            ok = p >= cut;
        }
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "tensor", t->name);
        cJSON_AddNumberToObject(row, "n", (double)n);
        cJSON_AddNumberToObject(row, "std", sd);
        if (t->ndim == 2) cJSON_AddNumberToObject(row, "D", D), cJSON_AddNumberToObject(row, "p", p);
        cJSON_AddBoolToObject(row, "ok", ok);
        cJSON_AddItemToArray(rows, row);
        if (t->ndim == 1) fprintf(v->out, "  %-48s %9zu %9s %9s %9s%s\n", t->name, n, "all 1", "", "", ok ? "" : "  NOT 1");
        else fprintf(v->out, "  %-48s %9zu %9.5f %9.5f %9.3g%s\n", t->name, n, sd, D, p, ok ? "" : "  FAIL");
        if (!ok) problem(v, "init: %s does not follow %s (%s)", t->name, scheme, t->ndim == 1 ? "not all ones" : "KS p below the cut");
    }
done:
    free(buf);
    free(w);
    dk_model_free(&m);
    dk_model_free(&fresh);
    dk_train_config_free(&tc);
}

int dk_audit_verify(const char *run_dir, const dk_verify_opts *o, FILE *out, cJSON **report, bool *passed)
{
    verifier v = {.run = run_dir, .o = o, .out = out};
    *report = NULL;
    *passed = false;
    if (!dk_is_dir(run_dir)) return dk_fail("%s: not a run directory", run_dir);
    if (dk_ledger_read(run_dir, &v.l)) return -1;
    if (v.l.count == 0 && !v.l.torn) {
        dk_ledger_free(&v.l);
        return dk_fail("%s/%s: no ledger records (a run trained before the ledger existed?)", run_dir, DK_LEDGER_FILE);
    }
    v.live = dk_calloc((size_t)v.l.count + 1, sizeof *v.live);
    if (!v.live) {
        dk_ledger_free(&v.l);
        return -1;
    }
    cJSON *r = v.report = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "verify");
    cJSON_AddStringToObject(r, "run", run_dir);
    v.problems = cJSON_AddArrayToObject(r, "problems");
    fprintf(out, "dokja audit verify %s\n", run_dir);
    bool chain = v.chain = dk_ledger_check(&v.l) == 0;
    cJSON *lj = cJSON_AddObjectToObject(r, "ledger");
    cJSON_AddNumberToObject(lj, "records", v.l.count);
    cJSON_AddBoolToObject(lj, "chain_intact", chain);
    cJSON_AddStringToObject(lj, "head", v.l.count ? v.l.lines[v.l.count - 1].sha256 : "");
    fprintf(out, "ledger: %d records, head %.16s…, chain %s\n", v.l.count, v.l.count ? v.l.lines[v.l.count - 1].sha256 : "",
            chain ? "intact" : "BROKEN");
    if (!chain) problem(&v, "%s", dk_error());
    int rc = build_states(&v);
    if (!rc) {
        check_files(&v, cJSON_AddObjectToObject(r, "files"));
        check_replay(&v, cJSON_AddObjectToObject(r, "replay"));
        check_init(&v, cJSON_AddObjectToObject(r, "init"));
        int n = cJSON_GetArraySize(v.problems);
        *passed = n == 0;
        cJSON_AddBoolToObject(r, "passed", *passed);
        if (*passed) fprintf(out, "verdict: PASS (every check above holds)\n");
        else fprintf(out, "verdict: FAIL (%d problem%s; first: %s)\n", n, n == 1 ? "" : "s", cJSON_GetArrayItem(v.problems, 0)->valuestring);
        if (!*passed) dk_fail("%s", cJSON_GetArrayItem(v.problems, 0)->valuestring);
    }
    for (int i = 0; i < v.nnodes; i++) free(v.nodes[i].dir);
    for (int i = 0; i < v.ncache; i++) free(v.cache[i].path);
    free(v.nodes);
    free(v.cache);
    free(v.live);
    dk_ledger_free(&v.l);
    if (rc) cJSON_Delete(r);
    else *report = r;
    return rc;
}
