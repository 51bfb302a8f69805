/* Training: configuration, optimizer, schedule, checkpoints and the loop. */
#ifndef DK_TRAIN_H
#define DK_TRAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "json.h"
#include "dist.h"
#include "model.h"
#include "rng.h"
#include "shards.h"

typedef struct {
    int batch_size;       /* sequences per micro-batch */
    int seq_len;          /* tokens per sequence */
    int64_t steps;        /* optimizer steps */
    double lr;            /* peak learning rate */
    double min_lr;        /* floor reached at the end of decay */
    char *schedule;       /* "cosine", "wsd" or "constant" */
    int64_t warmup_steps; /* linear warmup from lr/warmup to lr */
    double decay_frac;    /* wsd: fraction of steps spent decaying */
    double weight_decay;  /* decoupled, matrices only */
    double beta1, beta2, adam_eps;
    double grad_clip;     /* global L2 norm; 0 disables */
    int grad_accum;       /* micro-batches per step */
    int64_t seed;
    int64_t checkpoint_every; /* 0: only at the end */
    int64_t eval_every;       /* 0: only at the end */
    int eval_batches;         /* validation micro-batches per evaluation */
    bool recompute;           /* keep only the residual stream per layer; recompute the rest in the backward */
} dk_train_config;

extern const dk_field dk_train_config_fields[];
void dk_train_config_default(dk_train_config *c);
int dk_train_config_validate(const dk_train_config *c, const dk_model_config *m, const char *source);
void dk_train_config_free(dk_train_config *c);
/* Reads a flat JSON file of model keys (HF config.json names) and training
 * keys into both structs; keys it does not name keep their values. */
int dk_train_config_file_load(const char *path, dk_model_config *mc, dk_train_config *tc);

/* Learning rate at a 0-based step. */
double dk_lr_at(const dk_train_config *c, int64_t step);

/* AdamW as torch.optim.AdamW: decoupled decay p -= lr*wd*p, bias-corrected
 * moments, eps added after the square root. The moments cover the range
 * [lo, hi) of the parameter block: all of it, or this rank's shard when the
 * optimizer is sharded across data-parallel ranks (ZeRO-1). */
typedef struct {
    float *m;
    float *v;
    size_t n;      /* floats in the whole parameter block */
    size_t lo, hi; /* the range whose moments this process holds */
    const dk_dist *dist; /* NULL or a world of one: not sharded */
    dk_reducer *reducer; /* set when sharded across several ranks (host memory, MPI) */
    dk_nccl *nccl;       /* instead, when the ranks train on GPUs */
    const dk_backend *be; /* where m and v live once dk_adamw_use moved them; NULL: host memory */
    float *grads_base;       /* the gradient block being reduced */
    double comm_seconds;     /* time spent waiting on gradient and weight exchanges */
} dk_adamw;

int dk_adamw_create(dk_adamw *o, size_t n);
/* Moments for this rank's shard only; gradients are reduced across ranks. */
int dk_adamw_create_sharded(dk_adamw *o, size_t n, const dk_dist *d);
void dk_adamw_free(dk_adamw *o);
/* Moves the moments into the backend's memory (a no-op on the CPU); a
 * sharded optimizer then exchanges through NCCL. */
int dk_adamw_use(dk_adamw *o, const dk_backend *be);
/* Copies this process's moments (hi - lo floats each) to host memory. */
int dk_adamw_download(const dk_adamw *o, float *m, float *v);
/* Updates the parameters in [o->lo, o->hi). t is the 1-based step number used
 * for bias correction; gradients are multiplied by grad_scale first (the
 * clipping factor, 1 when not clipped). */
void dk_adamw_step(dk_adamw *o, dk_model *model, const dk_train_config *c, int64_t t, float lr, float grad_scale);
/* The CPU's element-wise update of one range (the cpu backend's adamw). */
void dk_adamw_update(float *p, const float *g, float *m, float *v, long n, const dk_adamw_args *a);

/* The sum of squares of host gradients, summed in fixed chunks
 * (deterministic): the cpu backend's sumsq. */
double dk_grad_sumsq(const float *g, size_t n);

/* Where training rows come from. Row i of the endless stream is a pure
 * function of i (i / count is the epoch), so the data position of a run is
 * the number of rows it has drawn. Token shards give plain rows; chat data
 * gives packed rows, several conversations to a row. */
