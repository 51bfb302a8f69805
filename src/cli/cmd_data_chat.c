/* dokja data chat: question/answer tables -> chat JSONL for dokja sft. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/chat_data.h"
#include "dokja/docs.h"
#include "dokja/error.h"

int cmd_data_chat(int argc, char **argv)
{
    char *from = NULL, *out = NULL, *question = NULL, *answer = NULL, *system = NULL;
    dk_strlist inputs = {0};
    const dk_opt opts[] = {
        {"from", DK_FIELD_STRING, &from, "csv|tsv|jsonl", "the inputs' format (each file's name must agree)"},
        {"input", DK_FIELD_STRING, &inputs, "PATH", "tables of questions and answers (.zst too)", true},
        {"question", DK_FIELD_STRING, &question, "FIELD", "column or key of the user's turn (default Q)"},
        {"answer", DK_FIELD_STRING, &answer, "FIELD", "column or key of the assistant's turn (default A)"},
        {"system", DK_FIELD_STRING, &system, "TEXT", "a system message to open every conversation"},
        {"out", DK_FIELD_STRING, &out, "FILE", "chat JSONL to write"},
        {0},
    };
    dk_cli cli = {.usage = "dokja data chat --from csv|tsv|jsonl --input PATH... --out chat.jsonl [options]",
                  .summary = "Turns question/answer tables (e.g. ../shared/data/chat/ko-chatbot.csv) into chat JSONL\n"
                             "({\"messages\":[...]}, one conversation a line) for dokja sft. Test splits are refused.",
                  .opts = opts};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    dk_docs_format want = DK_FORMAT_CSV;
    if (from && !strcmp(from, "tsv")) want = DK_FORMAT_TSV;
    else if (from && !strcmp(from, "jsonl")) want = DK_FORMAT_JSONL;
    else if (!from || strcmp(from, "csv")) {
        fprintf(stderr, "dokja: data chat needs --from csv, tsv or jsonl\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    if (!inputs.count || !out || cli.npositional) {
        fprintf(stderr, "dokja: data chat needs --input PATH... and --out FILE\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    for (int i = 0; i < inputs.count; i++) {
        bool zst;
        if (dk_docs_format_of(inputs.items[i], &zst) != want) {
            fprintf(stderr, "dokja: %s: not a .%s file (--from %s)\n", inputs.items[i], from, from);
            goto done;
        }
    }
    int64_t n = dk_chat_convert(inputs.items, inputs.count, question ? question : "Q", answer ? answer : "A", system, out);
    if (n < 0) {
        rc = dk_cli_error();
        goto done;
    }
    fprintf(stderr, "%lld conversations written to %s\n", (long long)n, out);
    rc = DK_EXIT_OK;
done:
    dk_strlist_free(&inputs);
    free(from), free(out), free(question), free(answer), free(system);
    return rc;
}
