/* dokja quantize: a model directory -> one with group-wise int8 weights. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/lm.h"
#include "dokja/peak.h"
#include "dokja/quant.h"
#include "dokja/sha256.h"
#include "dokja/train.h"

/* config.json gains quantization_config, so that tools expecting plain
 * float weights refuse the directory instead of misreading it. */
static int mark_config(const char *dir)
{
    char *path = dk_path_join(dir, "config.json");
    cJSON *cfg = NULL;
    int rc = !path || dk_json_read_file(path, &cfg);
    if (!rc) {
        cJSON *q = cJSON_AddObjectToObject(cfg, "quantization_config");
        cJSON_AddStringToObject(q, "quant_method", "dokja-q8");
        cJSON_AddNumberToObject(q, "bits", 8);
        cJSON_AddNumberToObject(q, "group_size", DK_Q8_GROUP);
        rc = dk_json_write_file(path, cfg);
    }
    cJSON_Delete(cfg);
    free(path);
    return rc;
}

/* Written into OUT.tmp and renamed: OUT appears whole or not at all. */
static int write_q8_dir(const char *src, const char *out, const dk_model *m)
{
    char *tmp = dk_strdupf("%s.tmp", out), *w = dk_path_join(src, "model.safetensors");
    char *tok = dk_path_join(src, "tokenizer.json"), *tcfg = dk_path_join(src, "tokenizer_config.json");
    char *tcfg_out = tmp ? dk_path_join(tmp, "tokenizer_config.json") : NULL;
    char sha[DK_SHA256_HEX];
    int rc = !tmp || !w || !tok || !tcfg || !tcfg_out || dk_remove_tree(tmp) || dk_mkdirs(tmp) || dk_sha256_file(w, sha);
    dk_model_dir_info info = {.tokenizer_path = tok && dk_path_exists(tok) ? tok : NULL, .parent_sha256 = sha};
    if (!rc) rc = dk_model_dir_write(tmp, m, &info) || mark_config(tmp);
    if (!rc && dk_path_exists(tcfg)) rc = dk_copy_file(tcfg, tcfg_out);
    if (!rc) rc = dk_fsync_dir(tmp);
    if (!rc && rename(tmp, out)) rc = dk_fail("%s: %s", out, strerror(errno));
    if (rc && tmp) dk_remove_tree(tmp);
    free(tmp), free(w), free(tok), free(tcfg), free(tcfg_out);
    return rc ? -1 : 0;
}

/* Perplexity of the text before and after, printed as one JSON line. */
static int compare(dk_lm *lm, const char *src, const char *text_path, int max_tokens)
{
    dk_lm ref;
    char *text = NULL;
    int *ids = NULL, n = 0;
    size_t len;
    double p8, p32;
    int rc = dk_read_file(text_path, &text, &len) || dk_lm_text_prompt(lm, text, &ids, &n) || dk_lm_open(&ref, src);
    if (!rc) {
        if (n > max_tokens) n = max_tokens;
        rc = dk_perplexity(&ref.model, ids, n, 0, &p32) || dk_perplexity(&lm->model, ids, n, 0, &p8);
        dk_lm_close(&ref);
    }
    if (!rc)
        printf("{\"tokens\":%d,\"ppl_fp32\":%.6f,\"ppl_q8\":%.6f,\"ratio\":%.6f,\"kernel\":\"%s\"}\n", n, p32, p8, p8 / p32,
               dk_q8_kernel());
    free(text);
    free(ids);
    return rc ? dk_fail_context("--eval %s", text_path) : 0;
}

int cmd_quantize(int argc, char **argv)
{
    char *model_dir = NULL, *out = NULL, *type = NULL, *eval = NULL;
    int threads = 0, eval_tokens = 4096;
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "fp32 (or bf16) model directory"},
        {"out", DK_FIELD_STRING, &out, "DIR", "model directory to write (must not exist)"},
        {"type", DK_FIELD_STRING, &type, "q8", "q8: int8 weights in groups of 32 with a float scale each"},
        {"eval", DK_FIELD_STRING, &eval, "FILE", "held-out text: print the perplexity before and after"},
        {"eval-tokens", DK_FIELD_INT, &eval_tokens, "N", "tokens of --eval text to score (default 4096)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja quantize --model DIR --out DIR --type q8 [--eval FILE]",
                  .summary = "Writes a copy of a model directory whose matrices are group-wise int8 (docs/inference.md);\n"
                             "generate, chat and serve decode it with int8 kernels. Norms stay fp32.",
                  .opts = opts};
    dk_lm lm = {0};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model_dir || !out || !type || cli.npositional || eval_tokens < 2) {
        fprintf(stderr, "dokja: quantize needs --model DIR --out DIR --type q8\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    if (strcmp(type, "q8")) {
        fprintf(stderr, "dokja: --type %s is not known; the type is q8\n", type);
        goto done;
    }
    dk_set_threads(threads);
    if (dk_path_exists(out) && dk_fail("%s already exists; give a new directory", out)) {
        rc = dk_cli_error();
        goto done;
    }
    if (dk_lm_open(&lm, model_dir) || (lm.model.q8 && dk_fail("%s is already int8", model_dir)) || dk_model_quantize(&lm.model) ||
        write_q8_dir(model_dir, out, &lm.model) || (eval && compare(&lm, model_dir, eval, eval_tokens))) {
        rc = dk_cli_error();
        goto done;
    }
    fprintf(stderr, "wrote %s: %.1f MB of weights read per token\n", out, (double)dk_model_decode_bytes(&lm.model) / 1e6);
    rc = DK_EXIT_OK;
done:
    dk_lm_close(&lm);
    free(model_dir);
    free(out);
    free(type);
    free(eval);
    return rc;
}
