/* dokja speedrun: the pipeline's stages as child processes of this binary,
 * skipped when unchanged, sized to the time budget. */
#include "dokja/speedrun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/progress.h"
#include "dokja/sha256.h"
#include "dokja/shards.h"
#include "dokja/tokenizer.h"

extern char **environ;

/* Model and stage settings per --size. */
typedef struct {
    const char *name;
    int hidden, layers, heads, kv_heads, intermediate, context, seq_len, batch, vocab;
    int eval_limit; /* rows per task (per subject for KMMLU) */
} size_preset;

static const size_preset presets[] = {
    {"tiny", 64, 2, 2, 1, 176, 128, 64, 8, 1024, 4},
    {"small", 256, 4, 4, 2, 704, 512, 256, 16, 8192, 12},
    {"base", 512, 8, 8, 4, 1408, 1024, 512, 16, 16384, 40},
};

typedef struct {
    const dk_speedrun_job *job;
    const size_preset *p;
    double start, budget_s;
    char *dir; /* the run directory */
    char key[DK_SHA256_HEX]; /* the key of the last stage run or skipped: each stage's key chains it */
    cJSON *summary;    /* summary.json being built */
    cJSON *seconds;    /* per stage */
    int nstage, stages;
} run;

static char *path_in(const run *r, const char *name) { return dk_path_join(r->dir, name); }

/* ---- child processes ---- */

