/* dokja speedrun: raw text to a chatting, evaluated model in one command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dokja/backend.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/speedrun.h"

/* The first of DOKJA_DATA, ./../shared/data, and the checkout's ../shared/data
 * (seen from the binary) that holds `sub`. */
static char *find_data(const char *sub)
{
    char exe_dir[4096] = "";
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n > 0) {
        exe_dir[n] = 0;
        char *slash = strrchr(exe_dir, '/');
        if (slash) *slash = 0;
    }
    const char *env = getenv("DOKJA_DATA");
    char *cands[3] = {env && *env ? dk_strdupf("%s", env) : NULL, dk_strdupf("../shared/data"),
                      n > 0 ? dk_strdupf("%s/../../shared/data", exe_dir) : NULL};
    char *found = NULL;
    for (int i = 0; i < 3; i++) {
        char *p = cands[i] ? dk_path_join(cands[i], sub) : NULL;
        if (!found && p && dk_path_exists(p)) found = dk_strdupf("%s", cands[i]);
        free(p);
        free(cands[i]);
    }
    return found;
}

int cmd_speedrun(int argc, char **argv)
{
    dk_strlist corpus = {0}, chat = {0};
    char *out = NULL, *size = NULL;
    double budget = 20;
    int64_t steps = 0;
    int threads = 0;
    char *device = NULL;
    const dk_opt opts[] = {
        {"corpus", DK_FIELD_STRING, &corpus, "PATH", "raw text files or directories (default: the shared corpus)", true},
        {"chat", DK_FIELD_STRING, &chat, "CSV", "question/answer tables for fine-tuning (default: the shared chat data)", true},
        {"budget-minutes", DK_FIELD_DOUBLE, &budget, "M", "the whole run's time budget (default 20)"},
        {"size", DK_FIELD_STRING, &size, "tiny|small|base", "model size (default small)"},
        {"out", DK_FIELD_STRING, &out, "RUN", "run directory (default runs/speedrun)"},
        {"steps", DK_FIELD_I64, &steps, "N", "pretraining steps (default: what the budget allows on this machine)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {"device", DK_FIELD_STRING, &device, "cpu|cuda", "where pretraining and fine-tuning run (default cpu; docs/cuda.md)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja speedrun [--corpus PATH...] [--chat PATH...] [--budget-minutes M] [--size tiny|small|base] "
                           "[--out RUN]",
                  .summary = "The whole pipeline: data prepare -> tokenizer train -> tokenize -> pretrain -> chat data -> sft ->\n"
                             "transcripts -> eval -> report. Re-running skips the stages whose inputs are unchanged and resumes\n"
                             "an interrupted training stage. docs/speedrun.md.",
                  .opts = opts};
    char *data_dir = NULL, *corpus_dir = NULL, *chat_csv = NULL;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (cli.npositional) {
        fprintf(stderr, "dokja: speedrun takes no positional arguments\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    rc = DK_EXIT_ERROR;
    if (device && !dk_backend_get(device, NULL)) { /* before any stage starts */
        rc = dk_cli_error();
        goto done;
    }
    data_dir = find_data("bench");
    char *corpus_root = find_data("corpus");
    if (!corpus.count) {
        if (!corpus_root) {
            fprintf(stderr, "dokja: error: no corpus: pass --corpus PATH, or set DOKJA_DATA to a folder with corpus/ and chat/,\n"
                            "  or run scripts/get-corpus.sh (it downloads the public Korean corpora used here)\n");
            goto done;
        }
        corpus_dir = dk_path_join(corpus_root, "corpus");
    }
    if (!chat.count) {
        char *root = find_data("chat/ko-chatbot.csv");
        chat_csv = root ? dk_path_join(root, "chat/ko-chatbot.csv") : NULL;
        free(root);
        if (!chat_csv) {
            fprintf(stderr, "dokja: error: no chat data: pass --chat FILE.csv (columns Q,A) or set DOKJA_DATA\n");
            free(corpus_root);
            goto done;
        }
    }
    free(corpus_root);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "dokja: error: cannot find the dokja binary (/proc/self/exe)\n");
        goto done;
    }
    self[n] = 0;
    dk_speedrun_job job = {
        .corpus = corpus.count ? corpus.items : &corpus_dir,
        .ncorpus = corpus.count ? corpus.count : 1,
        .chat = chat.count ? chat.items : &chat_csv,
        .nchat = chat.count ? chat.count : 1,
        .out = out ? out : "runs/speedrun",
        .size = size ? size : "small",
        .budget_minutes = budget,
        .data_dir = data_dir ? data_dir : "../shared/data",
        .self = self,
        .threads = threads,
        .pretrain_steps = steps,
        .device = device,
    };
    rc = dk_speedrun(&job) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_strlist_free(&corpus);
    dk_strlist_free(&chat);
    free(out), free(size), free(data_dir), free(corpus_dir), free(chat_csv), free(device);
    return rc;
}
