#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/sha256.h"
#include "dokja/train.h"

static int write_json_in(const char *dir, const char *name, cJSON *json)
{
    char *path = dk_path_join(dir, name);
    int rc = path ? dk_json_write_file(path, json) : -1;
    free(path);
    cJSON_Delete(json);
    return rc;
}

int dk_model_dir_write(const char *dir, const dk_model *m, const dk_model_dir_info *info)
{
    char *weights = dk_path_join(dir, "model.safetensors");
    if (!weights) return -1;
    char sha[DK_SHA256_HEX];
    int rc = dk_model_save_weights(m, weights);
    if (!rc) rc = dk_sha256_file(weights, sha);
    free(weights);
    if (!rc) rc = write_json_in(dir, "config.json", dk_model_config_to_json(&m->cfg));
    if (!rc) {
        cJSON *gen = cJSON_CreateObject();
        cJSON_AddNumberToObject(gen, "bos_token_id", m->cfg.bos_token_id);
        cJSON_AddNumberToObject(gen, "eos_token_id", m->cfg.eos_token_id);
        rc = write_json_in(dir, "generation_config.json", gen);
    }
    if (!rc) {
        cJSON *lineage = cJSON_CreateObject();
        cJSON_AddStringToObject(lineage, "format", "dokja-model-1");
        cJSON_AddStringToObject(lineage, "weights_sha256", sha);
        if (info && info->parent_sha256) cJSON_AddStringToObject(lineage, "parent_sha256", info->parent_sha256);
        else cJSON_AddNullToObject(lineage, "parent_sha256");
        if (info && info->run_id) cJSON_AddStringToObject(lineage, "run_id", info->run_id);
        if (info && info->ledger_head) cJSON_AddStringToObject(lineage, "ledger_head", info->ledger_head);
        rc = write_json_in(dir, "dokja.json", lineage);
    }
    if (!rc && info && info->tokenizer_path) {
        char *dst = dk_path_join(dir, "tokenizer.json");
        rc = dst ? dk_copy_file(info->tokenizer_path, dst) : -1;
        free(dst);
    }
    return rc;
}

int dk_model_dir_publish(const char *parent, const char *name, const dk_model *m, const dk_model_dir_info *info)
{
    char *final = dk_path_join(parent, name);
    char *tmp = dk_strdupf("%s/.tmp-%s", parent, name);
    int rc = !final || !tmp ? -1 : 0;
    if (!rc) rc = dk_remove_tree(tmp);
    if (!rc) rc = dk_mkdirs(tmp);
    if (!rc) rc = dk_model_dir_write(tmp, m, info);
    if (!rc) rc = dk_fsync_dir(tmp);
    if (!rc) rc = dk_remove_tree(final);
    if (!rc && rename(tmp, final) != 0) rc = dk_fail("%s: rename failed: %s", final, strerror(errno));
    if (!rc) rc = dk_fsync_dir(parent);
    free(final);
    free(tmp);
    return rc;
}
