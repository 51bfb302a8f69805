/* dokja tokenize: a corpus -> token shards for dokja train. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/bytes.h"
#include "dokja/corpus.h"
#include "dokja/error.h"
#include "dokja/io.h"

int cmd_tokenize(int argc, char **argv)
{
    char *out = NULL, *tokenizer = NULL, *text_field = NULL, *separator = NULL;
    dk_strlist inputs = {0};
    bool bytes = false, lines = false;
    dk_tokenize_options o = {.val_fraction = 0.01, .shard_tokens = 100000000};
    const dk_opt opts[] = {
        {"tokenizer", DK_FIELD_STRING, &tokenizer, "FILE", "tokenizer.json (any HF byte-level BPE)"},
        {"bytes", DK_FIELD_BOOL, &bytes, NULL, "use the byte-level vocabulary (256 bytes + <|bos|>) instead"},
        {"input", DK_FIELD_STRING, &inputs, "PATH", "text: .txt, .jsonl, .csv, .tsv, their .zst, directories", true},
        {"output", DK_FIELD_STRING, &out, "DIR", "shard directory to write"},
        {"lines", DK_FIELD_BOOL, &lines, NULL, ".txt: each non-empty line is a document (default: each file)"},
        {"text-field", DK_FIELD_STRING, &text_field, "NAME", "the text field of .jsonl/.csv inputs (default text)"},
        {"val-fraction", DK_FIELD_DOUBLE, &o.val_fraction, "F", "documents held out for validation, spread evenly (default 0.01)"},
        {"shard-tokens", DK_FIELD_I64, &o.shard_tokens, "N", "tokens per shard at most (default 100000000)"},
        {"separator", DK_FIELD_STRING, &separator, "TOKEN", "the token before each document (default: the BOS token)"},
        {"threads", DK_FIELD_INT, &o.threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenize (--tokenizer FILE | --bytes) --input PATH... --output DIR [options]",
                  .summary = "Turns a corpus into the token shards of DESIGN.md (train-NNNNN.bin, val-NNNNN.bin,\n"
                             "meta.json and a copy of the tokenizer.json): each document is its separator token and\n"
                             "its ids. The shards are the same for any --threads.",
                  .opts = opts};
    char *tok_path = NULL, *json = NULL;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!out || !tokenizer == !bytes || inputs.count == 0 || cli.npositional || !(o.val_fraction >= 0 && o.val_fraction < 1) ||
        o.shard_tokens < 1 || o.threads < 0) {
        fprintf(stderr, "dokja: tokenize needs --tokenizer FILE or --bytes, --input PATH... and --output DIR "
                        "(0 <= --val-fraction < 1)\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    o.text_field = text_field;
    o.lines = lines;
    o.separator = separator;
    rc = DK_EXIT_ERROR;
    if (bytes) {
        /* The byte-level vocabulary is a tokenizer.json like any other, written first into the output. */
        json = dk_bytes_tokenizer_json();
        tok_path = dk_path_join(out, "tokenizer.json");
        if (!json || !tok_path || dk_mkdirs(out) || dk_write_file_atomic(tok_path, json, strlen(json))) {
            rc = dk_cli_error();
            goto done;
        }
    }
    rc = dk_tokenize_corpus(bytes ? tok_path : tokenizer, inputs.items, inputs.count, out, &o) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_strlist_free(&inputs);
    free(out);
    free(tokenizer);
    free(text_field);
    free(separator);
    free(tok_path);
    free(json);
    return rc;
}
