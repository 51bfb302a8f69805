/* The training loop: data -> forward -> backward -> clip -> AdamW, with
 * validation, logs, checkpoints and the final model directory. */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/ledger.h"
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "dokja/sha256.h"
#include "dokja/shards.h"
#include "dokja/train.h"

typedef struct {
    const dk_train_job *job;
    const dk_train_config *tc;
    const dk_dist *dist; /* the job's world, or `alone` */
    dk_dist alone;
    bool lead;           /* rank 0: writes logs, checkpoints and the model */
    int B;               /* this rank's sequences per micro-batch */
    dk_model model;
    dk_adamw opt;
    dk_loader train_loader, val_loader; /* when the rows come from token shards */
    dk_rows shard_train, shard_val;
    dk_rows *train, *val;
    int *pos, *seg; /* (B, T) positions and segments of packed rows */
    bool have_val;
    dk_train_state state;
    char *tokenizer_path;
    char *run_id;
    char *parent_sha256;
    dk_model_dir_info info;                 /* what goes into every model directory written */
    char ledger_head[DK_SHA256_HEX];        /* sha256 of the last ledger line (rank 0) */
    FILE *log;
    double peak_flops;
} trainer;

/* The run's config.json: model and training keys in one flat object, so it
 * can be given back to `dokja train --config`. */
static int write_run_config(const trainer *t)
{
    cJSON *j = dk_model_config_to_json(&t->model.cfg);
    dk_fields_to_json(dk_train_config_fields, t->tc, j);
    if (t->job->data_dir) cJSON_AddStringToObject(j, "data", t->job->data_dir);
    char *path = dk_path_join(t->job->out_dir, "config.json");
    int rc = path ? dk_json_write_file(path, j) : -1;
    free(path);
    cJSON_Delete(j);
    return rc;
}

/* On resume the log keeps the lines of the steps the checkpoint covers. */
static int open_log(trainer *t)
{
    char *path = dk_path_join(t->job->out_dir, "log.jsonl");
    if (!path) return -1;
    char *kept = NULL;
    size_t kept_len = 0;
    if (t->state.step > 0) {
        char *old;
        size_t len;
        if (dk_read_file(path, &old, &len) == 0) {
            kept = dk_malloc(len + 1);
            for (char *line = old, *next; kept && line < old + len; line = next) {
                next = strchr(line, '\n');
                next = next ? next + 1 : old + len;
                long long step = -1;
                if (sscanf(line, "{\"step\":%lld", &step) == 1 && step <= t->state.step) {
                    memcpy(kept + kept_len, line, (size_t)(next - line));
                    kept_len += (size_t)(next - line);
                }
            }
            free(old);
        }
    }
    int rc = dk_write_file_atomic(path, kept ? kept : "", kept_len);
    free(kept);
    if (!rc) {
        t->log = fopen(path, "ab");
        if (!t->log) rc = dk_fail("%s: %s", path, strerror(errno));
    }
    free(path);
    return rc;
}

/* Training and validation batches: rows drawn from a data position. */
static dk_train_feed feed_of(trainer *t, dk_rows *rows, dk_train_state *at)
{
    return (dk_train_feed){.rows = rows, .state = at, .batch_size = t->tc->batch_size, .rank = t->dist->rank,
                           .pos = t->pos, .seg = t->seg};
}

static double validation_loss(trainer *t)
{
    int B = t->tc->batch_size, T = t->tc->seq_len;
    int batches = t->tc->eval_batches;
    if ((int64_t)batches * B > t->val->count) batches = (int)(t->val->count / B);
    if (batches == 0) return NAN;
    double sum = 0;
    for (int i = 0; i < batches; i++) {
        dk_train_state at = {.samples = (int64_t)i * B};
        dk_train_feed f = feed_of(t, t->val, &at);
        dk_train_feed_batch(&t->model, &f);
        double mean = dk_model_forward(&t->model, t->B, T);
        if (dk_dist_mean(t->dist, mean, 1.0, &mean, NULL)) dk_dist_abort(t->dist, dk_error());
        sum += mean;
    }
    return sum / batches;
}

/* Checkpoints hold the whole optimizer state: a sharded one is gathered on
 * rank 0 for writing, and every rank reads the whole and keeps its shard,
 * so a run can resume on any number of ranks. */
