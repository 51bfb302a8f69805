/* dokja generate: continue a prompt with a model directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/infer.h"
#include "dokja/peak.h"

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

typedef struct {
    int count;
} print_state;

/* Streams ids as they come: "12,7,99". */
static int print_token(int token, void *user)
{
    print_state *ps = user;
    printf("%s%d", ps->count++ ? "," : "", token);
    fflush(stdout);
    return 0;
}

int cmd_generate(int argc, char **argv)
{
    char *model_dir = NULL, *prompt = NULL, *prompt_ids = NULL;
    int max_new = 64, top_k = 0, threads = 0;
    double temperature = 0.8, top_p = 1.0;
    int64_t seed = 0;
    bool ids = false;
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "HF Llama model directory"},
        {"prompt", DK_FIELD_STRING, &prompt, "TEXT", "text prompt (needs the model's tokenizer.json)"},
        {"prompt-ids", DK_FIELD_STRING, &prompt_ids, "1,2,3", "prompt as token ids"},
        {"max-new-tokens", DK_FIELD_INT, &max_new, "N", "tokens to generate (default 64)"},
        {"temperature", DK_FIELD_DOUBLE, &temperature, "T", "sampling temperature; 0 is greedy (default 0.8)"},
        {"top-k", DK_FIELD_INT, &top_k, "K", "sample among the K likeliest tokens (0: all)"},
        {"top-p", DK_FIELD_DOUBLE, &top_p, "P", "sample among the likeliest tokens holding P of the mass (default 1)"},
        {"seed", DK_FIELD_I64, &seed, "S", "sampling seed (default 0)"},
        {"ids", DK_FIELD_BOOL, &ids, NULL, "print token ids (comma-separated)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]",
                  .summary = "Continues a prompt: the prompt is prefilled in one pass, then tokens are decoded one at a\n"
                             "time with a KV cache. Stops at the model's eos_token_id, at --max-new-tokens or at the end\n"
                             "of the context.",
                  .opts = opts};
    dk_model m = {0};
    dk_sampler s = {0};
    int *prompt_tok = NULL, n = 0;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model_dir || (!prompt == !prompt_ids) || cli.npositional) {
        fprintf(stderr, "dokja: generate needs --model DIR and one of --prompt or --prompt-ids\nusage: %s (see --help)\n",
                cli.usage);
        goto done;
    }
    if (max_new < 0 || top_k < 0 || temperature < 0 || !(top_p > 0 && top_p <= 1)) {
        fprintf(stderr, "dokja: need --max-new-tokens >= 0, --top-k >= 0, --temperature >= 0 and 0 < --top-p <= 1\n");
        goto done;
    }
    if (prompt) {
        /* Text needs the tokenizer (a separate part of dokja, not yet built in). */
        dk_fail("--prompt: this build cannot read tokenizer.json yet; pass the prompt as --prompt-ids");
        rc = dk_cli_error();
        goto done;
    }
    if (!ids) fprintf(stderr, "note: printing token ids (text output needs the tokenizer)\n");
    dk_set_threads(threads);
    dk_sampler_config sc = {.temperature = temperature, .top_k = top_k, .top_p = top_p, .seed = (uint64_t)seed};
    if (parse_ids(prompt_ids, &prompt_tok, &n)) {
        fprintf(stderr, "dokja: %s\n", dk_error());
        goto done;
    }
    if (dk_model_load_dir(&m, model_dir) ||
        dk_sampler_init(&s, &sc, m.cfg.vocab_size)) {
        rc = dk_cli_error();
        goto done;
    }
    print_state ps = {0};
    if (dk_generate(&m, prompt_tok, n, max_new, m.cfg.eos_token_id, &s, print_token, &ps) < 0) {
        rc = dk_cli_error();
        goto done;
    }
    printf("\n");
    rc = DK_EXIT_OK;
done:
    free(prompt_tok);
    dk_sampler_free(&s);
    dk_model_free(&m);
    free(model_dir);
    free(prompt);
    free(prompt_ids);
    return rc;
}
