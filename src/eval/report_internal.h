/* Inside src/eval: the pieces of dokja report. A report is a list of
 * blocks (headings, paragraphs, tables, figures) written twice, as Markdown
 * and as one standalone HTML page, so both always say the same. */
#ifndef DK_REPORT_INTERNAL_H
#define DK_REPORT_INTERNAL_H

#include <stdbool.h>

#include "dokja/json.h"

/* ---- charts ---- */

#define DK_SVG_POINTS 1000 /* points per series at most */

typedef struct {
    const char *name;
    const double *x, *y; /* n points; non-finite ones are left out */
    int n;
} dk_series;

/* A line chart (malloc'd SVG text); title and labels are plain text without markup. */
char *dk_svg_chart(const char *title, const char *xlabel, const char *ylabel, const dk_series *s, int ns);

/* ---- documents ---- */

typedef struct dk_doc dk_doc;

dk_doc *dk_doc_new(void);
void dk_doc_free(dk_doc *d);
/* Text is plain (escaped by each writer); a failure is remembered and reported by the writers. */
void dk_doc_heading(dk_doc *d, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void dk_doc_text(dk_doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Preformatted text (formulas). */
void dk_doc_code(dk_doc *d, const char *text);
/* A table: its header row, then rows of the same number of cells. */
void dk_doc_table(dk_doc *d, int ncols, const char *const *header);
void dk_doc_row(dk_doc *d, const char *const *cells);
/* A figure: SVG text (taken over) inlined in the HTML and written to <name>.svg for the Markdown. */
void dk_doc_figure(dk_doc *d, const char *name, char *svg, const char *caption);

/* Writes report.md, report.html and the figures' .svg files into dir, each atomically. */
int dk_doc_write(const dk_doc *d, const char *dir, const char *title);

/* ---- the composite score ---- */

extern const char *const dk_report_part_names[3]; /* benchmark, expert, user */
/* The metric a benchmark task is judged by (acc_norm, acc, exact_match, f1), or NULL (bpb). */
const char *dk_report_main_metric(const cJSON *task);
/* The parts' scores (0..1), points and inputs, from results.json objects
 * (those of the model with weights `sha` when given), and from an arena
 * summary (dk_arena_summary; may be NULL) where the run's model is `name`
 * or, without a name, the one with weights `sha`. */
cJSON *dk_report_composite(const cJSON *const *evals, int nevals, const char *sha, const cJSON *arena, const char *name,
                           const double weights[3]);

#endif