typedef struct dk_rows {
    int64_t count; /* rows in one epoch */
    bool packed;   /* get also fills pos and seg (dk_acts) */
    /* tokens, targets (T) and, when packed, pos and seg (T) of row i */
    void (*get)(struct dk_rows *r, int64_t i, int *tokens, int *targets, int *pos, int *seg);
    void *impl;
} dk_rows;

/* Rows over a token-shard loader (not packed). */
void dk_rows_from_loader(dk_rows *r, dk_loader *l);

/* Fills acts.tokens and acts.targets (B, T) with the next micro-batch. */
typedef void (*dk_batch_fn)(dk_model *m, void *user);

/* One optimizer step at 0-based `step`: grad_accum micro-batches of forward
 * and backward, global-norm clipping, AdamW. Returns the mean loss and sets
 * *grad_norm (before clipping); fails when either is not finite. With a
 * sharded optimizer every rank calls it on its own part of the batch: the
 * loss is the mean over all ranks' targets, gradients are reduce-scattered
 * during the last backward, and the updated weights all-gathered. */
int dk_train_step(dk_model *m, dk_adamw *o, const dk_train_config *c, int64_t step, dk_batch_fn fill, void *user,
                  double *loss, double *grad_norm);

/* What a checkpoint records besides weights and moments. */
typedef struct {
    int64_t step;    /* optimizer steps completed */
    int64_t samples; /* training samples drawn: the data position */
    double loss;     /* loss of the last step */
} dk_train_state;

/* Training data for dk_train_step: this rank's acts.B rows of the global
 * batch that starts at the data position, which then advances by the global
 * batch. Training and the audit's replay both draw their batches through it. */
typedef struct {
    dk_rows *rows;
    dk_train_state *state;
    int batch_size; /* the global batch */
    int rank;       /* 0 on a single process */
    int *pos, *seg; /* (B, T) for packed rows, else NULL */
} dk_train_feed;
void dk_train_feed_batch(dk_model *m, void *feed);

/* Files that travel into every model directory written by training. */
typedef struct {
    const char *tokenizer_path; /* copied as tokenizer.json when not NULL */
    const char *run_id;
    const char *parent_sha256;  /* weights of the model we started from, or NULL */
    const char *ledger_head;    /* sha256 of the run's last ledger line when written, or NULL */
} dk_model_dir_info;

/* Writes config.json, model.safetensors, generation_config.json, dokja.json
 * (and tokenizer.json) into dir, which must exist. */
int dk_model_dir_write(const char *dir, const dk_model *m, const dk_model_dir_info *info);
/* Writes parent/name as a whole: into parent/.tmp-name, fsynced, then renamed
 * over any older parent/name. */
int dk_model_dir_publish(const char *parent, const char *name, const dk_model *m, const dk_model_dir_info *info);

/* ckpt/step-NNNNNNNN/: a model directory + optimizer.safetensors + state.json,
 * written to a temporary directory, fsynced and renamed into place. */
int dk_checkpoint_save(const char *run_dir, const dk_model *m, const dk_adamw *o, const dk_train_state *s,
                       const dk_model_dir_info *info);
/* The newest complete checkpoint of a run; *path is NULL when there is none. */
int dk_checkpoint_latest(const char *run_dir, char **path);
/* Loads weights, moments and state; checks the recorded sha256 of each file. */
int dk_checkpoint_load(const char *ckpt_dir, dk_model *m, dk_adamw *o, dk_train_state *s);

typedef struct {
    const char *data_dir;
    const char *out_dir;
    const char *init_from; /* model directory to continue from, or NULL */
    bool resume;
    int threads;
    const dk_dist *dist; /* NULL: a single process */
    const dk_backend *be; /* where to train; NULL: the CPU */
    /* Rows to train and validate on instead of data_dir's token shards
     * (fine-tuning builds them from chat data); val_rows may be NULL. */
    dk_rows *train_rows, *val_rows;
    const char *tokenizer_path; /* with train_rows: copied into model directories */
    dk_model_config model;
    dk_train_config train;
} dk_train_job;

/* The whole run: data, model, loop, logs, checkpoints, final model. */
int dk_train(const dk_train_job *job);

#endif
