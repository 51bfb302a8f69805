#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/train.h"

#define F(name, type, help) {#name, type, offsetof(dk_train_config, name), help}
const dk_field dk_train_config_fields[] = {
    F(batch_size, DK_FIELD_INT, "sequences per micro-batch"),
    F(seq_len, DK_FIELD_INT, "tokens per sequence"),
    F(steps, DK_FIELD_I64, "optimizer steps"),
    F(lr, DK_FIELD_DOUBLE, "peak learning rate"),
    F(min_lr, DK_FIELD_DOUBLE, "learning rate at the end of decay"),
    F(schedule, DK_FIELD_STRING, "cosine, wsd (warmup-stable-decay) or constant"),
    F(warmup_steps, DK_FIELD_I64, "steps of linear warmup"),
    F(decay_frac, DK_FIELD_DOUBLE, "wsd: fraction of the steps spent decaying"),
    F(weight_decay, DK_FIELD_DOUBLE, "decoupled weight decay (matrices only)"),
    F(beta1, DK_FIELD_DOUBLE, "AdamW beta1"),
    F(beta2, DK_FIELD_DOUBLE, "AdamW beta2"),
    F(adam_eps, DK_FIELD_DOUBLE, "AdamW epsilon"),
    F(grad_clip, DK_FIELD_DOUBLE, "clip the global gradient norm to this (0: off)"),
    F(grad_accum, DK_FIELD_INT, "micro-batches per optimizer step"),
    F(seed, DK_FIELD_I64, "seed of initialisation and data order"),
    F(checkpoint_every, DK_FIELD_I64, "steps between checkpoints (0: only at the end)"),
    F(eval_every, DK_FIELD_I64, "steps between validation losses (0: only at the end)"),
    F(eval_batches, DK_FIELD_INT, "validation micro-batches per evaluation"),
    F(recompute, DK_FIELD_BOOL, "recompute each layer's activations in the backward pass: less memory, one more forward"),
    {0},
};
#undef F

void dk_train_config_default(dk_train_config *c)
{
    *c = (dk_train_config){
        .batch_size = 8,
        .seq_len = 256,
        .steps = 1000,
        .lr = 3e-3,
        .min_lr = 3e-4,
        .schedule = strdup("cosine"),
        .warmup_steps = 50,
        .decay_frac = 0.2,
        .weight_decay = 0.1,
        .beta1 = 0.9,
        .beta2 = 0.95,
        .adam_eps = 1e-8,
        .grad_clip = 1.0,
        .grad_accum = 1,
        .seed = 1337,
        .checkpoint_every = 0,
        .eval_every = 0,
        .eval_batches = 8,
    };
}

void dk_train_config_free(dk_train_config *c)
{
    free(c->schedule);
    c->schedule = NULL;
}

int dk_train_config_validate(const dk_train_config *c, const dk_model_config *m, const char *source)
{
    if (c->batch_size <= 0) return dk_fail("%s: \"batch_size\" must be positive", source);
    if (c->seq_len <= 1) return dk_fail("%s: \"seq_len\" must be at least 2", source);
    if (c->seq_len > m->max_position_embeddings)
        return dk_fail("%s: \"seq_len\" (%d) exceeds \"max_position_embeddings\" (%d)", source, c->seq_len,
                       m->max_position_embeddings);
    if (c->steps <= 0) return dk_fail("%s: \"steps\" must be positive", source);
    if (!(c->lr > 0) || c->min_lr < 0 || c->min_lr > c->lr) return dk_fail("%s: need 0 <= \"min_lr\" <= \"lr\" and lr > 0", source);
    if (!c->schedule || (strcmp(c->schedule, "cosine") && strcmp(c->schedule, "wsd") && strcmp(c->schedule, "constant")))
        return dk_fail("%s: \"schedule\" must be \"cosine\", \"wsd\" or \"constant\"", source);
    if (c->warmup_steps < 0) return dk_fail("%s: \"warmup_steps\" must not be negative", source);
    if (c->decay_frac < 0 || c->decay_frac > 1) return dk_fail("%s: \"decay_frac\" must be within [0, 1]", source);
    if (c->weight_decay < 0) return dk_fail("%s: \"weight_decay\" must not be negative", source);
    if (c->beta1 < 0 || c->beta1 >= 1 || c->beta2 < 0 || c->beta2 >= 1) return dk_fail("%s: betas must be within [0, 1)", source);
    if (!(c->adam_eps > 0)) return dk_fail("%s: \"adam_eps\" must be positive", source);
    if (c->grad_clip < 0) return dk_fail("%s: \"grad_clip\" must not be negative", source);
    if (c->grad_accum <= 0) return dk_fail("%s: \"grad_accum\" must be positive", source);
    if (c->checkpoint_every < 0 || c->eval_every < 0) return dk_fail("%s: intervals must not be negative", source);
    if (c->eval_batches < 0) return dk_fail("%s: \"eval_batches\" must not be negative", source);
    return 0;
}

int dk_train_config_file_load(const char *path, dk_model_config *mc, dk_train_config *tc)
{
    cJSON *j;
    if (dk_json_read_file(path, &j)) return -1;
    int rc = dk_fields_from_json(dk_model_config_fields, mc, j, path);
    if (!rc) rc = dk_fields_from_json(dk_train_config_fields, tc, j, path);
    cJSON_Delete(j);
    return rc;
}
