/* dokja generate: continue a prompt with a model directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/bytes.h"
#include "dokja/error.h"
#include "dokja/io.h"
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
    bool text; /* print bytes as text rather than ids */
} print_state;

/* Streams the output as it comes: ids "12,7,99", or the bytes themselves. */
static int print_token(int token, void *user)
{
    print_state *ps = user;
    if (ps->text) {
        if (token < 256) putchar(token);
    } else {
        printf("%s%d", ps->count ? "," : "", token);
    }
    ps->count++;
    fflush(stdout);
    return 0;
}

/* A text prompt over the byte-level vocabulary: <|bos|> and its bytes. */
static int byte_prompt(const char *text, int **ids, int *n)
{
    size_t len = strlen(text);
    *ids = dk_malloc(sizeof **ids * (len + 1));
    if (!*ids) return -1;
    (*ids)[0] = DK_BYTES_BOS;
    for (size_t i = 0; i < len; i++) (*ids)[i + 1] = (unsigned char)text[i];
    *n = (int)len + 1;
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
    dk_set_threads(threads);
    dk_sampler_config sc = {.temperature = temperature, .top_k = top_k, .top_p = top_p, .seed = (uint64_t)seed};
    if (prompt_ids && parse_ids(prompt_ids, &prompt_tok, &n)) {
        fprintf(stderr, "dokja: %s\n", dk_error());
        goto done;
    }
    rc = DK_EXIT_ERROR;
    char *tok_path = dk_path_join(model_dir, "tokenizer.json");
    bool bytes = tok_path && dk_bytes_tokenizer_is(tok_path);
    free(tok_path);
    /* Text in and out needs a tokenizer: the byte-level one is built in; BPE
     * tokenizer.json files come with the tokenizer part of dokja. */
    if (prompt && !bytes) {
        dk_fail("--prompt: %s/tokenizer.json is not the byte-level vocabulary, and BPE tokenizers are not built in yet; "
                "pass the prompt as --prompt-ids",
                model_dir);
        rc = dk_cli_error();
        goto done;
    }
    if ((prompt && byte_prompt(prompt, &prompt_tok, &n)) || dk_model_load_dir(&m, model_dir) ||
        dk_sampler_init(&s, &sc, m.cfg.vocab_size)) {
        rc = dk_cli_error();
        goto done;
    }
    print_state ps = {.text = bytes && !ids};
    if (!ps.text && !ids) fprintf(stderr, "note: printing token ids (this model has no built-in tokenizer)\n");
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
