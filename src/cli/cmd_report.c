/* dokja report: the report card of a run, as report.md and report.html. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/error.h"
#include "dokja/report.h"

int cmd_report(int argc, char **argv)
{
    char *run = NULL, *out = NULL, *arena = NULL, *arena_model = NULL, *datacard = NULL, *weights = NULL;
    dk_strlist evals = {0}, audits = {0};
    int bootstrap = 1000;
    int64_t seed = 0;
    const dk_opt opts[] = {
        {"run", DK_FIELD_STRING, &run, "RUN", "the training run directory"},
        {"out", DK_FIELD_STRING, &out, "DIR", "where report.md, report.html, report.json and the charts go"},
        {"eval", DK_FIELD_STRING, &evals, "FILE", "results.json of dokja eval", true},
        {"arena", DK_FIELD_STRING, &arena, "FILE", "the arena's SQLite database"},
        {"arena-model", DK_FIELD_STRING, &arena_model, "NAME", "the run's model in the arena (default: found by its weights)"},
        {"datacard", DK_FIELD_STRING, &datacard, "FILE", "datacard.json (default: beside the run's token shards)"},
        {"audit", DK_FIELD_STRING, &audits, "FILE", "audit.json of dokja audit", true},
        {"weights", DK_FIELD_STRING, &weights, "B,E,U", "points of benchmarks, expert review, user evaluation (default 40,35,25)"},
        {"bootstrap", DK_FIELD_INT, &bootstrap, "N", "resamples of the arena's rating intervals (default 1000)"},
        {"seed", DK_FIELD_I64, &seed, "S", "seed of the resamples (default 0)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja report --run RUN [--eval results.json...] [--arena arena.sqlite] [--audit audit.json...] --out DIR",
                  .summary = "Writes the report card of a run: training curves, data card, tokenizer, benchmark scores\n"
                             "against their random baselines, arena ratings, expert scores, the ledger's head and audit\n"
                             "results, and the composite stage score (benchmarks 40, expert 35, users 25 points by\n"
                             "default) with each part's formula, as report.md and a standalone report.html (docs/report.md).",
                  .opts = opts};
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    dk_report_options o = {.run = run, .evals = evals.items, .nevals = evals.count, .arena = arena, .arena_model = arena_model,
                           .datacard = datacard, .audits = audits.items, .naudits = audits.count, .weights = {40, 35, 25},
                           .bootstrap = bootstrap, .seed = (uint64_t)seed};
    char end = 0;
    if (weights && (sscanf(weights, "%lf,%lf,%lf%c", &o.weights[0], &o.weights[1], &o.weights[2], &end) != 3 || o.weights[0] < 0 ||
                    o.weights[1] < 0 || o.weights[2] < 0)) {
        fprintf(stderr, "dokja: --weights takes three numbers >= 0, e.g. 40,35,25\n");
        goto done;
    }
    if (!run || !out || cli.npositional || bootstrap < 0) {
        fprintf(stderr, "dokja: report needs --run RUN and --out DIR\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    rc = dk_report_write(&o, out) ? dk_cli_error() : DK_EXIT_OK;
    if (!rc) printf("report: %s/report.md, %s/report.html\n", out, out);
done:
    dk_strlist_free(&evals);
    dk_strlist_free(&audits);
    free(run), free(out), free(arena), free(arena_model), free(datacard), free(weights);
    return rc;
}
