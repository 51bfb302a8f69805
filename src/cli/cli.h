/* The command line: verbs as thin mains over libdokja, and one option parser
 * that every verb shares (so --help reads the same everywhere). */
#ifndef DK_CLI_H
#define DK_CLI_H

#include <stdbool.h>

#include "dokja/json.h"

/* Exit codes (DESIGN.md): 0 success, 1 user error, 2 usage. */
enum { DK_EXIT_OK = 0, DK_EXIT_ERROR = 1, DK_EXIT_USAGE = 2 };

/* The values of a `many` option, pointing into argv. */
typedef struct {
    char **items;
    int count;
} dk_strlist;
void dk_strlist_free(dk_strlist *l);

/* An option of a verb. DK_FIELD_BOOL options take no value. A `many` option
 * (type DK_FIELD_STRING, dst a dk_strlist) may be repeated and takes every
 * value up to the next "--" option: "--input a b --input c". */
typedef struct {
    const char *name; /* "data" for --data */
    dk_field_type type;
    void *dst;
    const char *metavar;
    const char *help;
    bool many;
} dk_opt;

/* A field table whose keys are also flags (dashes for underscores). Their
 * values are kept as overrides, applied after a config file is loaded. */
typedef struct {
    const char *title;
    const dk_field *fields;
    void *obj;
} dk_opt_group;

typedef struct {
    const dk_field *field;
    void *obj;
    const char *value;
} dk_override;

typedef struct {
    const char *usage;   /* "dokja train --data DIR --out RUN [options]" */
    const char *summary; /* one paragraph */
    const dk_opt *opts;
    const dk_opt_group *groups;
    int ngroups;
    dk_override overrides[64];
    int noverrides;
    char *positional[64];
    int npositional;
} dk_cli;

/* Parses argv (after the verb). Returns -1 on success, else the exit code
 * the verb should return (0 after --help, 2 on a usage error). */
int dk_cli_parse(dk_cli *cli, int argc, char **argv);
/* Applies the field overrides given on the command line. Returns -1 on
 * success, else DK_EXIT_USAGE after printing the bad value. */
int dk_cli_apply(dk_cli *cli);
void dk_cli_help(const dk_cli *cli);
/* Prints "dokja: error: <message>" and returns DK_EXIT_ERROR. */
int dk_cli_error(void);

/* --device and --precision: where a verb computes (backend.h). */
typedef struct {
    char *device, *precision;
} dk_device_opts;
#define DK_DEVICE_OPTS(d)                                                                                               \
    {"device", DK_FIELD_STRING, &(d)->device, "cpu|cuda", "where to compute (default cpu; docs/cuda.md)"},             \
        {"precision", DK_FIELD_STRING, &(d)->precision, "fp32|bf16", "cuda matmul operands (default bf16; the CPU: fp32)"}
/* The backend they name, or NULL with dk_error set. */
const struct dk_backend *dk_device_opts_backend(const dk_device_opts *d);
void dk_device_opts_free(dk_device_opts *d);

int cmd_tokenize(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);
int cmd_train(int argc, char **argv);
/* A verb's subverbs: runs the one named by argv[0], or lists them (exit 0 after --help, else 2). */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} dk_subverb;
int dk_cli_subverb(const char *verb, const dk_subverb *subs, int n, int argc, char **argv);

int cmd_data(int argc, char **argv);
int cmd_data_chat(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_speedrun(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_arena(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif
