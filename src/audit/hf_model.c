/* Reading other projects' model directories: HF config.json, safetensors in
 * one file or in shards, and the tensor names of each architecture family. */
#include <stdlib.h>
#include <string.h>

#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/io.h"

static const dk_arch archs[] = {
    {"llama mistral qwen2 qwen3", {"input_layernorm", "post_attention_layernorm"}, false, 0.0f},
    {"gemma", {"input_layernorm", "post_attention_layernorm"}, false, 1.0f},
    {"gemma2 gemma3_text",
     {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm"},
     false,
     1.0f},
    {"phi3", {"input_layernorm", "post_attention_layernorm"}, true, 0.0f},
};

const char *dk_hf_model_types(void) { return "llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, phi3"; }

static const dk_arch *find_arch(const char *type)
{
    size_t len = strlen(type);
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        for (const char *p = archs[i].model_types; (p = strstr(p, type)); p += len)
            if ((p == archs[i].model_types || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0')) return &archs[i];
    return NULL;
}

static int config_int(const cJSON *cfg, const char *key, int fallback, int *out, const char *path)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v) {
        if (fallback < 0) return dk_fail("%s: missing field \"%s\"", path, key);
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (1 << 24) || v->valuedouble != (int)v->valuedouble)
        return dk_fail("%s: field \"%s\": expected a positive integer", path, key);
    *out = (int)v->valuedouble;
    return 0;
}

static int read_config(dk_hf_model *m, const char *path)
{
    cJSON *cfg;
    if (dk_json_read_file(path, &cfg)) return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(cfg, "model_type");
    int rc = 0;
    if (type && !cJSON_IsString(type)) rc = dk_fail("%s: field \"model_type\": expected a string", path);
    snprintf(m->model_type, sizeof m->model_type, "%s", cJSON_IsString(type) ? type->valuestring : "llama");
    if (!rc && !(m->arch = find_arch(m->model_type)))
        rc = dk_fail("%s: model_type \"%s\" is not supported (supported: %s)", path, m->model_type, dk_hf_model_types());
    if (!rc) rc = config_int(cfg, "hidden_size", -1, &m->hidden_size, path);
    if (!rc) rc = config_int(cfg, "intermediate_size", -1, &m->intermediate_size, path);
    if (!rc) rc = config_int(cfg, "num_hidden_layers", -1, &m->num_layers, path);
    if (!rc) rc = config_int(cfg, "num_attention_heads", -1, &m->num_heads, path);
    if (!rc) rc = config_int(cfg, "num_key_value_heads", m->num_heads, &m->num_kv_heads, path);
    if (!rc) rc = config_int(cfg, "vocab_size", -1, &m->vocab_size, path);
    cJSON_Delete(cfg);
    return rc;
}

/* The shard files named by an index, each opened once. */
static int open_shards(dk_hf_model *m, const char *index_path)
{
    cJSON *index;
    if (dk_json_read_file(index_path, &index)) return -1;
    m->weight_map = cJSON_DetachItemFromObjectCaseSensitive(index, "weight_map");
    cJSON_Delete(index);
    if (!cJSON_IsObject(m->weight_map)) return dk_fail("%s: field \"weight_map\": expected an object", index_path);
    int n = cJSON_GetArraySize(m->weight_map);
    m->files = dk_calloc((size_t)(n ? n : 1), sizeof *m->files);
    if (!m->files) return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, m->weight_map)
    {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/'))
            return dk_fail("%s: weight_map[\"%s\"]: expected a file name in the directory", index_path, e->string);
        char *path = dk_path_join(m->dir, e->valuestring);
        int seen = 0;
        for (int i = 0; path && i < m->nfiles && !seen; i++) seen = !strcmp(m->files[i].path, path);
        int rc = !path ? -1 : seen ? 0 : dk_safetensors_open(&m->files[m->nfiles], path);
        if (!rc && !seen) m->nfiles++;
        free(path);
        if (rc) return -1;
    }
    return 0;
}

