/* dokja sft: a base model + chat JSONL -> a chat model. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/sft.h"

int cmd_sft(int argc, char **argv)
{
    dk_sft_job job = {.epochs = 2, .val_every = 20};
    char *model = NULL, *out = NULL;
    dk_strlist data = {0};
    bool dry_run = false;
    dk_dist dist = {.size = 1};
    dk_device_opts dev = {0};
    dk_sft_config_default(&job.train);
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model, "DIR", "the base model directory (with its tokenizer.json)"},
        {"data", DK_FIELD_STRING, &data, "FILE", "chat JSONL ({\"messages\":[...]} a line)", true},
        {"out", DK_FIELD_STRING, &out, "RUN", "run directory; the chat model is written to RUN/model"},
        {"epochs", DK_FIELD_DOUBLE, &job.epochs, "E", "passes over the training conversations (default 2; 0: use --steps)"},
        {"val-every", DK_FIELD_INT, &job.val_every, "N", "hold out every N-th conversation for validation (default 20)"},
        {"think", DK_FIELD_BOOL, &job.think, NULL, "learn the <think> reasoning too (default: answers only)"},
        {"dry-run", DK_FIELD_BOOL, &dry_run, NULL, "print a rendered conversation with its learnt tokens marked; train nothing"},
        {"resume", DK_FIELD_BOOL, &job.resume, NULL, "continue from the newest checkpoint in RUN"},
        {"threads", DK_FIELD_INT, &job.threads, "N", "threads (default: all cores)"},
        DK_DEVICE_OPTS(&dev),
        {0},
    };
    const dk_opt_group groups[] = {{"training", dk_train_config_fields, &job.train}};
    dk_cli cli = {.usage = "dokja sft --model BASE_DIR --data chat.jsonl[...] --out RUN [options]",
                  .summary = "Fine-tunes a model to chat: conversations in dokja's chat format, loss on the assistant's tokens\n"
                             "only, several packed to a row without attending to each other. RUN/model's dokja.json names\n"
                             "the base model's weights as its parent. (--steps is derived from --epochs.)",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 1};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    if ((rc = dk_cli_apply(&cli)) >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model || !data.count || (!out && !dry_run) || cli.npositional || job.epochs < 0 || job.val_every < 0) {
        fprintf(stderr, "dokja: sft needs --model DIR, --data FILE and --out RUN (and --epochs >= 0)\nusage: %s (see --help)\n",
                cli.usage);
        goto done;
    }
    job.base_dir = model;
    job.data = data.items;
    job.ndata = data.count;
    job.out_dir = out;
    if (dry_run) {
        rc = dk_sft_dry_run(&job) ? dk_cli_error() : DK_EXIT_OK;
        goto done;
    }
    if (!(job.be = dk_device_opts_backend(&dev)) || dk_dist_init(&dist, 600)) {
        rc = dk_cli_error();
        goto done;
    }
    job.dist = &dist;
    rc = dk_sft(&job) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_dist_finalize(&dist);
    dk_train_config_free(&job.train);
    dk_strlist_free(&data);
    dk_device_opts_free(&dev);
    free(model);
    free(out);
    return rc;
}
