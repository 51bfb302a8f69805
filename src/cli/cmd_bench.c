/* dokja bench: the machine's sgemm peak, and training throughput on random
 * tokens (no files), as JSON lines for bench/ scripts to compare with peers. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "infer_cli.h"
#include "dokja/backend.h"
#include "dokja/dist.h"
#include "dokja/error.h"
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "dokja/rng.h"
#include "dokja/train.h"

static void random_batch(dk_model *m, void *user)
{
    dk_rng *r = user;
    size_t n = (size_t)m->acts.B * (size_t)m->acts.T;
    for (size_t i = 0; i < n; i++) {
        m->acts.tokens[i] = (int)dk_rng_below(r, (uint64_t)m->cfg.vocab_size);
        m->acts.targets[i] = (int)dk_rng_below(r, (uint64_t)m->cfg.vocab_size);
    }
}

/* Under mpirun every rank trains on its slice of each batch with a sharded
 * optimizer, exactly as dokja train does; rank 0 prints the figures. */
static int bench_train(const dk_dist *d, const dk_backend *be, dk_model_config *mc, dk_train_config *tc, int steps, int warmup,
                       double peak)
{
    dk_model m;
    dk_adamw o = {0};
    dk_rng r;
    dk_rng_seed(&r, (uint64_t)tc->seed + (uint64_t)d->rank);
    tc->steps = warmup + steps;
    if (tc->batch_size % d->size) return dk_fail("--batch-size must be a multiple of the number of ranks (%d)", d->size);
    if (dk_model_create(&m, mc)) return -1;
    int rc = dk_model_init(&m, (uint64_t)tc->seed);
    if (!rc) rc = dk_adamw_create_sharded(&o, m.nparams, d);
    if (!rc) rc = dk_model_use(&m, be);
    if (!rc) rc = dk_adamw_use(&o, be);
    m.recompute = tc->recompute;
    if (!rc) rc = dk_model_alloc_acts(&m, tc->batch_size / d->size, tc->seq_len, tc->seq_len, true);
    double t0 = 0, loss, norm;
    for (int s = 0; !rc && s < warmup + steps; s++) {
        if (s == warmup) t0 = dk_now(), o.comm_seconds = 0;
        rc = dk_train_step(&m, &o, tc, s, random_batch, &r, &loss, &norm);
    }
    if (!rc && d->rank == 0) {
        double dt = (dk_now() - t0) / steps, tokens = (double)tc->batch_size * tc->seq_len * tc->grad_accum;
        double flops = dk_model_flops_per_token(mc, tc->seq_len) * tokens / dt;
        /* reduce-scatter out and all-gather in: (N-1)/N of the block each way */
        double moved = d->size > 1 ? 2.0 * 4.0 * (double)m.nparams * (d->size - 1) / d->size : 0;
        printf("{\"impl\":\"dokja\",\"device\":\"%s\",\"gpu\":\"%s\",\"precision\":\"%s\",\"ranks\":%d,\"tok_per_s\":%.1f,\"step_s\":%.4f,\"steps\":%d,\"threads\":%d,"
               "\"params\":%zu,\"flops_per_s\":%.4e,\"peak_flops_per_s\":%.4e,\"peak_fraction\":%.4f,"
               "\"comm_s_per_step\":%.4f,\"comm_bytes_per_step\":%.4e}\n",
               be->name, be->host_memory ? "" : dk_backend_device_name(be), be->bf16 ? "bf16" : "fp32", d->size, tokens / dt, dt, steps, omp_get_max_threads(), m.nparams, flops, peak, peak > 0 ? flops / peak : 0,
               o.comm_seconds / steps, moved);
    }
    dk_adamw_free(&o);
    dk_model_free(&m);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    /* decode has options of its own (bench_decode.c) */
    if (argc > 0 && !strcmp(argv[0], "decode")) return dk_bench_decode(argc - 1, argv + 1);
    char *config = NULL;
    int steps = 5, warmup = 2, threads = 0, size = 1024;
    double seconds = 2.0;
    dk_dist dist = {.size = 1};
    dk_device_opts dev = {0};
    dk_model_config mc;
    dk_train_config tc;
    dk_model_config_default(&mc);
    dk_train_config_default(&tc);
    const dk_opt opts[] = {
        {"config", DK_FIELD_STRING, &config, "FILE", "train: model and training keys, as for dokja train"},
        {"steps", DK_FIELD_INT, &steps, "N", "train: timed steps (default 5)"},
        {"warmup", DK_FIELD_INT, &warmup, "N", "train: untimed steps first (default 2)"},
        {"size", DK_FIELD_INT, &size, "N", "peak: n of the n x n x n matmul (default 1024; 8192 on a GPU)"},
        {"seconds", DK_FIELD_DOUBLE, &seconds, "S", "peak: how long to measure (default 2)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        DK_DEVICE_OPTS(&dev),
        {0},
    };
    const dk_opt_group groups[] = {{"model (HF config.json keys)", dk_model_config_fields, &mc},
                                   {"training", dk_train_config_fields, &tc}};
    dk_cli cli = {.usage = "dokja bench (peak | train --config FILE | comm | decode --config FILE) [options]",
                  .summary = "peak: the best FLOP/s of cblas_sgemm on this machine (--device cuda: of a cuBLASLt matmul\n"
                             "at --precision, bf16 by default, on the GPU).\n"
                             "train: training steps on random tokens; prints tokens/s and the fraction of the sgemm peak\n"
                             "as one JSON line (bench/train_throughput compares it with PyTorch); under mpirun, data-\n"
                             "parallel with the time spent communicating.\n"
                             "comm: under mpirun -np 2, the bandwidth between two ranks (64 MiB messages).\n"
                             "decode: memory bandwidth, decode and prefill speed (dokja bench decode --help).",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 2};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    const char *what = cli.npositional == 1 ? cli.positional[0] : "";
    if ((strcmp(what, "peak") && strcmp(what, "train") && strcmp(what, "comm")) || steps <= 0 || warmup < 0 || size <= 0) {
        fprintf(stderr, "dokja: bench needs \"peak\", \"train\" or \"comm\" (and positive --steps, --size)\nusage: %s\n",
                cli.usage);
        goto done;
    }
    dk_set_threads(threads);
    if (dk_dist_init(&dist, 600)) {
        rc = dk_cli_error();
        goto done;
    }
    if (!strcmp(what, "comm")) {
        size_t bytes = (size_t)64 << 20;
        double bw = dk_dist_pingpong(&dist, bytes);
        if (dist.rank == 0) printf("{\"ranks\":%d,\"message_bytes\":%zu,\"bytes_per_s\":%.4e}\n", dist.size, bytes, bw);
        rc = dist.size > 1 ? DK_EXIT_OK : (fprintf(stderr, "dokja: bench comm runs under mpirun -np 2\n"), DK_EXIT_USAGE);
        goto done;
    }
    const dk_backend *be = dk_device_opts_backend(&dev);
    if (!be) {
        rc = dk_cli_error();
        goto done;
    }
    bool gpu = !be->host_memory, just_peak = !strcmp(what, "peak");
    /* under mpirun each rank of a machine takes its own GPU, before it allocates anything there */
    if (gpu && dist.size > 1 && dk_cuda_set_device(dist.local_rank)) {
        rc = dk_cli_error();
        goto done;
    }
    /* a GPU's peak is taken at a size that fills it */
    int n = gpu && size == 1024 ? 8192 : size;
    double peak = gpu ? dk_cuda_gemm_peak(be, n, just_peak ? seconds : 0.5) : dk_sgemm_peak(n, just_peak ? seconds : 0.5);
    if (!(peak > 0)) {
        rc = dk_cli_error();
        goto done;
    }
    if (just_peak) {
        if (gpu)
            printf("{\"device\":\"cuda\",\"gpu\":\"%s\",\"precision\":\"%s\",\"gemm_n\":%d,\"peak_flops_per_s\":%.4e}\n",
                   dk_backend_device_name(be), be->bf16 ? "bf16" : "fp32", n, peak);
        else printf("{\"device\":\"cpu\",\"sgemm_n\":%d,\"threads\":%d,\"peak_flops_per_s\":%.4e}\n", n, omp_get_max_threads(), peak);
        rc = DK_EXIT_OK;
        goto done;
    }
    int bad = 0;
    if (config) bad = dk_train_config_file_load(config, &mc, &tc);
    if (!bad && (rc = dk_cli_apply(&cli)) >= 0) goto done;
    if (!bad) bad = dk_model_config_validate(&mc, "model configuration") ||
                    dk_train_config_validate(&tc, &mc, "training configuration");
    /* every rank measured its own cores' peak at the same time */
    if (!bad) bad = bench_train(&dist, be, &mc, &tc, steps, warmup, peak * dist.size);
    rc = bad ? dk_cli_error() : DK_EXIT_OK;
done:
    dk_dist_finalize(&dist);
    dk_train_config_free(&tc);
    dk_device_opts_free(&dev);
    free(config);
    return rc;
}
