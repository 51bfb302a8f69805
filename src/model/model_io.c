/* Model weights in safetensors under HF names, and model directories. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/model.h"
#include "dokja/quant.h"
#include "dokja/safetensors.h"

/* An int8 matrix (docs/inference.md): "<name>" I8 (rows, cols) and
 * "<name>_scale" F32 (rows, cols / 32); its dequantized values fill the block. */
static int load_q8(dk_model *m, const dk_safetensors *st, const dk_tensor_view *v, int i)
{
    const dk_param_tensor *t = &m->tensors[i];
    if (v->ndim != 2 || v->shape[0] != t->shape[0] || v->shape[1] != t->shape[1])
        return dk_fail("%s: tensor \"%s\" has the wrong shape", st->path, t->name);
    if (!m->q8 && !(m->q8 = dk_calloc((size_t)m->ntensors, sizeof *m->q8))) return -1;
    dk_q8_matrix *q = &m->q8[i];
    int64_t shape[2] = {t->shape[0], t->shape[1] / DK_Q8_GROUP};
    char name[sizeof t->name + 8];
    snprintf(name, sizeof name, "%s_scale", t->name);
    if (t->shape[1] % DK_Q8_GROUP)
        return dk_fail("%s: tensor \"%s\": %lld columns is not a multiple of the int8 group (%d)", st->path, t->name,
                       (long long)t->shape[1], DK_Q8_GROUP);
    q->rows = t->shape[0];
    q->cols = t->shape[1];
    q->q = dk_malloc(t->numel);
    q->scale = dk_malloc(sizeof(float) * t->numel / DK_Q8_GROUP);
    if (!q->q || !q->scale || dk_safetensors_read_f32(st, name, q->scale, 2, shape)) return -1;
    memcpy(q->q, v->data, t->numel);
    /* the quantizer writes -127..127; the kernels rely on it (quant.c) */
    for (size_t k = 0; k < t->numel; k++) q->q[k] = q->q[k] == -128 ? -127 : q->q[k];
    for (size_t g = 0; g < t->numel / DK_Q8_GROUP; g++)
        if (!(q->scale[g] >= 0 && isfinite(q->scale[g])))
            return dk_fail("%s: tensor \"%s\": scale %zu is not a finite non-negative number", st->path, name, g);
    dk_q8_dequantize(m->param_block + t->offset, q);
    return 0;
}

int dk_model_load_weights(dk_model *m, const char *path)
{
    dk_safetensors st;
    if (dk_safetensors_open(&st, path)) return -1;
    int rc = 0, fp32_matrices = 0;
    for (int i = 0; !rc && i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        const dk_tensor_view *v = dk_safetensors_find(&st, t->name);
        if (v && v->dtype == DK_I8) rc = load_q8(m, &st, v, i);
        else rc = dk_safetensors_read_f32(&st, t->name, m->param_block + t->offset, t->ndim, t->shape), fp32_matrices += t->ndim == 2;
    }
    if (!rc && m->q8 && fp32_matrices) rc = dk_fail("%s: mixes int8 and floating-point matrices", path);
    if (rc) dk_model_q8_free(m);
    dk_safetensors_close(&st);
    return rc;
}

int dk_model_save_weights(const dk_model *m, const char *path)
{
    /* an int8 model writes each matrix as two tensors */
    dk_tensor_out *out = dk_calloc((size_t)m->ntensors * 2, sizeof *out);
    char(*names)[sizeof m->tensors->name + 8] = dk_calloc((size_t)m->ntensors, sizeof *names);
    int n = 0, rc = -1;
    for (int i = 0; out && names && i < m->ntensors; i++) {
        const dk_param_tensor *t = &m->tensors[i];
        const dk_q8_matrix *q = m->q8 && t->ndim == 2 ? &m->q8[i] : NULL;
        dk_tensor_out *o = &out[n++];
        *o = (dk_tensor_out){.name = t->name, .dtype = q ? DK_I8 : DK_F32, .ndim = t->ndim,
                             .data = q ? (const void *)q->q : m->param_block + t->offset};
        o->shape[0] = t->shape[0];
        o->shape[1] = t->shape[1];
        if (!q) continue;
        snprintf(names[i], sizeof names[i], "%s_scale", t->name);
        out[n++] = (dk_tensor_out){.name = names[i], .dtype = DK_F32, .ndim = 2, .shape = {t->shape[0], t->shape[1] / DK_Q8_GROUP},
                                   .data = q->scale};
    }
    if (out && names) rc = dk_safetensors_write(path, out, n);
    free(out);
    free(names);
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
