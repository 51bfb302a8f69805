/* Model weights in safetensors under HF names, and model directories. */
#include <stdlib.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/model.h"
#include "dokja/safetensors.h"

int dk_model_load_weights(dk_model *m, const char *path)
{
    dk_safetensors st;
    if (dk_safetensors_open(&st, path)) return -1;
    int rc = 0;
    for (int i = 0; !rc && i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        rc = dk_safetensors_read_f32(&st, t->name, m->param_block + t->offset, t->ndim, t->shape);
    }
    dk_safetensors_close(&st);
    return rc;
}

int dk_model_save_weights(const dk_model *m, const char *path)
{
    dk_tensor_out *out = dk_calloc((size_t)m->ntensors, sizeof *out);
    if (!out) return -1;
    for (int i = 0; i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        out[i] = (dk_tensor_out){.name = t->name, .dtype = DK_F32, .ndim = t->ndim, .data = m->param_block + t->offset};
        out[i].shape[0] = t->shape[0];
        out[i].shape[1] = t->shape[1];
    }
    int rc = dk_safetensors_write(path, out, m->ntensors);
    free(out);
    return rc;
}

int dk_model_load_dir(dk_model *m, const char *dir)
{
    if (!dk_is_dir(dir)) return dk_fail("%s: not a model directory", dir);
    char *cfg_path = dk_path_join(dir, "config.json"), *w_path = dk_path_join(dir, "model.safetensors");
    dk_model_config cfg;
    int rc = !cfg_path || !w_path ? -1 : 0;
    if (!rc) rc = dk_model_config_load(&cfg, cfg_path);
    if (!rc) rc = dk_model_create(m, &cfg);
    if (!rc && (rc = dk_model_load_weights(m, w_path))) dk_model_free(m);
    free(cfg_path);
    free(w_path);
    return rc;
}
