/* dokja data <subverb>: prepare (raw corpora -> a cleaned training set) and chat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/data.h"
#include "dokja/error.h"

static int prepare(int argc, char **argv)
{
    dk_data_options o;
    dk_data_options_default(&o);
    dk_strlist inputs = {0};
    char *out = NULL, *config = NULL;
    int threads = 0;
    const dk_opt opts[] = {
        {"input", DK_FIELD_STRING, &inputs, "PATH", ".txt .jsonl .csv .tsv .md files (.zst too) or directories", true},
        {"out", DK_FIELD_STRING, &out, "DIR", "output directory (must not exist, or be empty)"},
        {"config", DK_FIELD_STRING, &config, "FILE", "JSON object with any of the settings below"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores; the output is the same for any)"},
        {0},
    };
    const dk_opt_group groups[] = {{"settings (steps 1-6 of docs/data-prepare.md)", dk_data_option_fields, &o}};
    dk_cli cli = {.usage = "dokja data prepare --input PATH... --out DIR [options]",
                  .summary = "Cleans raw corpora into a training set: UTF-8 repair, HTML entities, NFC and white space;\n"
                             "boilerplate lines; language by script; quality rules; personal data replaced by\n"
                             "<|email|> <|phone|> <|rrn|> <|card|>; exact and MinHash near-duplicate removal. Writes\n"
                             "DIR/data-NNNNN.jsonl.zst, datacard.json, datacard.md and manifest.json, the same bytes\n"
                             "for any thread count. Bad input is counted in the data card, never fatal.",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 1};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!out || inputs.count == 0 || cli.npositional || threads < 0) {
        fprintf(stderr, "dokja: data prepare needs --input PATH... and --out DIR\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    if (config) {
        cJSON *j = NULL;
        if (dk_json_read_file(config, &j) || dk_fields_from_json(dk_data_option_fields, &o, j, config)) {
            cJSON_Delete(j);
            rc = dk_cli_error();
            goto done;
        }
        cJSON_Delete(j);
    }
    if ((rc = dk_cli_apply(&cli)) >= 0) goto done;
    if (dk_data_options_validate(&o)) {
        fprintf(stderr, "dokja: %s\nusage: %s (see --help)\n", dk_error(), cli.usage);
        rc = DK_EXIT_USAGE;
        goto done;
    }
    rc = dk_data_prepare(inputs.items, inputs.count, out, &o, threads) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_strlist_free(&inputs);
    dk_data_options_free(&o);
    free(out);
    free(config);
    return rc;
}

int cmd_data(int argc, char **argv)
{
    static const dk_subverb subs[] = {
        {"prepare", prepare, "raw corpora -> cleaned, scrubbed, deduplicated JSONL shards with a data card"},
        {"chat", cmd_data_chat, "question/answer tables -> chat JSONL for dokja sft"},
    };
    return dk_cli_subverb("data", subs, (int)(sizeof subs / sizeof *subs), argc, argv);
}