static int save_checkpoint(trainer *t, const dk_model_dir_info *info)
{
    dk_adamw *o = &t->opt, whole = {.n = o->n, .lo = 0, .hi = o->n};
    int rc = 0;
    dk_model_download(&t->model);
    /* this rank's moments in host memory: copied off the device first */
    size_t shard = o->hi - o->lo;
    float *m = o->m, *v = o->v;
    if (o->be) {
        m = dk_malloc(sizeof(float) * (shard ? shard : 1));
        v = dk_malloc(sizeof(float) * (shard ? shard : 1));
        if (!m || !v) dk_dist_abort(t->dist, dk_error());
        dk_adamw_download(o, m, v);
    }
    if (t->dist->size > 1) {
        if (t->lead) {
            whole.m = dk_malloc(sizeof(float) * o->n);
            whole.v = dk_malloc(sizeof(float) * o->n);
            if (!whole.m || !whole.v) dk_dist_abort(t->dist, dk_error());
        }
        if (dk_dist_gather_shard(t->dist, m, whole.m, o->n) || dk_dist_gather_shard(t->dist, v, whole.v, o->n))
            dk_dist_abort(t->dist, dk_error());
    } else {
        whole.m = m, whole.v = v;
    }
    if (t->lead) rc = dk_checkpoint_save(t->job->out_dir, &t->model, &whole, &t->state, info);
    if (t->lead && !rc) rc = dk_ledger_train_checkpoint(t->job->out_dir, t->state.step, false, t->ledger_head);
    if (t->dist->size > 1) {
        free(whole.m);
        free(whole.v);
    }
    if (o->be) {
        free(m);
        free(v);
    }
    if (t->dist->size > 1) {
        /* Everyone stops together when rank 0 could not write. */
        int ok = rc == 0;
        if (dk_dist_bcast(t->dist, &ok, sizeof ok)) dk_dist_abort(t->dist, dk_error());
        if (!ok && !t->lead) rc = dk_fail("rank 0 could not write the checkpoint");
    }
    return rc;
}

static int load_checkpoint(trainer *t, const char *dir)
{
    dk_adamw whole;
    if (t->dist->size == 1) return dk_checkpoint_load(dir, &t->model, &t->opt, &t->state);
    if (dk_adamw_create(&whole, t->opt.n)) return -1;
    int rc = dk_checkpoint_load(dir, &t->model, &whole, &t->state);
    if (!rc) {
        memcpy(t->opt.m, whole.m + t->opt.lo, sizeof(float) * (t->opt.hi - t->opt.lo));
        memcpy(t->opt.v, whole.v + t->opt.lo, sizeof(float) * (t->opt.hi - t->opt.lo));
    }
    dk_adamw_free(&whole);
    return rc;
}

/* Every rank must run the same configuration on the same data from the same
 * checkpoint: each compares a fingerprint of them with rank 0's, and all stop
 * together when any rank failed to set up. */
static int agree(trainer *t, int rc)
{
    if (t->dist->size == 1) return rc;
    cJSON *j = dk_model_config_to_json(&t->job->model);
    dk_fields_to_json(dk_train_config_fields, t->tc, j);
    cJSON_AddNumberToObject(j, "train_rows", t->train ? (double)t->train->count : -1.0);
    cJSON_AddNumberToObject(j, "val_rows", t->val ? (double)t->val->count : -1.0);
    cJSON_AddNumberToObject(j, "step", (double)t->state.step);
    cJSON_AddNumberToObject(j, "samples", (double)t->state.samples);
    char *text = cJSON_PrintUnformatted(j), sha[DK_SHA256_HEX];
    cJSON_Delete(j);
    dk_sha256_buf(text, strlen(text), sha);
    free(text);
    double mine[2] = {rc == 0, (double)strtoul((char[9]){sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], sha[6], sha[7], 0}, NULL, 16)};
    double *all = dk_malloc(sizeof *all * 2 * (size_t)t->dist->size);
    if (!all || dk_dist_allgather_f64(t->dist, mine, all, 2)) dk_dist_abort(t->dist, dk_error());
    int failed = -1, differs = -1;
    for (int r = t->dist->size - 1; r >= 0; r--) {
        if (all[2 * r] == 0) failed = r;
        if (all[2 * r + 1] != all[1]) differs = r;
    }
    free(all);
    if (rc) return rc;
    if (failed >= 0) return dk_fail("rank %d of %d could not start (its message is above)", failed, t->dist->size);
    if (differs >= 0)
        return dk_fail("rank %d sees a different configuration, data or checkpoint than rank 0; every rank must be given "
                       "the same arguments and see the same files",
                       differs);
    return 0;
}

