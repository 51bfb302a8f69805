#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/safetensors.h"
#include "dokja/sha256.h"
#include "dokja/train.h"

static int save_optimizer(const char *path, const dk_model *m, const dk_adamw *o)
{
    int n = m->ntensors;
    dk_tensor_out *out = dk_calloc((size_t)n * 2, sizeof *out);
    char(*names)[112] = dk_calloc((size_t)n * 2, sizeof *names);
    int rc = !out || !names ? -1 : 0;
    for (int i = 0; !rc && i < n; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        for (int k = 0; k < 2; k++) {
            dk_tensor_out *e = &out[2 * i + k];
            snprintf(names[2 * i + k], sizeof names[0], "%s.%s", t->name, k ? "exp_avg_sq" : "exp_avg");
            *e = (dk_tensor_out){.name = names[2 * i + k], .dtype = DK_F32, .ndim = t->ndim,
                                 .data = (k ? o->v : o->m) + t->offset};
            e->shape[0] = t->shape[0];
            e->shape[1] = t->shape[1];
        }
    }
    if (!rc) rc = dk_safetensors_write(path, out, 2 * n);
    free(out);
    free(names);
    return rc;
}

static int load_optimizer(const char *path, const dk_model *m, dk_adamw *o)
{
    dk_safetensors st;
    if (dk_safetensors_open(&st, path)) return -1;
    int rc = 0;
    char name[112];
    for (int i = 0; !rc && i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        snprintf(name, sizeof name, "%s.exp_avg", t->name);
        rc = dk_safetensors_read_f32(&st, name, o->m + t->offset, t->ndim, t->shape);
        snprintf(name, sizeof name, "%s.exp_avg_sq", t->name);
        if (!rc) rc = dk_safetensors_read_f32(&st, name, o->v + t->offset, t->ndim, t->shape);
    }
    dk_safetensors_close(&st);
    return rc;
}

int dk_checkpoint_save(const char *run_dir, const dk_model *m, const dk_adamw *o, const dk_train_state *s,
                       const dk_model_dir_info *info)
{
    char *ckpt = dk_path_join(run_dir, "ckpt");
    char *tmp = dk_strdupf("%s/.tmp-step-%08lld", ckpt, (long long)s->step);
    char *final = dk_strdupf("%s/step-%08lld", ckpt, (long long)s->step);
    char *opt = tmp ? dk_path_join(tmp, "optimizer.safetensors") : NULL;
    char *weights = tmp ? dk_path_join(tmp, "model.safetensors") : NULL;
    char *state = tmp ? dk_path_join(tmp, "state.json") : NULL;
    int rc = !ckpt || !tmp || !final || !opt || !weights || !state ? -1 : 0;
    if (!rc) rc = dk_remove_tree(tmp);
    if (!rc) rc = dk_mkdirs(tmp);
    if (!rc) rc = dk_model_dir_write(tmp, m, info);
    if (!rc) rc = save_optimizer(opt, m, o);
    char wsha[DK_SHA256_HEX], osha[DK_SHA256_HEX];
    if (!rc) rc = dk_sha256_file(weights, wsha);
    if (!rc) rc = dk_sha256_file(opt, osha);
    if (!rc) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "step", (double)s->step);
        cJSON_AddNumberToObject(j, "samples", (double)s->samples);
        cJSON_AddNumberToObject(j, "loss", s->loss);
        cJSON_AddStringToObject(j, "model_sha256", wsha);
        cJSON_AddStringToObject(j, "optimizer_sha256", osha);
        rc = dk_json_write_file(state, j);
        cJSON_Delete(j);
    }
    /* Only a complete directory is renamed into place. */
    if (!rc) rc = dk_fsync_dir(tmp);
    if (!rc) rc = dk_remove_tree(final);
    if (!rc && rename(tmp, final) != 0) rc = dk_fail("%s: rename failed: %s", final, strerror(errno));
    if (!rc) rc = dk_fsync_dir(ckpt);
    if (rc) dk_fail_context("writing checkpoint %s", final ? final : "");
    free(ckpt);
    free(tmp);
    free(final);
    free(opt);
    free(weights);
    free(state);
    return rc;
}

int dk_checkpoint_latest(const char *run_dir, char **path)
{
    *path = NULL;
    char *ckpt = dk_path_join(run_dir, "ckpt");
    if (!ckpt) return -1;
    DIR *d = opendir(ckpt);
    if (!d) {
        free(ckpt);
        return 0;
    }
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long step;
        char tail;
        if (sscanf(e->d_name, "step-%lld%c", &step, &tail) == 1 && step > best) best = step;
    }
    closedir(d);
    if (best >= 0) *path = dk_strdupf("%s/step-%08lld", ckpt, best);
    free(ckpt);
    return best >= 0 && !*path ? -1 : 0;
}

static int check_sha(const char *dir, const char *file, const cJSON *state, const char *key)
{
    char *path = dk_path_join(dir, file);
    char sha[DK_SHA256_HEX];
    int rc = path ? dk_sha256_file(path, sha) : -1;
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(state, key);
    if (!rc && (!cJSON_IsString(want) || strcmp(want->valuestring, sha)))
        rc = dk_fail("%s: sha256 differs from the one recorded in state.json (corrupt checkpoint)", path);
    free(path);
    return rc;
}

int dk_checkpoint_load(const char *dir, dk_model *m, dk_adamw *o, dk_train_state *s)
{
    char *state_path = dk_path_join(dir, "state.json");
    char *cfg_path = dk_path_join(dir, "config.json");
    char *weights = dk_path_join(dir, "model.safetensors");
    char *opt = dk_path_join(dir, "optimizer.safetensors");
    cJSON *state = NULL;
    dk_model_config cfg;
    int rc = !state_path || !cfg_path || !weights || !opt ? -1 : 0;
    if (!rc) rc = dk_json_read_file(state_path, &state);
    if (!rc) {
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(state, "step");
        const cJSON *samples = cJSON_GetObjectItemCaseSensitive(state, "samples");
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(state, "loss");
        if (!cJSON_IsNumber(step) || !cJSON_IsNumber(samples) || step->valuedouble < 0 || samples->valuedouble < 0)
            rc = dk_fail("%s: fields \"step\" and \"samples\" must be non-negative numbers", state_path);
        else {
            s->step = (int64_t)step->valuedouble;
            s->samples = (int64_t)samples->valuedouble;
            s->loss = cJSON_IsNumber(loss) ? loss->valuedouble : 0.0;
        }
    }
    if (!rc) rc = check_sha(dir, "model.safetensors", state, "model_sha256");
    if (!rc) rc = check_sha(dir, "optimizer.safetensors", state, "optimizer_sha256");
    if (!rc) rc = dk_model_config_load(&cfg, cfg_path);
    if (!rc && !dk_model_config_equal(&cfg, &m->cfg))
        rc = dk_fail("%s: the checkpoint's model configuration differs from the run's", cfg_path);
    if (!rc) rc = dk_model_load_weights(m, weights);
    if (!rc) rc = load_optimizer(opt, m, o);
    cJSON_Delete(state);
    free(state_path);
    free(cfg_path);
    free(weights);
    free(opt);
    return rc;
}
