/* dokja audit verify | compare | tokenizers: the evidence that a model was
 * trained from scratch, and tests of whether two models share weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cli.h"
#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/peak.h"

int cmd_audit(int argc, char **argv)
{
    char *out = NULL, *data = NULL;
    int samples = 3, shuffles = 9999, threads = 0;
    int64_t seed = -1;
    double alpha = -1;
    const dk_opt opts[] = {
        {"out", DK_FIELD_STRING, &out, "FILE", "where the JSON report goes (default: audit.json)"},
        {"samples", DK_FIELD_INT, &samples, "K", "verify: checkpoint intervals to replay (default 3)"},
        {"seed", DK_FIELD_I64, &seed, "S", "verify: picks the intervals (default: random, printed); compare: of the shuffles (0)"},
        {"data", DK_FIELD_STRING, &data, "DIR", "verify: the token directory, when it moved since training"},
        {"alpha", DK_FIELD_DOUBLE, &alpha, "X",
         "compare: 'derived' below this combined p (default 1e-6); verify: KS level over all tensors (1e-3)"},
        {"shuffles", DK_FIELD_INT, &shuffles, "N", "compare: shuffles of the norm test's null (default 9999)"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores; verify replays with the recorded count)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja audit (verify RUN | compare MODEL_A MODEL_B | tokenizers A B) [options]",
                  .summary = "verify: checks RUN/ledger.jsonl's hash chain and every file it names, replays K checkpoint\n"
                             "intervals and compares the weights' sha256 bit for bit, and tests the step-0 weights against\n"
                             "the recorded initialisation (Kolmogorov-Smirnov per tensor). Exit 0 only when all pass.\n"
                             "compare: tests whether two HF model directories (safetensors, single or sharded; F32/F16/BF16)\n"
                             "share weights: norm-weight correlations with a shuffle null, and a permutation-robust test on\n"
                             "MLP units (Zhu et al., ICML 2025) combined over layers; prints a verdict with its p-value.\n"
                             "tokenizers: shared vocabulary and merges of two tokenizer.json files or model directories.\n"
                             "A human report goes to stdout and the same findings to --out (docs/audit.md).",
                  .opts = opts};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    const char *what = cli.npositional ? cli.positional[0] : "";
    int want = !strcmp(what, "verify") ? 2 : !strcmp(what, "compare") || !strcmp(what, "tokenizers") ? 3 : 0;
    if (!want || cli.npositional != want || samples < 0 || shuffles < 0) {
        fprintf(stderr, "dokja: audit needs \"verify RUN\", \"compare A B\" or \"tokenizers A B\"%s\nusage: %s (see --help)\n",
                samples < 0 || shuffles < 0 ? " (and non-negative --samples, --shuffles)" : "", cli.usage);
        goto done;
    }
    dk_set_threads(threads);
    cJSON *report = NULL;
    bool passed = true;
    int bad;
    if (!strcmp(what, "verify")) {
        uint64_t s = (uint64_t)seed;
        if (seed < 0 && getrandom(&s, sizeof s, 0) != sizeof s) s = (uint64_t)time(NULL);
        dk_verify_opts o = {.samples = samples, .seed = s & 0xffffffffu, .data_dir = data, .alpha = alpha > 0 ? alpha : 1e-3};
        bad = dk_audit_verify(cli.positional[1], &o, stdout, &report, &passed);
    } else if (!strcmp(what, "compare")) {
        dk_compare_opts o = {.alpha = alpha > 0 ? alpha : 1e-6, .shuffles = shuffles, .seed = seed < 0 ? 0 : (uint64_t)seed};
        bad = dk_audit_compare(cli.positional[1], cli.positional[2], &o, stdout, &report);
    } else
        bad = dk_audit_tokenizers(cli.positional[1], cli.positional[2], stdout, &report);
    fflush(stdout);
    const char *path = out ? out : "audit.json";
    if (report && dk_json_write_file(path, report)) bad = 1;
    else if (report) fprintf(stderr, "report written to %s\n", path);
    if (!bad && !passed) dk_fail_context("verification failed");
    rc = bad || !passed ? dk_cli_error() : DK_EXIT_OK;
    cJSON_Delete(report);
done:
    free(out);
    free(data);
    return rc;
}
