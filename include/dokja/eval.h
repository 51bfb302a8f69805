/* Benchmarks (dokja eval): task specs (tasks/NAME.json), their rows read from
 * CSV/TSV/JSONL/JSON files under a data directory, prompts rendered from
 * templates over a row's fields, few-shot examples, scoring by
 * log-likelihood (mc), greedy generation (gen) or bits per byte (bpb), and
 * metrics with standard errors. docs/eval.md has the spec format. */
#ifndef DK_EVAL_H
#define DK_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "model.h"
#include "tokenizer.h"

/* ---- Tables ---- */

/* Reads a file into a JSON array of row objects. Formats: "csv" and "tsv"
 * (a header row names the columns; a field that starts with a double quote is
 * quoted as in RFC 4180, elsewhere a quote is a plain character), "jsonl" (an
 * object per line), "json" (an array of objects, or the array under `key`),
 * "lines" (each line is {"text": line}). Errors name the file and line. */
int dk_table_read(const char *path, const char *format, const char *key, cJSON **rows);

/* ---- Templates ---- */

/* Renders `tmpl`: text with {{field}} and {{field|filter|filter:arg}} over the
 * row object ("a.0" reaches into arrays). With row NULL only the syntax is
 * checked. Errors name `where` (the spec field, the row). Filters: strip,
 * lstrip, rstrip (optionally :CHARS), lower, upper, after:SEP, before:SEP,
 * replace:FROM=TO, map:K=V;K=V (a value not in the map is an error), html. */
int dk_template_render(const char *tmpl, const cJSON *row, const char *where, char **out);

/* ---- Metrics ---- */

double dk_mean(const double *x, int n);
/* The standard error of a mean: sample standard deviation (n - 1) / sqrt(n),
 * as lm-evaluation-harness reports it; 0 for n < 2. */
double dk_mean_se(const double *x, int n);
/* Index of the first largest value. */
int dk_argmax(const double *x, int n);
/* Token F1 of two answers (SQuAD): lower-cased, punctuation and English
 * articles removed, split on white space; 1 when both are empty. */
double dk_token_f1(const char *pred, const char *gold);
/* Bits per byte of units (windows, documents) with nll[i] nats over bytes[i]
 * bytes: sum(nll) / (ln 2 * sum(bytes)), and its standard error by the delta
 * method for a ratio of sums. */
void dk_bits_per_byte(const double *nll, const double *bytes, int n, double *bpb, double *se);

/* ---- Task specs ---- */

typedef enum { DK_TASK_MC, DK_TASK_GEN, DK_TASK_BPB } dk_task_kind;

/* Where rows come from: a path under the data directory (a "{subject}" in its
 * file name matches every subject), its format, the array key of a JSON
 * file, and columns from line-aligned side files (field name -> path). */
typedef struct {
    char *path, *format, *key;
    const cJSON *columns;
} dk_task_source;

typedef struct {
    char *name;      /* as asked for: "kmmlu" or "kmmlu_accounting" */
    char *file;      /* the spec file */
    char sha256[65]; /* of the spec file */
    cJSON *spec;
    dk_task_kind kind;
    dk_task_source rows, fewshot;
    bool has_fewshot;
    int k;            /* few-shot examples by default */
    bool fewshot_first; /* the first k rows, else a random draw per row */
    char *subject;    /* only this subject (kmmlu_<subject>), or NULL */
    /* templates (pointing into spec); NULL when absent */
    const char *header, *prompt, *gold, *fewshot_target, *text;
    const cJSON *choices; /* array of templates */
    bool gold_is_index;
    int gold_base;
    const char *target_delimiter, *fewshot_delimiter;
    /* gen */
    const cJSON *stop;          /* array of strings */
    int max_tokens;
    const char *answer_pattern; /* PCRE2; its first group (or the match) is the answer */
    const cJSON *ignore;        /* regexes removed from answer and gold before comparing */
    bool ignore_case;
    double baseline;            /* random-guess score given by the spec, or < 0 */
} dk_task;

/* Loads tasks_dir/<name>.json, or a spec file path; "<spec>_<subject>" picks
 * one subject of a spec whose rows have a {subject} (case, '-' and '_' do not
 * matter). Errors name the spec file and the field. */
int dk_task_load(dk_task *t, const char *tasks_dir, const char *name);
void dk_task_free(dk_task *t);
/* Expands a comma-separated list of names, where a spec {"group": [...]}
 * stands for its members, into *names (each malloc'd). */
int dk_task_names(const char *tasks_dir, const char *list, char ***names, int *n);
/* Every spec file in tasks_dir (sorted names without .json). */
int dk_task_list(const char *tasks_dir, char ***names, int *n);

/* ---- Items: the rows of a task, rendered ---- */

typedef struct {
    int subject;     /* index into dk_eval_set.subjects */
    int index;       /* row index in its file */
    char *context;   /* header, few-shot examples, prompt */
    char **choices;  /* mc: each choice's text (the target delimiter goes before it) */
    int nchoices;
    int gold;        /* mc: index of the right choice */
    char *gold_text; /* gen: the reference answer */
    char *text;      /* bpb: the document */
} dk_eval_item;

typedef struct {
    char **subjects; /* "" when the spec has none */
    int nsubjects;
    dk_eval_item *items;
    int n;
} dk_eval_set;

/* Reads and renders the rows: `fewshot` examples (< 0: the spec's), the
 * first `limit` rows of each subject (0: all), random few-shot draws seeded
 * by `seed` and the row. Rows that cannot be rendered are errors naming the
 * file and row. */
int dk_eval_set_build(const dk_task *t, const char *data_dir, int fewshot, int limit, uint64_t seed, dk_eval_set *s);
/* A bpb set of one document: the whole text file. */
int dk_eval_set_text(const char *path, dk_eval_set *s);
void dk_eval_set_free(dk_eval_set *s);

/* ---- Running ---- */

typedef struct {
    int batch;          /* sequences per forward pass */
    bool prefix_reuse;  /* compute the context shared by a question's choices once */
    bool records;       /* per-row records in the result */
} dk_eval_options;

/* Scores the set with the model and returns the task's result object:
 * kind, n, metrics ({"acc": {"value", "stderr"}, ...}), random_baseline,
 * per-subject metrics, per-row records and timing. Shows progress. */
int dk_eval_run(dk_model *m, const dk_tokenizer *tok, const dk_task *t, const dk_eval_set *s, const dk_eval_options *o,
                cJSON **result);
/* The results' "tasks" object as a table: task, n, metric, value, stderr and
 * the random-guess baseline. */
void dk_eval_print(FILE *f, const cJSON *tasks);

#endif
