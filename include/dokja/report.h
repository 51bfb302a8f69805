/* The report card (dokja report): a run's training record, its data and
 * tokenizer, benchmark results, arena ratings and expert scores, its
 * provenance, and the composite stage score, as report.md and a standalone
 * report.html. docs/report.md. */
#ifndef DK_REPORT_H
#define DK_REPORT_H

#include <stdint.h>

typedef struct {
    const char *run;            /* the training run directory */
    char *const *evals;         /* results.json files of dokja eval */
    int nevals;
    const char *arena;          /* arena database, or NULL */
    const char *arena_model;    /* the run's model in the arena; NULL: found by its weights' sha256 */
    const char *datacard;       /* datacard.json; NULL: looked for beside the run's data */
    char *const *audits;        /* audit.json files of dokja audit */
    int naudits;
    double weights[3];          /* points of the benchmark, expert and user parts (40, 35, 25) */
    int bootstrap;              /* resamples of the arena's rating intervals */
    uint64_t seed;
} dk_report_options;

/* Writes out_dir/report.md, report.html, report.json (the numbers of the
 * composite score) and the charts' .svg files. */
int dk_report_write(const dk_report_options *o, const char *out_dir);

#endif
