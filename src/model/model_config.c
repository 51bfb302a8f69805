#include <stddef.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/model.h"

#define F(name, type, help) {#name, type, offsetof(dk_model_config, name), help}
const dk_field dk_model_config_fields[] = {
    F(hidden_size, DK_FIELD_INT, "width of the residual stream"),
    F(intermediate_size, DK_FIELD_INT, "width of the SwiGLU MLP"),
    F(num_hidden_layers, DK_FIELD_INT, "number of transformer blocks"),
    F(num_attention_heads, DK_FIELD_INT, "query heads"),
    F(num_key_value_heads, DK_FIELD_INT, "key/value heads (grouped-query attention)"),
    F(vocab_size, DK_FIELD_INT, "vocabulary size"),
    F(max_position_embeddings, DK_FIELD_INT, "longest context"),
    F(rope_theta, DK_FIELD_DOUBLE, "RoPE base"),
    F(rms_norm_eps, DK_FIELD_DOUBLE, "RMSNorm epsilon"),
    F(tie_word_embeddings, DK_FIELD_BOOL, "share the embedding with the LM head"),
    F(bos_token_id, DK_FIELD_INT, "beginning-of-sequence id"),
    F(eos_token_id, DK_FIELD_INT, "end-of-sequence id"),
    {0},
};
#undef F

void dk_model_config_default(dk_model_config *c)
{
    *c = (dk_model_config){
        .hidden_size = 256,
        .intermediate_size = 704,
        .num_hidden_layers = 4,
        .num_attention_heads = 4,
        .num_key_value_heads = 4,
        .vocab_size = 32000,
        .max_position_embeddings = 256,
        .rope_theta = 10000.0,
        .rms_norm_eps = 1e-5,
        .tie_word_embeddings = true,
        .bos_token_id = 0,
        .eos_token_id = 1,
    };
}

int dk_model_config_validate(const dk_model_config *c, const char *source)
{
    const int *positive[] = {&c->hidden_size,         &c->intermediate_size, &c->num_hidden_layers, &c->num_attention_heads,
                             &c->num_key_value_heads, &c->vocab_size,        &c->max_position_embeddings};
    const char *names[] = {"hidden_size",         "intermediate_size", "num_hidden_layers",      "num_attention_heads",
                           "num_key_value_heads", "vocab_size",        "max_position_embeddings"};
    for (size_t i = 0; i < sizeof positive / sizeof *positive; i++)
        if (*positive[i] <= 0 || *positive[i] > (1 << 24)) return dk_fail("%s: \"%s\" must be a positive size", source, names[i]);
    if (c->hidden_size % c->num_attention_heads)
        return dk_fail("%s: \"hidden_size\" (%d) must be divisible by \"num_attention_heads\" (%d)", source, c->hidden_size,
                       c->num_attention_heads);
    if ((c->hidden_size / c->num_attention_heads) % 2)
        return dk_fail("%s: the head dimension (hidden_size / num_attention_heads) must be even for RoPE", source);
    if (c->num_attention_heads % c->num_key_value_heads)
        return dk_fail("%s: \"num_attention_heads\" (%d) must be a multiple of \"num_key_value_heads\" (%d)", source,
                       c->num_attention_heads, c->num_key_value_heads);
    if (!(c->rope_theta > 0)) return dk_fail("%s: \"rope_theta\" must be positive", source);
    if (!(c->rms_norm_eps > 0)) return dk_fail("%s: \"rms_norm_eps\" must be positive", source);
    if (c->bos_token_id < 0 || c->bos_token_id >= c->vocab_size || c->eos_token_id < 0 || c->eos_token_id >= c->vocab_size)
        return dk_fail("%s: \"bos_token_id\" and \"eos_token_id\" must be below vocab_size", source);
    return 0;
}

int dk_model_config_load(dk_model_config *c, const char *path)
{
    cJSON *json;
    if (dk_json_read_file(path, &json)) return -1;
    dk_model_config_default(c);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "model_type");
    int rc = 0;
    if (type && (!cJSON_IsString(type) || strcmp(type->valuestring, "llama")))
        rc = dk_fail("%s: field \"model_type\": only \"llama\" is supported", path);
    /* HF configs list several eos ids as an array; the first is ours. */
    cJSON *eos = cJSON_GetObjectItemCaseSensitive(json, "eos_token_id");
    if (!rc && cJSON_IsArray(eos) && cJSON_GetArraySize(eos) > 0)
        cJSON_ReplaceItemInObjectCaseSensitive(json, "eos_token_id", cJSON_Duplicate(cJSON_GetArrayItem(eos, 0), 0));
    if (!rc) rc = dk_fields_from_json(dk_model_config_fields, c, json, path);
    cJSON_Delete(json);
    if (!rc) rc = dk_model_config_validate(c, path);
    return rc;
}

cJSON *dk_model_config_to_json(const dk_model_config *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddStringToObject(j, "model_type", "llama");
    dk_fields_to_json(dk_model_config_fields, c, j);
    cJSON_AddNumberToObject(j, "head_dim", c->hidden_size / c->num_attention_heads);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddBoolToObject(j, "attention_bias", 0);
    cJSON_AddBoolToObject(j, "mlp_bias", 0);
    cJSON_AddNumberToObject(j, "initializer_range", DK_INIT_STD);
    cJSON_AddStringToObject(j, "torch_dtype", "float32");
    cJSON_AddBoolToObject(j, "use_cache", 1);
    return j;
}

bool dk_model_config_equal(const dk_model_config *a, const dk_model_config *b)
{
    return a->hidden_size == b->hidden_size && a->intermediate_size == b->intermediate_size &&
           a->num_hidden_layers == b->num_hidden_layers && a->num_attention_heads == b->num_attention_heads &&
           a->num_key_value_heads == b->num_key_value_heads && a->vocab_size == b->vocab_size &&
           a->max_position_embeddings == b->max_position_embeddings && a->rope_theta == b->rope_theta &&
           a->rms_norm_eps == b->rms_norm_eps && a->tie_word_embeddings == b->tie_word_embeddings &&
           a->bos_token_id == b->bos_token_id && a->eos_token_id == b->eos_token_id;
}
