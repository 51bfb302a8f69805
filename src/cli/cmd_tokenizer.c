/* dokja tokenizer train|encode|decode|info: thin mains over tokenizer.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/corpus.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/progress.h"
#include "dokja/tokenizer.h"

/* The whole input (a file, or stdin when none is named). */
static int read_input(const char *path, char **text, size_t *len)
{
    return dk_read_file(path ? path : "/dev/stdin", text, len);
}

static void print_merges(int done, int total, void *user)
{
    dk_progress *p = user;
    if (p->total != total) dk_progress_start(p, "merges", total);
    dk_progress_update(p, done, NULL, NULL);
}

static void report_bad(void *ctx, dk_bad_kind kind, const char *path, int64_t line, const char *message)
{
    (void)ctx;
    (void)kind;
    fprintf(stderr, "warning: %s:%lld: %s\n", path, (long long)line, message);
}

static int train(int argc, char **argv)
{
    dk_strlist inputs = {0}, specials = {0};
    char *out = NULL, *pattern = NULL, *text_field = NULL;
    int vocab = 0, threads = 0;
    int64_t min_freq = 2;
    bool lines = false;
    const dk_opt opts[] = {
        {"input", DK_FIELD_STRING, &inputs, "PATH", "text: .txt, .jsonl, .csv, .tsv, their .zst, directories", true},
        {"vocab-size", DK_FIELD_INT, &vocab, "N", "tokens in all: 256 bytes + special tokens + merges"},
        {"output", DK_FIELD_STRING, &out, "FILE", "tokenizer.json to write"},
        {"special-tokens", DK_FIELD_STRING, &specials, "TOK", "special tokens, ids 256 on (default: the chat set)", true},
        {"pattern", DK_FIELD_STRING, &pattern, "REGEX", "pre-tokenizer regex (default: docs/tokenizer.md)"},
        {"min-frequency", DK_FIELD_I64, &min_freq, "F", "merge only pairs seen at least F times (default 2)"},
        {"text-field", DK_FIELD_STRING, &text_field, "NAME", "the text field of .jsonl/.csv inputs (default text)"},
        {"lines", DK_FIELD_BOOL, &lines, NULL, ".txt: each line is a document (default: each file)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenizer train --input PATH... --vocab-size N --output tokenizer.json [options]",
                  .summary = "Learns a byte-level BPE vocabulary (NFC, the regex pre-tokenizer, GPT-2's byte map) and\n"
                             "writes it as an HF tokenizer.json. The result is the same for any --threads.",
                  .opts = opts};
    dk_bpe_trainer *tr = NULL;
    dk_docs *d = NULL;
    dk_doc_batch batch = {0};
    char *json = NULL;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!inputs.count || !out || vocab <= 0 || cli.npositional || threads < 0) {
        fprintf(stderr, "dokja: tokenizer train needs --input PATH..., --vocab-size N and --output FILE\nusage: %s (see --help)\n",
                cli.usage);
        goto done;
    }
    rc = DK_EXIT_ERROR;
    dk_bpe_train_options o = {.vocab_size = vocab, .pattern = pattern, .min_frequency = min_freq, .threads = threads,
                              .specials = specials.count ? specials.items : NULL, .nspecials = specials.count};
    dk_docs_options dopt = {.text_field = text_field, .lines = lines, .strict = true, .on_bad = report_bad};
    if (dk_bpe_trainer_new(&tr, &o) || dk_docs_open(&d, inputs.items, inputs.count, &dopt)) {
        rc = dk_cli_error();
        goto done;
    }
    dk_progress prog;
    int64_t read = 0, total = 0;
    dk_docs_progress(d, &read, &total);
    dk_progress_start(&prog, "count", total);
    int got;
    while ((got = dk_doc_batch_fill(&batch, d, 8 << 20)) > 0) {
        if (dk_bpe_trainer_add(tr, batch.texts, batch.lens, batch.n)) {
            dk_fail_context("%s", batch.path[0]);
            got = -1;
            break;
        }
        dk_docs_progress(d, &read, &total);
        char extra[64], extra_json[64];
        snprintf(extra, sizeof extra, "%lld pre-tokens", (long long)dk_bpe_trainer_distinct(tr));
        snprintf(extra_json, sizeof extra_json, "\"distinct\":%lld", (long long)dk_bpe_trainer_distinct(tr));
        dk_progress_update(&prog, read, extra, extra_json);
    }
    dk_progress_finish(&prog);
    if (got < 0) {
        rc = dk_cli_error();
        goto done;
    }
    if (!dk_bpe_trainer_distinct(tr)) {
        dk_fail("no text in the inputs: nothing to train on");
        rc = dk_cli_error();
        goto done;
    }
    prog.total = -1;
    json = dk_bpe_trainer_finish(tr, print_merges, &prog);
    dk_progress_finish(&prog);
    if (!json || dk_write_file_atomic(out, json, strlen(json))) {
        rc = dk_cli_error();
        goto done;
    }
    /* Fewer tokens than asked when no pair is seen --min-frequency times any more: say so. */
    dk_tokenizer *made;
    if (dk_tokenizer_load_text(&made, json, strlen(json), out)) {
        rc = dk_cli_error();
        goto done;
    }
    fprintf(stderr, "wrote %s: %d tokens%s\n", out, dk_tokenizer_vocab_size(made),
            dk_tokenizer_vocab_size(made) < vocab ? " (no pair left that is seen --min-frequency times)" : "");
    dk_tokenizer_free(made);
    rc = DK_EXIT_OK;
done:
    dk_doc_batch_free(&batch);
    dk_docs_close(d);
    dk_bpe_trainer_free(tr);
    free(json);
    dk_strlist_free(&inputs);
    dk_strlist_free(&specials);
    free(out);
    free(pattern);
    free(text_field);
    return rc;
}

