/* Opening a model directory for inference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/lm.h"

/* dokja renders its own chat format; a tokenizer_config.json whose
 * chat_template is another one would be rendered wrongly, so chat is off. */
static void check_chat(dk_lm *lm, const char *dir)
{
    if (!lm->tok || dk_chat_tokens_find(lm->tok, &lm->ct)) {
        snprintf(lm->chat_problem, sizeof lm->chat_problem, "%s",
                 lm->tok ? dk_error() : "the model directory has no tokenizer.json");
        return;
    }
    char *path = dk_path_join(dir, "tokenizer_config.json");
    cJSON *cfg = NULL;
    if (path && dk_path_exists(path) && !dk_json_read_file(path, &cfg)) {
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(tpl) && strcmp(tpl->valuestring, dk_chat_template_jinja))
            snprintf(lm->chat_problem, sizeof lm->chat_problem,
                     "%s: its chat_template is not dokja's chat format (docs/chat.md), which is the one dokja renders", path);
    }
    cJSON_Delete(cfg);
    free(path);
    lm->chat = !lm->chat_problem[0];
}

int dk_lm_open(dk_lm *lm, const char *dir)
{
    memset(lm, 0, sizeof *lm);
    char *tok_path = dk_path_join(dir, "tokenizer.json");
    int rc = !tok_path || dk_model_load_dir(&lm->model, dir);
    if (!rc && dk_path_exists(tok_path)) rc = dk_tokenizer_load(&lm->tok, tok_path);
    free(tok_path);
    if (rc) {
        dk_lm_close(lm);
        return -1;
    }
    check_chat(lm, dir);
    /* "runs/m/" is named m */
    char *copy = strdup(dir);
    size_t len = copy ? strlen(copy) : 0;
    while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
    const char *base = copy ? strrchr(copy, '/') : NULL;
    lm->name = copy ? strdup(base && base[1] ? base + 1 : copy) : NULL;
    free(copy);
    lm->stop_ids[0] = lm->model.cfg.eos_token_id;
    lm->stop_ids[1] = lm->chat ? lm->ct.end : lm->model.cfg.eos_token_id;
    return lm->name ? 0 : dk_fail("out of memory");
}

void dk_lm_close(dk_lm *lm)
{
    dk_model_free(&lm->model);
    dk_tokenizer_free(lm->tok);
    free(lm->name);
    memset(lm, 0, sizeof *lm);
}

int dk_lm_text_prompt(const dk_lm *lm, const char *text, int **ids, int *n)
{
    int *body, nbody;
    if (!lm->tok) return dk_fail("the model has no tokenizer.json: give the prompt as token ids");
    if (dk_tokenizer_encode(lm->tok, text, strlen(text), false, &body, &nbody)) return -1;
    *ids = dk_malloc(sizeof **ids * (size_t)(nbody + 1));
    if (*ids) {
        (*ids)[0] = lm->model.cfg.bos_token_id;
        memcpy(*ids + 1, body, sizeof *body * (size_t)nbody);
        *n = nbody + 1;
    }
    free(body);
    return *ids ? 0 : -1;
}

int dk_lm_chat_prompt(const dk_lm *lm, const dk_chat_msg *msgs, int n, bool think, int **ids, int *len)
{
    if (!lm->chat) return dk_fail("this model cannot chat: %s", lm->chat_problem);
    return dk_chat_render(lm->tok, &lm->ct, msgs, n, true, think, ids, NULL, len);
}
