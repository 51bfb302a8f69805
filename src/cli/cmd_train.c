/* dokja train: token shards -> a trained model directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/shards.h"
#include "dokja/train.h"

/* Settings are layered: defaults < the run's own config.json when resuming <
 * --init-from's config.json (model keys) < --config < flags. */
int cmd_train(int argc, char **argv)
{
    dk_train_job job = {0};
    char *config = NULL, *data = NULL, *out = NULL, *init_from = NULL;
    bool resume = false;
    int threads = 0;
    double dist_timeout = 600;
    dk_dist dist = {.size = 1};
    dk_device_opts dev = {0};
    dk_model_config_default(&job.model);
    job.model.vocab_size = 0; /* 0: taken from the shards' header */
    dk_train_config_default(&job.train);
    const dk_opt opts[] = {
        {"data", DK_FIELD_STRING, &data, "DIR", "token shard directory (train-*.bin, val-*.bin)"},
        {"out", DK_FIELD_STRING, &out, "RUN", "run directory: log, checkpoints, final model"},
        {"config", DK_FIELD_STRING, &config, "FILE", "JSON with HF config.json model keys and training keys"},
        {"resume", DK_FIELD_BOOL, &resume, NULL, "continue from the newest complete checkpoint in RUN"},
        {"init-from", DK_FIELD_STRING, &init_from, "DIR", "start from this model directory's weights"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads per process (default: all cores)"},
        {"dist-timeout", DK_FIELD_DOUBLE, &dist_timeout, "S", "under mpirun: seconds to wait for the other ranks (default 600)"},
        DK_DEVICE_OPTS(&dev),
        {0},
    };
    const dk_opt_group groups[] = {{"model (HF config.json keys)", dk_model_config_fields, &job.model},
                                   {"training", dk_train_config_fields, &job.train}};
    dk_cli cli = {.usage = "dokja train --data DIR --out RUN [--config FILE.json] [options]",
                  .summary = "Pretrains a Llama model on token shards, deterministically: the same seed, data, device and\n"
                             "thread count give bit-identical weights, also across --resume. --device cuda trains on a GPU. Writes RUN/log.jsonl,\n"
                             "RUN/ckpt/step-N/ and the final HF model directory RUN/model/. Under mpirun (or srun)\n"
                             "each rank trains on its slice of every batch (docs/distributed.md).",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 2};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!data || !out || cli.npositional) {
        fprintf(stderr, "dokja: train needs --data DIR and --out RUN\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    if (!(job.be = dk_device_opts_backend(&dev))) {
        rc = dk_cli_error();
        goto done;
    }
    rc = DK_EXIT_ERROR;
    char *run_cfg = dk_path_join(out, "config.json");
    int bad = !run_cfg;
    if (!bad && resume && dk_path_exists(run_cfg)) bad = dk_train_config_file_load(run_cfg, &job.model, &job.train);
    free(run_cfg);
    if (!bad && init_from) {
        char *p = dk_path_join(init_from, "config.json");
        bad = !p || dk_model_config_load(&job.model, p);
        free(p);
    }
    if (!bad && config) bad = dk_train_config_file_load(config, &job.model, &job.train);
    if (!bad && (rc = dk_cli_apply(&cli)) >= 0) goto done;
    rc = DK_EXIT_ERROR;
    if (!bad && job.model.vocab_size == 0) {
        /* Unless configured, the vocabulary and special ids come from the data:
         * the separator opens every document, so it is also where one ends. */
        uint32_t v, sep;
        bad = dk_shard_dir_vocab(data, &v, &sep);
        job.model.vocab_size = (int)v;
        job.model.bos_token_id = job.model.eos_token_id = (int)sep;
    }
    if (!bad) bad = dk_model_config_validate(&job.model, config ? config : "model configuration");
    if (!bad) bad = dk_train_config_validate(&job.train, &job.model, config ? config : "training configuration");
    if (bad) {
        rc = dk_cli_error();
        goto done;
    }
    job.data_dir = data;
    job.out_dir = out;
    job.init_from = init_from;
    job.resume = resume;
    job.threads = threads;
    if (!(dist_timeout > 0) || dk_dist_init(&dist, dist_timeout)) {
        if (!(dist_timeout > 0)) dk_fail("--dist-timeout must be positive");
        rc = dk_cli_error();
        goto done;
    }
    job.dist = &dist;
    rc = dk_train(&job) ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_dist_finalize(&dist);
    dk_train_config_free(&job.train);
    dk_device_opts_free(&dev);
    free(config);
    free(data);
    free(out);
    free(init_from);
    return rc;
}