/* Parses a subverb that needs --tokenizer: -1 to go on, else the exit code. */
static int parse_with_tokenizer(dk_cli *cli, int argc, char **argv, char *const *tok_path, const char *sub)
{
    int rc = dk_cli_parse(cli, argc, argv);
    if (rc >= 0) return rc;
    if (*tok_path && !cli->npositional) return -1;
    fprintf(stderr, "dokja: tokenizer %s needs --tokenizer FILE\nusage: %s (see --help)\n", sub, cli->usage);
    return DK_EXIT_USAGE;
}

/* "1 2 3", "1,2,3" or "[1, 2, 3]" -> ids; the message names the bad item. */
static int parse_ids(const char *text, const char *source, int **ids, int *n)
{
    int cap = 0, count = 0, *out = NULL;
    for (const char *p = text;;) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r' || *p == '[' || *p == ']') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > 0x7fffffff) {
            free(out);
            return dk_fail("%s: item %d is not a token id", source, count + 1);
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 256;
            int *grown = realloc(out, sizeof *grown * (size_t)cap);
            if (!grown) {
                free(out);
                return dk_fail("out of memory");
            }
            out = grown;
        }
        out[count++] = (int)v;
        p = end;
    }
    *ids = out;
    *n = count;
    return 0;
}

static void print_json_string(const char *s, size_t len)
{
    cJSON *j = cJSON_CreateString("");
    char *copy = malloc(len + 1);
    if (j && copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
        cJSON_SetValuestring(j, copy);
        char *p = cJSON_PrintUnformatted(j);
        if (p) fputs(p, stdout);
        free(p);
    }
    free(copy);
    cJSON_Delete(j);
}

