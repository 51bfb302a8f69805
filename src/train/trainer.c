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
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "dokja/sha256.h"
#include "dokja/shards.h"
#include "dokja/train.h"

typedef struct {
    const dk_train_job *job;
    const dk_train_config *tc;
    dk_model model;
    dk_adamw opt;
    dk_loader train, val;
    bool have_val;
    dk_train_state state;
    char *tokenizer_path;
    char *run_id;
    char *parent_sha256;
    FILE *log;
    double peak_flops;
} trainer;

/* The run's config.json: model and training keys in one flat object, so it
 * can be given back to `dokja train --config`. */
static int write_run_config(const trainer *t)
{
    cJSON *j = dk_model_config_to_json(&t->model.cfg);
    dk_fields_to_json(dk_train_config_fields, t->tc, j);
    cJSON_AddStringToObject(j, "data", t->job->data_dir);
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

static void fill_batch(trainer *t, dk_loader *l, int64_t first)
{
    int B = t->tc->batch_size, T = t->tc->seq_len;
    for (int b = 0; b < B; b++)
        dk_loader_sample(l, first + b, t->model.acts.tokens + (size_t)b * T, t->model.acts.targets + (size_t)b * T);
}

/* The next training micro-batch; advancing the data position. */
static void fill_train_batch(dk_model *m, void *user)
{
    trainer *t = user;
    (void)m;
    fill_batch(t, &t->train, t->state.samples);
    t->state.samples += t->tc->batch_size;
}

int dk_train_step(dk_model *m, dk_adamw *o, const dk_train_config *c, int64_t step, dk_batch_fn fill, void *user,
                  double *loss, double *grad_norm)
{
    int B = c->batch_size, T = c->seq_len;
    dk_model_zero_grad(m);
    double sum = 0;
    for (int micro = 0; micro < c->grad_accum; micro++) {
        fill(m, user);
        sum += dk_model_forward(m, B, T) / c->grad_accum;
        dk_model_backward(m, B, T, 1.0f / (float)c->grad_accum);
    }
    double norm = dk_grad_norm(m->grad_block, m->nparams);
    *loss = sum;
    *grad_norm = norm;
    if (!isfinite(sum) || !isfinite(norm))
        return dk_fail("step %lld: the loss or gradient is not finite (loss %g, grad norm %g); lower the learning rate",
                       (long long)step + 1, sum, norm);
    float scale = c->grad_clip > 0 && norm > c->grad_clip ? (float)(c->grad_clip / (norm + 1e-6)) : 1.0f;
    dk_adamw_step(o, m, c, step + 1, (float)dk_lr_at(c, step), scale);
    return 0;
}

static double validation_loss(trainer *t)
{
    int B = t->tc->batch_size, T = t->tc->seq_len;
    int batches = t->tc->eval_batches;
    if ((int64_t)batches * B > t->val.nwindows) batches = (int)(t->val.nwindows / B);
    if (batches == 0) return NAN;
    double sum = 0;
    for (int i = 0; i < batches; i++) {
        fill_batch(t, &t->val, (int64_t)i * B);
        sum += dk_model_forward(&t->model, B, T);
    }
    return sum / batches;
}

static int setup(trainer *t)
{
    const dk_train_job *job = t->job;
    const dk_train_config *tc = t->tc;
    if (dk_mkdirs(job->out_dir)) return -1;
    char *model_dir = dk_path_join(job->out_dir, "model");
    char *latest = NULL;
    int rc = model_dir ? dk_checkpoint_latest(job->out_dir, &latest) : -1;
    if (!rc && !job->resume && (latest || dk_path_exists(model_dir)))
        rc = dk_fail("%s: this run directory already holds a run; pass --resume to continue it or choose another --out",
                     job->out_dir);
    free(model_dir);
    if (!rc) rc = dk_model_create(&t->model, &job->model);
    if (!rc) rc = dk_adamw_create(&t->opt, t->model.nparams);
    if (!rc && job->resume && latest) {
        rc = dk_checkpoint_load(latest, &t->model, &t->opt, &t->state);
        if (!rc) fprintf(stderr, "resuming from %s (step %lld)\n", latest, (long long)t->state.step);
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

    if (dk_loader_open(&t->train, job->data_dir, "train", tc->seq_len, job->model.vocab_size, (uint64_t)tc->seed, true))
        return -1;
    if (t->train.nwindows < tc->batch_size)
        return dk_fail("%s: the train split has %lld windows of %d tokens, fewer than one batch of %d", job->data_dir,
                       (long long)t->train.nwindows, tc->seq_len + 1, tc->batch_size);
    if (dk_loader_open(&t->val, job->data_dir, "val", tc->seq_len, job->model.vocab_size, 0, false)) return -1;
    t->have_val = t->val.nwindows >= tc->batch_size && tc->eval_batches > 0;
    if (!t->have_val) fprintf(stderr, "note: no validation split large enough for one batch in %s; val_loss is not measured\n", job->data_dir);

    char *tok = dk_path_join(job->data_dir, "tokenizer.json");
    if (tok && dk_path_exists(tok)) t->tokenizer_path = tok;
    else free(tok);
    char *outcopy = strdup(job->out_dir);
    t->run_id = outcopy ? strdup(basename(outcopy)) : NULL;
    free(outcopy);
    if (dk_model_alloc_acts(&t->model, tc->batch_size, tc->seq_len, tc->seq_len, true)) return -1;
    if (write_run_config(t) || open_log(t)) return -1;
    t->peak_flops = dk_sgemm_peak(1024, 0.3);
    return 0;
}

static int write_final_model(trainer *t, const dk_model_dir_info *info)
{
    char *final = dk_path_join(t->job->out_dir, "model");
    char *tmp = dk_path_join(t->job->out_dir, ".tmp-model");
    int rc = !final || !tmp ? -1 : 0;
    if (!rc) rc = dk_remove_tree(tmp);
    if (!rc) rc = dk_mkdirs(tmp);
    if (!rc) rc = dk_model_dir_write(tmp, &t->model, info);
    if (!rc) rc = dk_fsync_dir(tmp);
    if (!rc) rc = dk_remove_tree(final);
    if (!rc && rename(tmp, final) != 0) rc = dk_fail("%s: rename failed: %s", final, strerror(errno));
    if (!rc) rc = dk_fsync_dir(t->job->out_dir);
    if (!rc) fprintf(stderr, "model written to %s\n", final);
    free(final);
    free(tmp);
    return rc;
}

static int train_loop(trainer *t)
{
    const dk_train_config *tc = t->tc;
    dk_model *m = &t->model;
    int B = tc->batch_size, T = tc->seq_len;
    double flops_per_token = dk_model_flops_per_token(&m->cfg, T);
    dk_model_dir_info info = {.tokenizer_path = t->tokenizer_path, .run_id = t->run_id, .parent_sha256 = t->parent_sha256};
    int64_t first_step = t->state.step;
    dk_progress prog; /* counts this session's steps, so the rate and ETA are right after a resume */
    dk_progress_start(&prog, "train", tc->steps - first_step);
    for (int64_t step = first_step; step < tc->steps; step++) {
        double t0 = dk_now(), loss, norm;
        if (dk_train_step(m, &t->opt, tc, step, fill_train_batch, t, &loss, &norm)) return -1;
        t->state.step = step + 1;
        t->state.loss = loss;
        double dt = dk_now() - t0;
        double tok_per_s = (double)B * T * tc->grad_accum / dt;
        double mfu = t->peak_flops > 0 ? tok_per_s * flops_per_token / t->peak_flops : 0;

        bool last = t->state.step == tc->steps;
        double val = NAN;
        if (t->have_val && (last || (tc->eval_every && t->state.step % tc->eval_every == 0))) val = validation_loss(t);
        fprintf(t->log, "{\"step\":%lld,\"loss\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,\"tok_per_s\":%.1f,\"mfu\":%.4f",
                (long long)t->state.step, loss, dk_lr_at(tc, step), norm, tok_per_s, mfu);
        if (!isnan(val)) fprintf(t->log, ",\"val_loss\":%.6f", val);
        fprintf(t->log, "}\n");
        fflush(t->log);

        char text[128], json[160];
        snprintf(text, sizeof text, "loss %.4f | %.0f tok/s | mfu %.0f%%", loss, tok_per_s, 100 * mfu);
        snprintf(json, sizeof json, "\"loss\":%.4f,\"tok_per_s\":%.1f,\"mfu\":%.4f", loss, tok_per_s, mfu);
        dk_progress_update(&prog, t->state.step - first_step, text, json);
        if (last || (tc->checkpoint_every && t->state.step % tc->checkpoint_every == 0))
            if (dk_checkpoint_save(t->job->out_dir, m, &t->opt, &t->state, &info)) return -1;
    }
    dk_progress_finish(&prog);
    return write_final_model(t, &info);
}

int dk_train(const dk_train_job *job)
{
    trainer t = {.job = job, .tc = &job->train};
    dk_set_threads(job->threads);
    int rc = setup(&t);
    if (!rc) rc = train_loop(&t);
    if (t.log) fclose(t.log);
    dk_loader_close(&t.train);
    dk_loader_close(&t.val);
    dk_adamw_free(&t.opt);
    dk_model_free(&t.model);
    free(t.tokenizer_path);
    free(t.run_id);
    free(t.parent_sha256);
    return rc;
}
