/* The provenance ledger (DESIGN.md): RUN/ledger.jsonl, one JSON object per
 * line, {"seq": n, "prev": "<sha256 of line n-1>", "kind": "...", ...}.
 * "prev" hashes the previous line's bytes without its newline (64 zeros for
 * the first line), so changing any line breaks the link of the next one.
 * Every stage appends its own record kinds through dk_ledger_append; a record
 * names each file it read or wrote as {"path": ..., "sha256": ...}, which
 * `dokja audit verify` checks without knowing the kind (docs/audit.md). */
#ifndef DK_LEDGER_H
#define DK_LEDGER_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "sha256.h"
#include "train.h"

#define DK_LEDGER_FILE "ledger.jsonl"

/* Appends one record durably: under an exclusive lock on the file it reads
 * the last line, chains to it, writes the new line and fsyncs. A last line
 * without its newline was torn by a crash during an append (whose caller
 * therefore never went on): it is cut off first, with a note on stderr.
 * fields: a JSON object whose members follow seq, prev and kind (consumed;
 * NULL for none). head (may be NULL) receives the new line's sha256. */
int dk_ledger_append(const char *run_dir, const char *kind, cJSON *fields, char head[DK_SHA256_HEX]);

typedef struct {
    cJSON *record; /* NULL when the line is not a JSON object */
    char sha256[DK_SHA256_HEX];
} dk_ledger_line;

typedef struct {
    char *path;
    dk_ledger_line *lines; /* the complete lines */
    int count;
    bool torn; /* the file ends inside a line */
} dk_ledger;

/* Reads every line; a missing file is an empty ledger. */
int dk_ledger_read(const char *run_dir, dk_ledger *l);
void dk_ledger_free(dk_ledger *l);
/* Checks seq, prev and kind of every line in order, and that the file does
 * not end inside a line; fails at the first break, naming the record. */
int dk_ledger_check(const dk_ledger *l);
/* "line 5 (seq 4, checkpoint step 20)": how messages name a record. */
void dk_ledger_describe(const dk_ledger *l, int index, char *buf, size_t size);

/* The running code: dokja's version, the git commit it was built from, the
 * compiler and the BLAS library. */
cJSON *dk_ledger_code(void);
/* {"path": rel, "sha256": ...} of the file base/rel (rel may be absolute). */
cJSON *dk_ledger_file(const char *base, const char *rel);

/* ---- Records of training (src/train/run_ledger.c) ----
 * At the start of every session: the checkpoint it resumes from when the
 * ledger lacks that record (a crash between the two), "data" (every shard
 * and meta.json), "tokenizer", "train" (the configuration, code, threads,
 * ranks and where it starts); on a fresh start the step-0 weights are
 * written to RUN/init/ and an "init" record names them. */
int dk_ledger_train_begin(const dk_train_job *job, const dk_model *m, const dk_train_state *start,
                          const dk_model_dir_info *info, int ranks, char head[DK_SHA256_HEX]);
/* A "checkpoint" record for RUN/ckpt/step-N: its files' sha256, the data
 * position and the loss, from its state.json. */
int dk_ledger_train_checkpoint(const char *run_dir, int64_t step, bool recovered, char head[DK_SHA256_HEX]);

#endif
