/* dokja generate: continue a prompt with a model directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "infer_cli.h"

/* "1,2,3" -> ids; errors name the bad item. */
static int parse_ids(const char *text, int **ids, int *n)
{
    int cap = 16, count = 0;
    int *out = dk_malloc(sizeof *out * (size_t)cap);
    if (!out) return -1;
    for (const char *p = text; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 0x7fffffff || (*end && *end != ',')) {
            free(out);
            return dk_fail("--prompt-ids: item %d is not a token id (expected e.g. 1,2,3)", count + 1);
        }
        if (count == cap) {
            int *grown = realloc(out, sizeof *out * (size_t)(cap *= 2));
            if (!grown) {
                free(out);
                return dk_fail("--prompt-ids: out of memory");
            }
            out = grown;
        }
        out[count++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!count) {
        free(out);
        return dk_fail("--prompt-ids: no ids given");
    }
    *ids = out;
    *n = count;
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    char *model_dir = NULL, *prompt = NULL, *prompt_ids = NULL;
    bool ids = false;
    dk_gen_opts g = {.sampling = {.temperature = 0.8, .top_p = 1.0}, .max_new = 64};
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "HF Llama model directory (fp32 or q8)"},
        {"prompt", DK_FIELD_STRING, &prompt, "TEXT", "text prompt (needs the model's tokenizer.json)"},
        {"prompt-ids", DK_FIELD_STRING, &prompt_ids, "1,2,3", "prompt as token ids"},
        {"ids", DK_FIELD_BOOL, &ids, NULL, "print token ids (comma-separated)"},
        DK_GEN_OPTS(&g),
        {0},
    };
    const dk_opt_group groups[] = {{"sampling (defaults: temperature 0.8, top-p 1, seed 0)", dk_sampler_fields, &g.sampling}};
    dk_cli cli = {.usage = "dokja generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]",
                  .summary = "Continues a prompt: the prompt is prefilled in one pass, then tokens are decoded one at a\n"
                             "time with a KV cache. Stops at the model's eos_token_id, a --stop text, --max-new-tokens\n"
                             "(default 64) or the end of the context.",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 1};
    dk_lm lm = {0};
    dk_sampler s = {0};
    dk_printer pr = {0};
    int *prompt_tok = NULL, n = 0;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model_dir || (!prompt == !prompt_ids) || cli.npositional) {
        fprintf(stderr, "dokja: generate needs --model DIR and one of --prompt or --prompt-ids\nusage: %s (see --help)\n",
                cli.usage);
        goto done;
    }
    if ((rc = dk_gen_opts_check(&g, &cli)) >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (prompt_ids && parse_ids(prompt_ids, &prompt_tok, &n)) {
        fprintf(stderr, "dokja: %s\n", dk_error());
        goto done;
    }
    if (dk_lm_open(&lm, model_dir) || dk_gen_opts_use_device(&g, &lm.model) ||
        (prompt && dk_lm_text_prompt(&lm, prompt, &prompt_tok, &n)) ||
        dk_sampler_init(&s, &g.sampling, lm.model.cfg.vocab_size)) {
        rc = dk_cli_error();
        goto done;
    }
    dk_printer_init(&pr, &lm, &g, ids);
    if (pr.ids && !ids) fprintf(stderr, "note: printing token ids (this model has no tokenizer.json)\n");
    dk_gen gen = {.sampler = &s, .max_new = g.max_new, .stop_ids = lm.stop_ids, .nstop_ids = 1, .fn = dk_printer_token, .user = &pr};
    if (dk_gen_run(&lm.model, &gen, prompt_tok, n) < 0) {
        rc = dk_cli_error();
        goto done;
    }
    dk_printer_finish(&pr);
    rc = DK_EXIT_OK;
done:
    free(prompt_tok);
    dk_printer_free(&pr);
    dk_sampler_free(&s);
    dk_lm_close(&lm);
    dk_gen_opts_free(&g);
    free(model_dir);
    free(prompt);
    free(prompt_ids);
    return rc;
}