/* Runs `self args...` with stdin from in_path and stdout to out_path when given. */
static int spawn_io(const run *r, char *const *args, const char *in_path, const char *out_path)
{
    int n = 0;
    while (args[n]) n++;
    /* the training stages, and the measurement that sizes them, run on --device */
    bool on_device = r->job->device && (!strcmp(args[0], "train") || !strcmp(args[0], "sft") || !strcmp(args[0], "bench"));
    char **argv = calloc((size_t)n + 4, sizeof *argv);
    if (!argv) return dk_fail("out of memory");
    argv[0] = (char *)r->job->self;
    memcpy(argv + 1, args, sizeof *argv * (size_t)n);
    if (on_device) {
        argv[n + 1] = "--device";
        argv[n + 2] = (char *)r->job->device;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (in_path) posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    if (out_path) posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int err = posix_spawn(&pid, r->job->self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    if (err) return dk_fail("cannot run %s: %s", r->job->self, strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return dk_fail("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(status)) return dk_fail("dokja %s was killed by signal %d", args[0], WTERMSIG(status));
    if (WEXITSTATUS(status)) return dk_fail("dokja %s failed (exit %d); its message is above", args[0], WEXITSTATUS(status));
    return 0;
}

static int spawn(const run *r, char *const *args, const char *out_path) { return spawn_io(r, args, NULL, out_path); }

/* ---- keys and stamps ---- */

static void hash_str(dk_sha256 *h, const char *s) { dk_sha256_update(h, s, strlen(s) + 1); }

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every regular file under path, in name order: its relative name and content hash. */
static int hash_tree(dk_sha256 *h, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return dk_fail("%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        char sha[DK_SHA256_HEX];
        if (dk_sha256_file(path, sha)) return -1;
        hash_str(h, path);
        hash_str(h, sha);
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return dk_fail("%s: %s", path, strerror(errno));
    char **names = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char **grown = realloc(names, sizeof *names * (size_t)(n + 1));
        if (!grown || !(grown[n] = strdup(e->d_name))) {
            names = grown ? grown : names;
            rc = dk_fail("out of memory");
            break;
        }
        names = grown;
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; i < n; i++) {
        char *child = dk_path_join(path, names[i]);
        if (!rc) rc = child ? hash_tree(h, child) : -1;
        free(child);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* A stage's key: the previous stage's key, its arguments and its external inputs. */
static int stage_key(run *r, char *const *args, char *const *inputs, int ninputs, char key[DK_SHA256_HEX])
{
    dk_sha256 *h = dk_sha256_new();
    if (!h) return -1;
    hash_str(h, r->key);
    for (int i = 0; args[i]; i++) hash_str(h, args[i]);
    int rc = 0;
    for (int i = 0; !rc && i < ninputs; i++) rc = hash_tree(h, inputs[i]);
    dk_sha256_final(h, key);
    return rc;
}

static char *stamp_path(const run *r, const char *stage) { return dk_strdupf("%s/stages/%s.json", r->dir, stage); }

static bool stamp_matches(const run *r, const char *stage, const char *key)
{
    char *path = stamp_path(r, stage);
    cJSON *j = NULL;
    bool same = path && dk_path_exists(path) && dk_json_read_file(path, &j) == 0 &&
                cJSON_IsString(cJSON_GetObjectItem(j, "key")) && !strcmp(cJSON_GetObjectItem(j, "key")->valuestring, key);
    cJSON_Delete(j);
    free(path);
    return same;
}

static int write_stamp(const run *r, const char *stage, const char *key, double seconds)
{
    char *path = stamp_path(r, stage);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "key", key);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    int rc = path ? dk_json_write_file(path, j) : -1;
    cJSON_Delete(j);
    free(path);
    return rc;
}

/* Runs one stage unless its stamp says it is done with the same key. The
 * work callback runs the stage; `interrupted` tells it that an earlier run
 * of the stage began and did not finish (training then resumes). */
typedef int (*stage_fn)(run *r, bool interrupted, void *ctx);

static int stage(run *r, const char *name, char *const *args, char *const *inputs, int ninputs, stage_fn work, void *ctx)
{
    char key[DK_SHA256_HEX];
    r->nstage++;
    if (stage_key(r, args, inputs, ninputs, key)) return -1;
    double elapsed = dk_now() - r->start;
    fprintf(stderr, "\n== [%d/%d] %s  (%.0f s into a budget of %.0f s)\n", r->nstage, r->stages, name, elapsed, r->budget_s);
    double seconds = 0;
    if (stamp_matches(r, name, key)) {
        fprintf(stderr, "unchanged since the last run: skipped\n");
    } else {
        char *started = dk_strdupf("%s/stages/%s.started", r->dir, name);
        bool interrupted = started && dk_path_exists(started);
        int rc = !started ? -1 : dk_write_file_atomic(started, key, strlen(key));
        double t0 = dk_now();
        if (!rc) rc = work(r, interrupted, ctx);
        seconds = dk_now() - t0;
        if (!rc) rc = write_stamp(r, name, key, seconds);
        if (!rc) unlink(started);
        free(started);
        if (rc) return dk_fail_context("speedrun stage %s", name);
        fprintf(stderr, "%s: done in %.0f s\n", name, seconds);
    }
    cJSON_AddNumberToObject(r->seconds, name, seconds);
    memcpy(r->key, key, sizeof key);
    return 0;
}

/* ---- the stages ---- */

static int run_args(run *r, bool interrupted, void *ctx)
{
    (void)interrupted;
    return spawn(r, ctx, NULL);
}

static int run_fresh(run *r, bool interrupted, void *ctx)
{
    char *const *args = ctx;
    /* the output directory is the argument after --out / --output */
    for (int i = 0; args[i] && args[i + 1]; i++)
        if ((!strcmp(args[i], "--out") || !strcmp(args[i], "--output")) && dk_remove_tree(args[i + 1])) return -1;
    return run_args(r, interrupted, ctx);
}

/* Training stages resume when interrupted, else start afresh. */
typedef struct {
    char **args; /* ends with a slot for --resume and NULL */
    int resume_slot;
    const char *out;
} train_ctx;

static int run_training(run *r, bool interrupted, void *ctx)
{
    train_ctx *t = ctx;
    if (interrupted && dk_path_exists(t->out)) {
        t->args[t->resume_slot] = "--resume";
        fprintf(stderr, "resuming the interrupted run in %s\n", t->out);
    } else if (dk_remove_tree(t->out)) {
        return -1;
    }
    int rc = spawn(r, t->args, NULL);
    t->args[t->resume_slot] = NULL;
    return rc;
}

/* Training tokens per second of the model on this machine, from dokja bench train. */
static double measure_speed(run *r, const char *config)
{
    char *out = path_in(r, "stages/speed.json");
    char *args[] = {"bench", "train", "--config", (char *)config, "--steps", "8", "--warmup", "2", NULL};
    double tps = 0;
    cJSON *j = NULL;
    if (out && spawn(r, args, out) == 0 && dk_json_read_file(out, &j) == 0 && cJSON_IsNumber(cJSON_GetObjectItem(j, "tok_per_s")))
        tps = cJSON_GetObjectItem(j, "tok_per_s")->valuedouble;
    cJSON_Delete(j);
    free(out);
    return tps;
}

/* The pretraining configuration, with steps for `seconds` of training. */
static int write_train_config(run *r, const char *path, double seconds)
{
    const size_preset *p = r->p;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "hidden_size", p->hidden);
    cJSON_AddNumberToObject(j, "intermediate_size", p->intermediate);
    cJSON_AddNumberToObject(j, "num_hidden_layers", p->layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", p->heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", p->kv_heads);
    cJSON_AddNumberToObject(j, "max_position_embeddings", p->context);
    cJSON_AddNumberToObject(j, "vocab_size", p->vocab);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", 1);
    cJSON_AddNumberToObject(j, "batch_size", p->batch);
    cJSON_AddNumberToObject(j, "seq_len", p->seq_len);
    cJSON_AddNumberToObject(j, "steps", 2);
    int rc = dk_json_write_file(path, j);
    if (!rc && seconds > 0) {
        double tps = measure_speed(r, path);
        /* 70%: checkpoints, validation and a busier machine take the rest */
        int64_t steps = tps > 0 ? (int64_t)(0.7 * seconds * tps / ((double)p->batch * p->seq_len)) : 100;
        if (steps < 20) steps = 20;
        if (r->job->pretrain_steps > 0) steps = r->job->pretrain_steps;
        fprintf(stderr, "measured %.0f tokens/s: %lld steps of %d tokens fit %.0f s\n", tps, (long long)steps,
                p->batch * p->seq_len, seconds);
        cJSON_ReplaceItemInObject(j, "steps", cJSON_CreateNumber((double)steps));
        cJSON_AddNumberToObject(j, "warmup_steps", steps / 20 + 1);
        cJSON_AddNumberToObject(j, "lr", 3e-3);
        cJSON_AddNumberToObject(j, "min_lr", 3e-4);
        cJSON_AddNumberToObject(j, "checkpoint_every", steps / 10 + 1);
        cJSON_AddNumberToObject(j, "eval_every", steps / 10 + 1);
        cJSON_AddNumberToObject(j, "tok_per_s_measured", tps);
        rc = dk_json_write_file(path, j);
    }
    cJSON_Delete(j);
    return rc;
}

/* Copies the files of a model directory (flat) into dst, atomically. */
static int publish_model(run *r, const char *src, const char *name)
{
    char *dst = path_in(r, name), *tmp = dk_strdupf("%s/.tmp-%s", r->dir, name);
    int rc = !dst || !tmp ? -1 : dk_remove_tree(tmp);
    if (!rc) rc = dk_mkdirs(tmp);
    DIR *d = rc ? NULL : opendir(src);
    if (!rc && !d) rc = dk_fail("%s: %s", src, strerror(errno));
    struct dirent *e;
    while (!rc && d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *a = dk_path_join(src, e->d_name), *b = dk_path_join(tmp, e->d_name);
        rc = a && b ? dk_copy_file(a, b) : -1;
        free(a);
        free(b);
    }
    if (d) closedir(d);
    if (!rc) rc = dk_remove_tree(dst);
    if (!rc && rename(tmp, dst) != 0) rc = dk_fail("%s: %s", dst, strerror(errno));
    free(dst);
    free(tmp);
    return rc;
}

/* Held-out text (the validation split, decoded) and the unigram baseline's
 * bits per byte on it: every token priced by its smoothed frequency in the
 * training split. */
static int heldout(run *r, double *unigram_bpb)
{
    char *tok_path = path_in(r, "tokenizer.json"), *tokens = path_in(r, "tokens"), *out = path_in(r, "heldout.txt");
    dk_tokenizer *t = NULL;
    dk_loader tr = {0}, va = {0};
    int rc = !tok_path || !tokens || !out ? -1 : dk_tokenizer_load(&t, tok_path);
    if (!rc) rc = dk_loader_open(&tr, tokens, "train", 1, 0, 0, false);
    if (!rc) rc = dk_loader_open(&va, tokens, "val", 1, 0, 0, false);
    int V = t ? dk_tokenizer_vocab_size(t) : 0;
    double *counts = rc ? NULL : dk_calloc((size_t)V, sizeof *counts), total = 0;
    if (!rc && !counts) rc = -1;
    for (int s = 0; !rc && s < tr.nshards; s++)
        for (int64_t i = 0; i < tr.shards[s].ntokens; i++) {
            uint32_t id = dk_shard_token(&tr.shards[s], i);
            if (id < (uint32_t)V) counts[id]++, total++;
        }
    dk_afile f = {0};
    if (!rc) rc = dk_afile_open(&f, out);
    double bits = 0, bytes = 0;
    for (int s = 0; !rc && s < va.nshards && bytes < 400000; s++) {
        const dk_shard *sh = &va.shards[s];
        for (int64_t i = 0; !rc && i < sh->ntokens && bytes < 400000; i++) {
            int id = (int)dk_shard_token(sh, i);
            if (id == (int)sh->separator) {
                if (i > 0) rc = dk_afile_write(&f, "\n", 1);
                continue;
            }
            size_t len;
            const char *piece = dk_tokenizer_token_bytes(t, id, &len);
            if (!piece || dk_tokenizer_is_special(t, id)) continue;
            rc = dk_afile_write(&f, piece, len);
            bits += -log2((counts[id] + 1) / (total + V));
            bytes += (double)len;
        }
    }
    if (!rc) rc = dk_afile_commit(&f);
    else if (f.fp) dk_afile_abort(&f);
    *unigram_bpb = bytes > 0 ? bits / bytes : 0;
    free(counts);
    dk_loader_close(&tr);
    dk_loader_close(&va);
    dk_tokenizer_free(t);
    free(tok_path);
    free(tokens);
    free(out);
    return rc;
}

/* ---- the run ---- */

typedef struct {
    char *config;
    char *out;
    double seconds;
} pretrain_ctx;

static int run_pretrain(run *r, bool interrupted, void *ctx)
{
    pretrain_ctx *p = ctx;
    /* an interrupted run keeps the plan it started with */
    if (!(interrupted && dk_path_exists(p->config)) && write_train_config(r, p->config, p->seconds)) return -1;
    char *args[] = {"train", "--data", NULL, "--out", p->out, "--config", p->config, NULL, NULL};
    args[2] = path_in(r, "tokens");
    train_ctx t = {.args = args, .resume_slot = 7, .out = p->out};
    int rc = args[2] ? run_training(r, interrupted, &t) : -1;
    free(args[2]);
    if (!rc) {
        char *model = dk_path_join(p->out, "model");
        rc = model ? publish_model(r, model, "base") : -1;
        free(model);
    }
    return rc;
}

typedef struct {
    char **args;
    const char *out;
} sft_ctx;

static int run_sft(run *r, bool interrupted, void *ctx)
{
    sft_ctx *s = ctx;
    int n = 0;
    while (s->args[n]) n++;
    train_ctx t = {.args = s->args, .resume_slot = n, .out = s->out};
    int rc = run_training(r, interrupted, &t);
    if (!rc) {
        char *model = dk_path_join(s->out, "model");
        rc = model ? publish_model(r, model, "model") : -1;
        free(model);
    }
    return rc;
}

/* Sample conversations with the chat model, scripted through dokja chat
 * (a reply a line), written as question and answer pairs. */
static int run_transcripts(run *r, bool interrupted, void *ctx)
{
    (void)interrupted, (void)ctx;
    static const char *const questions[] = {"안녕하세요", "오늘 날씨가 어때?", "요즘 너무 피곤해", "좋아하는 음식이 뭐야?"};
    enum { NQ = sizeof questions / sizeof *questions };
    char *in = path_in(r, "stages/questions.txt"), *replies = path_in(r, "stages/replies.txt");
    char *out = path_in(r, "transcripts.md"), *model = path_in(r, "model");
    char *args[] = {"chat", "--model", model, "--temperature", "0.7", "--seed", "1", "--max-new-tokens", "60", NULL};
    char qtext[512] = "";
    for (int i = 0; i < NQ; i++) snprintf(qtext + strlen(qtext), sizeof qtext - strlen(qtext), "%s\n", questions[i]);
    int rc = !in || !out || !model || !replies ? -1 : dk_write_file_atomic(in, qtext, strlen(qtext));
    if (!rc) rc = spawn_io(r, args, in, replies);
    char *text = NULL;
    size_t len;
    if (!rc) rc = dk_read_file(replies, &text, &len);
    if (!rc) {
        dk_afile f;
        rc = dk_afile_open(&f, out);
        char *line = text;
        for (int i = 0; !rc && i < NQ; i++) {
            char *nl = line ? strchr(line, '\n') : NULL;
            if (nl) *nl = 0;
            char *pair = dk_strdupf("**user:** %s  \n**dokja:** %s\n\n", questions[i], line ? line : "");
            rc = pair ? dk_afile_write(&f, pair, strlen(pair)) : -1;
            free(pair);
            line = nl ? nl + 1 : NULL;
        }
        if (!rc) rc = dk_afile_commit(&f);
        else dk_afile_abort(&f);
    }
    free(text), free(in), free(replies), free(out), free(model);
    return rc;
}

static const size_preset *find_preset(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

static int pipeline(run *r)
{
    const dk_speedrun_job *job = r->job;
    const size_preset *p = r->p;
    char num[4][32];
    char *data = path_in(r, "data"), *tok = path_in(r, "tokenizer.json"), *tokens = path_in(r, "tokens");
    char *pre_cfg = path_in(r, "pretrain.json"), *pre = path_in(r, "pretrain"), *base = path_in(r, "base");
    char *chat = path_in(r, "chat.jsonl"), *sft = path_in(r, "sft"), *model = path_in(r, "model");
    char *eval = path_in(r, "eval.json"), *held = path_in(r, "heldout.txt"), *report = path_in(r, "report");
    int rc = !data || !tok || !tokens || !pre_cfg || !pre || !base || !chat || !sft || !model || !eval || !held || !report;
    if (rc) rc = dk_fail("out of memory");

    /* 1-3: data, vocabulary, tokens */
    char **a = calloc((size_t)job->ncorpus + 9, sizeof *a);
    int n = 0;
    if (!rc && !a) rc = dk_fail("out of memory");
    if (!rc) {
        /* .txt corpora here hold a document per line (comments, titles) */
        a[n++] = "data", a[n++] = "prepare", a[n++] = "--lines", a[n++] = "--input";
        for (int i = 0; i < job->ncorpus; i++) a[n++] = job->corpus[i];
        a[n++] = "--out", a[n++] = data, a[n] = NULL;
        rc = stage(r, "prepare", a, job->corpus, job->ncorpus, run_fresh, a);
    }
    snprintf(num[0], sizeof num[0], "%d", p->vocab);
    char *tk[] = {"tokenizer", "train", "--input", data, "--vocab-size", num[0], "--output", tok, NULL};
    if (!rc) rc = stage(r, "tokenizer", tk, NULL, 0, run_args, tk);
    char *tz[] = {"tokenize", "--tokenizer", tok, "--input", data, "--output", tokens, NULL};
    if (!rc) rc = stage(r, "tokenize", tz, NULL, 0, run_fresh, tz);
    double unigram = 0;
    if (!rc) rc = heldout(r, &unigram);

    /* 4: pretraining, sized to 55% of the budget */
    snprintf(num[1], sizeof num[1], "%.0f", job->budget_minutes);
    char fixed[32];
    snprintf(fixed, sizeof fixed, "%lld", job->pretrain_steps);
    char *pt[] = {"train", "--size", (char *)p->name, "--budget", num[1], "--steps", fixed, NULL};
    pretrain_ctx pc = {.config = pre_cfg, .out = pre, .seconds = 0.55 * r->budget_s};
    if (!rc) rc = stage(r, "pretrain", pt, NULL, 0, run_pretrain, &pc);

    /* 5-6: chat data and fine-tuning (15% of the budget) */
    free(a);
    a = calloc((size_t)job->nchat + 10, sizeof *a);
    n = 0;
    if (!rc && !a) rc = dk_fail("out of memory");
    if (!rc) {
        a[n++] = "data", a[n++] = "chat", a[n++] = "--from", a[n++] = "csv", a[n++] = "--input";
        for (int i = 0; i < job->nchat; i++) a[n++] = job->chat[i];
        a[n++] = "--out", a[n++] = chat, a[n] = NULL;
        rc = stage(r, "chat", a, job->chat, job->nchat, run_args, a);
    }
    double tps = 0;
    cJSON *plan = NULL;
    if (!rc && dk_json_read_file(pre_cfg, &plan) == 0 && cJSON_IsNumber(cJSON_GetObjectItem(plan, "tok_per_s_measured")))
        tps = cJSON_GetObjectItem(plan, "tok_per_s_measured")->valuedouble;
    cJSON_Delete(plan);
    int sft_seq = p->context < 256 ? p->context : 256;
    int64_t sft_steps = tps > 0 ? (int64_t)(0.7 * 0.15 * r->budget_s * tps / (8.0 * sft_seq)) : 50;
    snprintf(num[2], sizeof num[2], "%lld", (long long)(sft_steps < 10 ? 10 : sft_steps));
    snprintf(num[3], sizeof num[3], "%d", sft_seq);
    char *st[] = {"sft", "--model", base, "--data", chat, "--out", sft, "--epochs", "0", "--steps", num[2],
                  "--seq-len", num[3], NULL, NULL};
    sft_ctx sc = {.args = st, .out = sft};
    if (!rc) rc = stage(r, "sft", st, NULL, 0, run_sft, &sc);
    if (!rc) rc = stage(r, "transcripts", (char *[]){"chat", "transcripts", NULL}, NULL, 0, run_transcripts, NULL);

    /* 7: benchmarks and bits per byte of the pretrained model */
    char limit[32];
    snprintf(limit, sizeof limit, "%d", p->eval_limit);
    /* zero-shot, a few rows per task and per KMMLU subject: a check, not a leaderboard run */
    char *ev[] = {"eval", "--model", base, "--tasks", "kobest,kmmlu", "--fewshot", "0", "--limit", limit, "--text", held, "--out", eval,
                  "--data-dir", (char *)job->data_dir, NULL};
    if (!rc) rc = stage(r, "eval", ev, NULL, 0, run_args, ev);

    /* 8: the report card */
    char *rp[] = {"report", "--run", pre, "--eval", eval, "--out", report, NULL};
    if (!rc) rc = stage(r, "report", rp, NULL, 0, run_fresh, rp);

    /* summary.json */
    if (!rc) {
        cJSON *res = NULL;
        cJSON_AddNumberToObject(r->summary, "unigram_bpb", unigram);
        cJSON *bench = cJSON_AddObjectToObject(r->summary, "benchmarks");
        if (dk_json_read_file(eval, &res) == 0) {
            const cJSON *tasks = cJSON_GetObjectItem(res, "tasks"), *t;
            cJSON_ArrayForEach(t, tasks)
            {
                const cJSON *m = cJSON_GetObjectItem(t, "metrics"), *bpb = cJSON_GetObjectItem(m, "bpb");
                if (!strcmp(t->string, "bpb") && bpb) {
                    const cJSON *v = cJSON_IsObject(bpb) ? cJSON_GetObjectItem(bpb, "value") : bpb;
                    if (cJSON_IsNumber(v)) cJSON_AddNumberToObject(r->summary, "val_bpb", v->valuedouble);
                } else if (m) {
                    cJSON_AddItemToObject(bench, t->string, cJSON_Duplicate(m, 1));
                }
            }
        }
        cJSON_Delete(res);
    }
    free(a);
    free(data), free(tok), free(tokens), free(pre_cfg), free(pre), free(base), free(chat), free(sft), free(model);
    free(eval), free(held), free(report);
    return rc;
}

int dk_speedrun(const dk_speedrun_job *job)
{
    run r = {.job = job, .start = dk_now(), .budget_s = job->budget_minutes * 60, .stages = 9};
    if (!(r.p = find_preset(job->size))) return dk_fail("--size must be tiny, small or base, not \"%s\"", job->size);
    if (!(job->budget_minutes > 0)) return dk_fail("--budget-minutes must be positive");
    r.dir = strdup(job->out);
    char *stages = r.dir ? dk_path_join(r.dir, "stages") : NULL;
    int rc = !stages ? dk_fail("out of memory") : dk_mkdirs(stages);
    free(stages);
    memset(r.key, '0', 64);
    r.key[64] = 0;
    r.summary = cJSON_CreateObject();
    cJSON_AddStringToObject(r.summary, "size", r.p->name);
    cJSON_AddNumberToObject(r.summary, "budget_minutes", job->budget_minutes);
    r.seconds = cJSON_AddObjectToObject(r.summary, "seconds");
    if (!rc) rc = pipeline(&r);
    if (!rc) {
        cJSON_AddNumberToObject(r.summary, "total_seconds", dk_now() - r.start);
        char *sum = path_in(&r, "summary.json");
        rc = sum ? dk_json_write_file(sum, r.summary) : -1;
        free(sum);
    }
    if (!rc) {
        const cJSON *vb = cJSON_GetObjectItem(r.summary, "val_bpb"), *ub = cJSON_GetObjectItem(r.summary, "unigram_bpb");
        fprintf(stderr, "\n== done in %.0f s: validation %.3f bits per byte (unigram baseline %.3f)\n", dk_now() - r.start,
                cJSON_IsNumber(vb) ? vb->valuedouble : NAN, cJSON_IsNumber(ub) ? ub->valuedouble : NAN);
        printf("pretrained model: %s/base\nchat model:       %s/model\nreport:           %s/report/report.html\n"
               "summary:          %s/summary.json\n\n  dokja chat --model %s/model\n  dokja serve --model %s/model\n",
               r.dir, r.dir, r.dir, r.dir, r.dir, r.dir);
    }
    cJSON_Delete(r.summary);
    free(r.dir);
    return rc;
}