/* The job's own rows, or the token shards of its data directory. */
static int open_rows(trainer *t)
{
    const dk_train_job *job = t->job;
    const dk_train_config *tc = t->tc;
    if (job->train_rows) {
        t->train = job->train_rows;
        t->val = job->val_rows;
        if (job->tokenizer_path && !(t->tokenizer_path = strdup(job->tokenizer_path))) return dk_fail("out of memory");
    } else {
        if (dk_loader_open(&t->train_loader, job->data_dir, "train", tc->seq_len, job->model.vocab_size,
                           (uint64_t)tc->seed, true) ||
            dk_loader_open(&t->val_loader, job->data_dir, "val", tc->seq_len, job->model.vocab_size, 0, false))
            return -1;
        dk_rows_from_loader(&t->shard_train, &t->train_loader);
        dk_rows_from_loader(&t->shard_val, &t->val_loader);
        t->train = &t->shard_train;
        t->val = &t->shard_val;
        char *tok = dk_path_join(job->data_dir, "tokenizer.json");
        if (tok && dk_path_exists(tok)) t->tokenizer_path = tok;
        else free(tok);
    }
    if (t->train->packed) {
        size_t n = (size_t)t->B * (size_t)tc->seq_len;
        t->pos = dk_malloc(n * sizeof *t->pos);
        t->seg = dk_malloc(n * sizeof *t->seg);
        if (!t->pos || !t->seg) return -1;
    }
    return 0;
}

static int setup(trainer *t)
{
    const dk_train_job *job = t->job;
    const dk_train_config *tc = t->tc;
    if (tc->batch_size % t->dist->size)
        return dk_fail("\"batch_size\" (%d) must be a multiple of the number of ranks (%d)", tc->batch_size, t->dist->size);
    t->B = tc->batch_size / t->dist->size;
    if (t->lead && dk_mkdirs(job->out_dir)) return -1;
    char *model_dir = dk_path_join(job->out_dir, "model");
    char *latest = NULL;
    int rc = model_dir ? dk_checkpoint_latest(job->out_dir, &latest) : -1;
    if (!rc && !job->resume && (latest || dk_path_exists(model_dir)))
        rc = dk_fail("%s: this run directory already holds a run; pass --resume to continue it or choose another --out",
                     job->out_dir);
    free(model_dir);
    if (!rc) rc = dk_model_create(&t->model, &job->model);
    if (!rc) rc = dk_adamw_create_sharded(&t->opt, t->model.nparams, t->dist);
    if (!rc && job->resume && latest) {
        rc = load_checkpoint(t, latest);
        if (!rc && t->lead) fprintf(stderr, "resuming from %s (step %lld)\n", latest, (long long)t->state.step);
    } else if (!rc && job->init_from) {
        char *w = dk_path_join(job->init_from, "model.safetensors");
        rc = w ? dk_model_load_weights(&t->model, w) : -1;
        char sha[DK_SHA256_HEX];
        if (!rc) rc = dk_sha256_file(w, sha);
        if (!rc) t->parent_sha256 = strdup(sha);
        free(w);
    } else if (!rc) {
        rc = dk_model_init(&t->model, (uint64_t)tc->seed);
    }
    free(latest);
    if (rc) return -1;

    if (open_rows(t)) return -1;
    if (t->train->count < tc->batch_size)
        return dk_fail("%s: the training data has %lld rows of %d tokens, fewer than one batch of %d",
                       job->data_dir ? job->data_dir : "training data", (long long)t->train->count, tc->seq_len + 1,
                       tc->batch_size);
    t->have_val = t->val && t->val->count >= tc->batch_size && tc->eval_batches > 0;
    if (!t->have_val && t->lead) fprintf(stderr, "note: no validation data large enough for one batch; val_loss is not measured\n");
    char *outcopy = strdup(job->out_dir);
    t->run_id = outcopy ? strdup(basename(outcopy)) : NULL;
    free(outcopy);
    return 0;
}

/* Weights and moments are set on the host; then the model moves to its
 * device, with this rank's own GPU, and the run's files are started. */
static int place(trainer *t)
{
    const dk_train_job *job = t->job;
    const dk_train_config *tc = t->tc;
    if (job->be && !job->be->host_memory) {
        if (t->dist->size > 1 && dk_cuda_set_device(t->dist->local_rank)) return -1;
        if (dk_model_use(&t->model, job->be)) return -1;
    }
    t->model.recompute = tc->recompute;
    if (dk_model_alloc_acts(&t->model, t->B, tc->seq_len, tc->seq_len, true)) return -1;
    t->model.acts.pos = t->pos;
    t->model.acts.seg = t->seg;
    if (t->lead && (write_run_config(t) || open_log(t))) return -1;
    t->info = (dk_model_dir_info){.tokenizer_path = t->tokenizer_path, .run_id = t->run_id, .parent_sha256 = t->parent_sha256,
                                  .ledger_head = t->lead ? t->ledger_head : NULL};
    /* Provenance (ledger.h): what this session reads, and where it starts. */
    if (t->lead && dk_ledger_train_begin(job, &t->model, &t->state, &t->info, t->dist->size, t->ledger_head)) return -1;
    t->peak_flops = t->model.be->host_memory ? dk_sgemm_peak(1024, 0.3) * t->dist->size
                                             : dk_cuda_gemm_peak(t->model.be, 4096, 0.3) * t->dist->size;
    return 0;
}