int dk_hf_model_open(dk_hf_model *m, const char *dir)
{
    memset(m, 0, sizeof *m);
    if (!dk_is_dir(dir)) return dk_fail("%s: not a model directory", dir);
    m->dir = dk_strdupf("%s", dir);
    char *cfg = dk_path_join(dir, "config.json"), *single = dk_path_join(dir, "model.safetensors"),
         *index = dk_path_join(dir, "model.safetensors.index.json");
    int rc = m->dir && cfg && single && index ? read_config(m, cfg) : -1;
    if (!rc && dk_path_exists(single)) {
        m->files = dk_calloc(1, sizeof *m->files);
        rc = m->files ? dk_safetensors_open(&m->files[0], single) : -1;
        m->nfiles = rc ? 0 : 1;
    } else if (!rc && dk_path_exists(index)) rc = open_shards(m, index);
    else if (!rc) rc = dk_fail("%s: neither model.safetensors nor model.safetensors.index.json", dir);
    free(cfg), free(single), free(index);
    if (rc) dk_hf_model_close(m);
    return rc;
}

void dk_hf_model_close(dk_hf_model *m)
{
    for (int i = 0; i < m->nfiles; i++) dk_safetensors_close(&m->files[i]);
    free(m->files);
    cJSON_Delete(m->weight_map);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

static const dk_safetensors *file_of(const dk_hf_model *m, const char *name)
{
    if (!m->weight_map) return m->nfiles ? &m->files[0] : NULL;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m->weight_map, name);
    for (int i = 0; f && i < m->nfiles; i++) {
        const char *base = strrchr(m->files[i].path, '/');
        if (!strcmp(base ? base + 1 : m->files[i].path, f->valuestring)) return &m->files[i];
    }
    return NULL;
}

/* Rows [row0, row0 + *rows) of a tensor of `total` rows (any when < 0: then
 * all of them, counted in *rows), as fp32. */
static float *read_rows(const dk_hf_model *m, const char *name, int64_t row0, int64_t *rows, int64_t total, int64_t *cols)
{
    const dk_safetensors *st = file_of(m, name);
    const dk_tensor_view *t = st ? dk_safetensors_find(st, name) : NULL;
    if (!t) {
        dk_fail("%s: no tensor \"%s\"", m->dir, name);
        return NULL;
    }
    if (total < 0) total = *rows = t->ndim ? t->shape[0] : 0;
    if (t->ndim < 1 || t->ndim > 2 || t->shape[0] != total) {
        dk_fail("%s: tensor \"%s\" does not have the %lld rows that config.json implies", st->path, name, (long long)total);
        return NULL;
    }
    *cols = t->ndim == 2 ? t->shape[1] : 1;
    float *all = dk_malloc(sizeof(float) * (size_t)dk_shape_numel(t->ndim, t->shape));
    if (all && dk_safetensors_read_f32(st, name, all, t->ndim, t->shape)) {
        free(all);
        return NULL;
    }
    if (all && row0) memmove(all, all + row0 * *cols, sizeof(float) * (size_t)(*rows * *cols));
    return all;
}

float *dk_hf_model_tensor(dk_hf_model *m, dk_role role, int layer, int which, int64_t *rows, int64_t *cols)
{
    char name[160];
    int64_t I = m->intermediate_size, row0 = 0, total = m->hidden_size;
    *rows = m->hidden_size;
    switch (role) {
    case DK_ROLE_EMBED: /* often padded past the tokenizer's size: whatever is there */
        snprintf(name, sizeof name, "model.embed_tokens.weight");
        total = -1;
        break;
    case DK_ROLE_NORM: snprintf(name, sizeof name, "model.layers.%d.%s.weight", layer, m->arch->norms[which]); break;
    case DK_ROLE_FINAL_NORM: snprintf(name, sizeof name, "model.norm.weight"); break;
    case DK_ROLE_GATE:
    case DK_ROLE_UP:
        *rows = total = I;
        if (m->arch->fused_gate_up) {
            snprintf(name, sizeof name, "model.layers.%d.mlp.gate_up_proj.weight", layer);
            row0 = role == DK_ROLE_UP ? I : 0;
            total = 2 * I;
        } else
            snprintf(name, sizeof name, "model.layers.%d.mlp.%s_proj.weight", layer, role == DK_ROLE_UP ? "up" : "gate");
        break;
    }
    float *w = read_rows(m, name, row0, rows, total, cols);
    if (w && (role == DK_ROLE_NORM || role == DK_ROLE_FINAL_NORM)) {
        for (int64_t i = 0; i < *rows; i++) w[i] += m->arch->norm_offset;
        *cols = 1;
    }
    if (w && role != DK_ROLE_NORM && role != DK_ROLE_FINAL_NORM && *cols != m->hidden_size) {
        free(w);
        dk_fail("%s: tensor \"%s\" has %lld columns, config.json says hidden_size %d", m->dir, name, (long long)*cols,
                m->hidden_size);
        return NULL;
    }
    return w;
}
