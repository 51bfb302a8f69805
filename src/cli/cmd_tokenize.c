/* dokja tokenize: text files -> token shards for dokja train. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dokja/bytes.h"
#include "dokja/error.h"

int cmd_tokenize(int argc, char **argv)
{
    char *out = NULL;
    dk_strlist inputs = {0};
    bool bytes = false, lines = false;
    int val_every = 100;
    int64_t shard_tokens = 100000000;
    const dk_opt opts[] = {
        {"input", DK_FIELD_STRING, &inputs, "PATH", "text files", true},
        {"output", DK_FIELD_STRING, &out, "DIR", "shard directory to write"},
        {"bytes", DK_FIELD_BOOL, &bytes, NULL, "use the byte-level vocabulary (256 bytes + <|bos|>)"},
        {"lines", DK_FIELD_BOOL, &lines, NULL, "each non-empty line is a document (default: each file)"},
        {"val-every", DK_FIELD_INT, &val_every, "N", "hold out every N-th document for validation (default 100; 0: none)"},
        {"shard-tokens", DK_FIELD_I64, &shard_tokens, "N", "tokens per shard at most (default 100000000)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja tokenize --bytes --input FILE... --output DIR [--lines]",
                  .summary = "Turns text files into the token shards of DESIGN.md (train-NNNNN.bin, val-NNNNN.bin,\n"
                             "meta.json, tokenizer.json). This version has the byte-level vocabulary, which needs no\n"
                             "training: token i < 256 is byte i and 256 separates documents.",
                  .opts = opts};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!out || !bytes || inputs.count == 0 || cli.npositional || val_every < 0 || shard_tokens < 1) {
        fprintf(stderr, "dokja: tokenize needs --bytes, --input FILE... and --output DIR\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    rc = dk_bytes_tokenize(inputs.items, inputs.count, out, lines, val_every, shard_tokens) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_strlist_free(&inputs);
    free(out);
    return rc;
}