static int write_final_model(trainer *t, const dk_model_dir_info *info)
{
    dk_model_download(&t->model);
    int rc = dk_model_dir_publish(t->job->out_dir, "model", &t->model, info);
    if (!rc) fprintf(stderr, "model written to %s/model\n", t->job->out_dir);
    return rc;
}

/* One line of log.jsonl and of progress (rank 0 only). */
static void report_step(trainer *t, dk_progress *prog, int64_t first_step, double loss, double norm, double tok_per_s,
                        double mfu, double val)
{
    fprintf(t->log, "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,\"tok_per_s\":%.1f,\"mfu\":%.4f",
            (long long)t->state.step, loss, dk_lr_at(t->tc, t->state.step - 1), norm, tok_per_s, mfu);
    if (!isnan(val)) fprintf(t->log, ",\"val_loss\":%.6f", val);
    fprintf(t->log, "}\n");
    fflush(t->log);
    char text[128], json[160];
    snprintf(text, sizeof text, "loss %.4f | %.0f tok/s | mfu %.0f%%", loss, tok_per_s, 100 * mfu);
    snprintf(json, sizeof json, "\"loss\":%.4f,\"tok_per_s\":%.1f,\"mfu\":%.4f", loss, tok_per_s, mfu);
    dk_progress_update(prog, t->state.step - first_step, text, json);
}

static int train_loop(trainer *t)
{
    const dk_train_config *tc = t->tc;
    dk_model *m = &t->model;
    int B = tc->batch_size, T = tc->seq_len;
    double flops_per_token = dk_model_flops_per_token(&m->cfg, T);
    const dk_model_dir_info *info = &t->info;
    dk_train_feed feed = feed_of(t, t->train, &t->state);
    int64_t first_step = t->state.step;
    dk_progress prog; /* counts this session's steps, so the rate and ETA are right after a resume */
    dk_progress_start(&prog, "train", tc->steps - first_step);
    for (int64_t step = first_step; step < tc->steps; step++) {
        double t0 = dk_now(), loss, norm;
        if (dk_train_step(m, &t->opt, tc, step, dk_train_feed_batch, &feed, &loss, &norm)) return -1;
        t->state.step = step + 1;
        t->state.loss = loss;
        double dt = dk_now() - t0;
        double tok_per_s = (double)B * T * tc->grad_accum / dt;
        double mfu = t->peak_flops > 0 ? tok_per_s * flops_per_token / t->peak_flops : 0;
        bool last = t->state.step == tc->steps;
        double val = NAN;
        if (t->have_val && (last || (tc->eval_every && t->state.step % tc->eval_every == 0))) val = validation_loss(t);
        if (t->lead) report_step(t, &prog, first_step, loss, norm, tok_per_s, mfu, val);
        if (last || (tc->checkpoint_every && t->state.step % tc->checkpoint_every == 0))
            if (save_checkpoint(t, info)) return -1;
    }
    if (t->lead) dk_progress_finish(&prog);
    return t->lead ? write_final_model(t, info) : 0;
}

int dk_train(const dk_train_job *job)
{
    trainer t = {.job = job, .tc = &job->train, .alone = {.rank = 0, .size = 1}};
    t.dist = job->dist ? job->dist : &t.alone;
    t.lead = t.dist->rank == 0;
    dk_set_threads(job->threads);
    /* Each stage ends in a collective that every rank reaches, failed or
     * not, so that one rank's failure stops all of them at once; the
     * moments' move joins the GPUs' NCCL communicator, itself a collective. */
    int rc = agree(&t, setup(&t));
    if (!rc) rc = agree(&t, place(&t));
    if (!rc && job->be) rc = agree(&t, dk_adamw_use(&t.opt, job->be));
    if (!rc) rc = train_loop(&t);
    if (t.log) fclose(t.log);
    dk_loader_close(&t.train_loader);
    dk_loader_close(&t.val_loader);
    free(t.pos);
    free(t.seg);
    dk_adamw_free(&t.opt);
    dk_model_free(&t.model);
    free(t.tokenizer_path);
    free(t.run_id);
    free(t.parent_sha256);
    return rc;
}
