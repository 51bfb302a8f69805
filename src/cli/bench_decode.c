/* dokja bench decode: the machine's memory read bandwidth, then single-stream
 * decoding (fp32 and q8) against the bound it sets, and prefill against the
 * sgemm peak, on a random model of a given configuration. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/peak.h"
#include "dokja/progress.h"
#include "dokja/quant.h"
#include "infer_cli.h"

/* Best of several passes summing a buffer far larger than the caches, with
 * 64 independent lanes so that no chain of additions holds the loads back. */
static double read_bandwidth(size_t bytes)
{
    size_t n = bytes / sizeof(float) / 4096 * 4096;
    float *buf = malloc(n * sizeof(float));
    if (!buf) return 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    double best = 0, sink = 0;
    for (int pass = 0; pass < 6; pass++) {
        double t0 = dk_now(), sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (size_t c = 0; c < n; c += 4096) {
            float acc[64] = {0};
            for (size_t i = c; i < c + 4096; i += 64)
                for (int j = 0; j < 64; j++) acc[j] += buf[i + j];
            for (int j = 0; j < 64; j++) sum += acc[j];
        }
        double dt = dk_now() - t0;
        sink += sum;
        if ((double)n * sizeof(float) / dt > best) best = (double)n * sizeof(float) / dt;
    }
    free(buf);
    return sink == -1 ? 0 : best;
}

/* Tokens per second of `steps` single-sequence decode steps after a short prompt. */
static double decode_rate(dk_model *m, int steps)
{
    int prompt[16], slot = 0, zero = 0;
    for (int i = 0; i < 16; i++) prompt[i] = (i * 37 + 1) % m->cfg.vocab_size;
    dk_infer_batch(m, 1, 16, prompt, &slot, &zero);
    int tok = 5;
    for (int w = 0; w < 3; w++) { /* warm caches and threads */
        int pos = 16 + w;
        dk_infer_batch(m, 1, 1, &tok, &slot, &pos);
    }
    double t0 = dk_now();
    for (int s = 0; s < steps; s++) {
        int pos = 19 + s;
        dk_infer_batch(m, 1, 1, &tok, &slot, &pos);
    }
    return steps / (dk_now() - t0);
}

int dk_bench_decode(int argc, char **argv)
{
    char *config = NULL;
    int steps = 64, prefill = 512, threads = 0;
    const dk_opt opts[] = {
        {"config", DK_FIELD_STRING, &config, "FILE", "model config.json (HF keys)"},
        {"steps", DK_FIELD_INT, &steps, "N", "decode steps timed (default 64)"},
        {"prefill", DK_FIELD_INT, &prefill, "T", "prompt tokens of the prefill timed (default 512)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja bench decode --config FILE [--steps N] [--prefill T]",
                  .summary = "Measures memory read bandwidth, single-stream decode tokens/s for fp32 and q8 weights\n"
                             "(against weight bytes / bandwidth) and prefill FLOP/s (against the sgemm peak), as one\n"
                             "JSON line.",
                  .opts = opts};
    dk_model m = {0};
    dk_model_config mc;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!config || steps < 1 || prefill < 1) {
        fprintf(stderr, "dokja: bench decode needs --config FILE\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    dk_set_threads(threads);
    rc = DK_EXIT_ERROR;
    if (dk_model_config_load(&mc, config) || dk_model_create(&m, &mc) || dk_model_init(&m, 1)) {
        rc = dk_cli_error();
        goto done;
    }
    if (prefill >= mc.max_position_embeddings) prefill = mc.max_position_embeddings - steps - 32;
    double bw = read_bandwidth((size_t)1 << 30), peak = dk_sgemm_peak(1024, 2.0);
    if (dk_infer_begin(&m, 1, prefill, mc.max_position_embeddings)) {
        rc = dk_cli_error();
        goto done;
    }
    /* prefill: one pass over `prefill` tokens (2 flops per weight per token, and attention) */
    int *prompt = malloc(sizeof(int) * (size_t)prefill), slot = 0, zero = 0;
    for (int i = 0; i < prefill && prompt; i++) prompt[i] = (i * 31 + 7) % mc.vocab_size;
    dk_infer_batch(&m, 1, prefill, prompt, &slot, &zero);
    double t0 = dk_now();
    dk_infer_batch(&m, 1, prefill, prompt, &slot, &zero);
    double prefill_s = dk_now() - t0;
    free(prompt);
    double prefill_flops = dk_model_flops_per_token(&mc, prefill) / 3.0 * prefill / prefill_s;

    size_t bytes32 = dk_model_decode_bytes(&m);
    double fp32 = decode_rate(&m, steps);
    if (dk_model_quantize(&m)) {
        rc = dk_cli_error();
        goto done;
    }
    size_t bytes8 = dk_model_decode_bytes(&m);
    double q8 = decode_rate(&m, steps);
    printf("{\"params\":%zu,\"threads\":%d,\"bandwidth_bytes_per_s\":%.4e,\"fp32_weight_bytes\":%zu,\"q8_weight_bytes\":%zu,"
           "\"fp32_tok_per_s\":%.2f,\"fp32_bound_tok_per_s\":%.2f,\"fp32_of_bound\":%.4f,"
           "\"q8_tok_per_s\":%.2f,\"q8_bound_tok_per_s\":%.2f,\"q8_of_bound\":%.4f,\"q8_over_fp32\":%.3f,\"q8_kernel\":\"%s\","
           "\"prefill_tokens\":%d,\"prefill_tok_per_s\":%.1f,\"prefill_flops_per_s\":%.4e,\"sgemm_peak_flops_per_s\":%.4e,"
           "\"prefill_of_peak\":%.4f}\n",
           m.nparams, omp_get_max_threads(), bw, bytes32, bytes8, fp32, bw / bytes32, fp32 * bytes32 / bw, q8, bw / bytes8,
           q8 * bytes8 / bw, q8 / fp32, dk_q8_kernel(), prefill, prefill / prefill_s, prefill_flops, peak,
           prefill_flops / peak);
    rc = DK_EXIT_OK;
done:
    dk_model_free(&m);
    free(config);
    return rc;
}