static int encode(int argc, char **argv)
{
    char *tok_path = NULL, *input = NULL;
    bool ids_out = false, json_out = false, add_special = false;
    const dk_opt opts[] = {
        {"tokenizer", DK_FIELD_STRING, &tok_path, "FILE", "tokenizer.json"},
        {"input", DK_FIELD_STRING, &input, "FILE", "the text (default: stdin); the whole input is one text"},
        {"ids", DK_FIELD_BOOL, &ids_out, NULL, "print the ids separated by spaces (the default)"},
        {"json", DK_FIELD_BOOL, &json_out, NULL, "print {\"ids\": [...], \"tokens\": [...]}"},
        {"add-special-tokens", DK_FIELD_BOOL, &add_special, NULL, "add what the post-processor adds (e.g. BOS)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenizer encode --tokenizer FILE [--input FILE] [--ids | --json] [--add-special-tokens]",
                  .summary = "Encodes text to token ids exactly as HF tokenizers does with the same tokenizer.json.\n"
                             "Special tokens written in the text are matched; none are added unless asked.",
                  .opts = opts};
    dk_tokenizer *t = NULL;
    char *text = NULL;
    int *ids = NULL, n = 0;
    size_t len;
    int rc = parse_with_tokenizer(&cli, argc, argv, &tok_path, "encode");
    if (rc >= 0) goto done;
    if (ids_out && json_out) {
        fprintf(stderr, "dokja: give at most one of --ids and --json\nusage: %s (see --help)\n", cli.usage);
        rc = DK_EXIT_USAGE;
        goto done;
    }
    rc = DK_EXIT_ERROR;
    if (dk_tokenizer_load(&t, tok_path) || read_input(input, &text, &len)) {
        rc = dk_cli_error();
        goto done;
    }
    if (dk_tokenizer_encode(t, text, len, add_special, &ids, &n)) {
        dk_fail_context("%s", input ? input : "stdin");
        rc = dk_cli_error();
        goto done;
    }
    if (json_out) {
        printf("{\"ids\": [");
        for (int i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("], \"tokens\": [");
        for (int i = 0; i < n; i++) {
            size_t bl;
            const char *b = dk_tokenizer_token_bytes(t, ids[i], &bl);
            if (i) printf(", ");
            print_json_string(b, bl);
        }
        printf("]}\n");
    } else {
        for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
    rc = DK_EXIT_OK;
done:
    dk_tokenizer_free(t);
    free(text);
    free(ids);
    free(tok_path);
    free(input);
    return rc;
}

static int decode(int argc, char **argv)
{
    char *tok_path = NULL, *input = NULL;
    bool skip = false;
    const dk_opt opts[] = {
        {"tokenizer", DK_FIELD_STRING, &tok_path, "FILE", "tokenizer.json"},
        {"input", DK_FIELD_STRING, &input, "FILE", "ids separated by spaces or commas, or a JSON array (default: stdin)"},
        {"skip-special-tokens", DK_FIELD_BOOL, &skip, NULL, "leave special tokens out of the text"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenizer decode --tokenizer FILE [--input FILE] [--skip-special-tokens]",
                  .summary = "Decodes token ids to UTF-8 text as HF tokenizers does (bytes that do not form UTF-8\n"
                             "become U+FFFD). Ids outside the vocabulary are an error.",
                  .opts = opts};
    dk_tokenizer *t = NULL;
    char *text = NULL, *out = NULL;
    int *ids = NULL, n = 0;
    size_t len;
    int rc = parse_with_tokenizer(&cli, argc, argv, &tok_path, "decode");
    if (rc >= 0) goto done;
    rc = DK_EXIT_ERROR;
    if (dk_tokenizer_load(&t, tok_path) || read_input(input, &text, &len) ||
        parse_ids(text, input ? input : "stdin", &ids, &n)) {
        rc = dk_cli_error();
        goto done;
    }
    for (int i = 0; i < n; i++) {
        size_t bl;
        if (!dk_tokenizer_token_bytes(t, ids[i], &bl)) {
            dk_fail("%s: id %d (item %d) is outside the vocabulary of %d", input ? input : "stdin", ids[i], i + 1,
                    dk_tokenizer_vocab_size(t));
            rc = dk_cli_error();
            goto done;
        }
    }
    out = dk_tokenizer_decode(t, ids, n, skip);
    if (!out) {
        rc = dk_cli_error();
        goto done;
    }
    fputs(out, stdout);
    rc = DK_EXIT_OK;
done:
    dk_tokenizer_free(t);
    free(text);
    free(out);
    free(ids);
    free(tok_path);
    free(input);
    return rc;
}

static int info(int argc, char **argv)
{
    char *tok_path = NULL;
    bool json_out = false;
    const dk_opt opts[] = {
        {"tokenizer", DK_FIELD_STRING, &tok_path, "FILE", "tokenizer.json"},
        {"json", DK_FIELD_BOOL, &json_out, NULL, "print one JSON object"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenizer info --tokenizer FILE [--json]",
                  .summary = "Shows a tokenizer's vocabulary size, merges, special tokens, pre-tokenizer pattern,\n"
                             "normalizer and the sha256 of the file.",
                  .opts = opts};
    dk_tokenizer *t = NULL;
    int rc = parse_with_tokenizer(&cli, argc, argv, &tok_path, "info");
    if (rc >= 0) goto done;
    if (dk_tokenizer_load(&t, tok_path)) {
        rc = dk_cli_error();
        goto done;
    }
    dk_tokenizer_summary s;
    dk_tokenizer_describe(t, &s);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "path", tok_path);
    cJSON_AddStringToObject(j, "sha256", dk_tokenizer_sha256(t));
    cJSON_AddNumberToObject(j, "vocab_size", dk_tokenizer_vocab_size(t));
    cJSON_AddNumberToObject(j, "merges", s.merges);
    cJSON_AddStringToObject(j, "normalizer", s.normalizer);
    if (s.pattern) cJSON_AddStringToObject(j, "pattern", s.pattern);
    else cJSON_AddNullToObject(j, "pattern");
    cJSON_AddBoolToObject(j, "ignore_merges", s.ignore_merges);
    cJSON *specials = cJSON_AddObjectToObject(j, "special_tokens"), *added = cJSON_AddObjectToObject(j, "added_tokens");
    for (int i = 0; i < s.added; i++) {
        int id = dk_tokenizer_added_id(t, i);
        size_t bl;
        const char *b = dk_tokenizer_token_bytes(t, id, &bl);
        char *name = strndup(b, bl);
        if (name) cJSON_AddNumberToObject(dk_tokenizer_is_special(t, id) ? specials : added, name, id);
        free(name);
    }
    char *p = json_out ? cJSON_PrintUnformatted(j) : NULL;
    if (p) printf("%s\n", p);
    else {
        printf("%s\n  sha256        %s\n  vocab size    %d (%d merges)\n  normalizer    %s\n  ignore_merges %s\n  pattern       %s\n",
               tok_path, dk_tokenizer_sha256(t), dk_tokenizer_vocab_size(t), s.merges, s.normalizer,
               s.ignore_merges ? "true" : "false", s.pattern ? s.pattern : "(none)");
        const cJSON *item;
        printf("  special       ");
        cJSON_ArrayForEach(item, specials) printf("%s=%d ", item->string, (int)item->valuedouble);
        printf("\n  added         %d other added tokens\n", cJSON_GetArraySize(added));
    }
    free(p);
    cJSON_Delete(j);
    rc = DK_EXIT_OK;
done:
    dk_tokenizer_free(t);
    free(tok_path);
    return rc;
}

int cmd_tokenizer(int argc, char **argv)
{
    static const dk_subverb subs[] = {
        {"train", train, "learn a byte-level BPE vocabulary from text"},
        {"encode", encode, "text -> token ids (as HF tokenizers)"},
        {"decode", decode, "token ids -> text"},
        {"info", info, "vocabulary size, special tokens, pattern, sha256"},
    };
    return dk_cli_subverb("tokenizer", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
