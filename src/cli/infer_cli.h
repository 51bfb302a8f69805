/* What generate, chat and serve share on the command line: sampling and
 * generation options, and printing a reply as it streams. */
#ifndef DK_INFER_CLI_H
#define DK_INFER_CLI_H

#include <signal.h>
#include <stdbool.h>

#include "cli.h"
#include "dokja/lm.h"

/* Options every generating verb takes; `many` --stop strings point into argv. */
typedef struct {
    dk_sampler_config sampling;
    int max_new;
    dk_strlist stop;
    int threads;
    dk_device_opts dev;
    const dk_backend *be; /* what dev names, set by dk_gen_opts_check */
} dk_gen_opts;

#define DK_GEN_OPTS(g)                                                                                                  \
    {"max-new-tokens", DK_FIELD_INT, &(g)->max_new, "N", "tokens to generate at most"},                                 \
        {"stop", DK_FIELD_STRING, &(g)->stop, "TEXT", "stop when the output contains TEXT (repeatable)", true},        \
        {"threads", DK_FIELD_INT, &(g)->threads, "N", "threads (default: all cores)"}, DK_DEVICE_OPTS(&(g)->dev)

/* Checks the ranges (a usage error, printed), applies --threads and finds --device. */
int dk_gen_opts_check(dk_gen_opts *g, dk_cli *cli);
/* Moves the opened model to --device. */
int dk_gen_opts_use_device(const dk_gen_opts *g, dk_model *m);
void dk_gen_opts_free(dk_gen_opts *g);

/* Streams a reply to stdout: text (or ids) as it comes; the callback of dk_gen. */
typedef struct {
    dk_textstream ts;
    bool ids;                        /* print ids "1,2,3" instead of text */
    bool one_line;                   /* newlines and backslashes as \\n, \\r, \\\\ (a reply per line) */
    int count;
    int think_end;                   /* the </think> id, or -1: reasoning ends there */
    char *text;                      /* what was shown (whole UTF-8 characters), since </think> if any */
    size_t len, cap;
    char *reasoning;                 /* what was shown before </think>, once seen */
    volatile sig_atomic_t *interrupted; /* stops the reply when set (Ctrl-C) */
} dk_printer;

void dk_printer_init(dk_printer *p, const dk_lm *lm, const dk_gen_opts *g, bool ids);
void dk_printer_free(dk_printer *p);
int dk_printer_token(int token, void *user);
/* Prints what was held back (the end of the text) and a newline. */
void dk_printer_finish(dk_printer *p);

/* dokja bench decode (bench_decode.c). */
int dk_bench_decode(int argc, char **argv);

#endif
