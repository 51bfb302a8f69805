/* Internals of the document reader shared by src/data/docs*.c. Not a public header. */
#ifndef DK_DOCS_INTERNAL_H
#define DK_DOCS_INTERNAL_H

#include <stdio.h>
#include <zstd.h>

#include "dokja/docs.h"

typedef struct {
    char *path;
    int input;
    int64_t size; /* -1: could not be stat'ed */
} dk_docs_file_entry;

/* How a record ends: at a newline, at a newline outside CSV quotes, or at the end of the file. */
typedef enum { DK_REC_LINE, DK_REC_CSV, DK_REC_WHOLE } dk_rec_mode;

/* The CSV scanner's states (RFC 4180, lenient about a quote inside an unquoted field)
 * and what a byte does: kept in the field, dropped (a quote), ends the field or the record. */
typedef enum { DK_CSV_START, DK_CSV_PLAIN, DK_CSV_QUOTED, DK_CSV_QUOTE } dk_csv_state;
typedef enum { DK_CSV_KEEP, DK_CSV_DROP, DK_CSV_FIELD_END, DK_CSV_RECORD_END } dk_csv_action;

struct dk_docs {
    dk_docs_options o;
    const char *field;
    size_t max_doc;
    dk_docs_file_entry *files;
    int nfiles, files_cap;
    int64_t total_bytes, done_bytes;

    /* the file being read */
    int cur;
    FILE *fp;
    ZSTD_DStream *zs;
    unsigned char *zin;
    size_t zin_pos, zin_len;
    bool zst, raw_eof, eof, failed, nonblank;
    bool zdone; /* the last zstd frame is complete */
    int64_t file_read;
    dk_docs_format fmt;
    dk_rec_mode mode;
    char *buf; /* decompressed bytes: [pos, end) not yet consumed */
    size_t cap, pos, end, scan;
    dk_csv_state cstate;
    int64_t line; /* the line the next record starts on */

    /* CSV header */
    char **cols;
    int ncols, text_col;

    /* the document handed out */
    cJSON *meta, *text_item;
    char *fix;
    size_t fix_cap;
    char *field_buf; /* a CSV record's fields, unquoted, each NUL-terminated */
    size_t field_cap;
    size_t *field_off;
    int field_off_cap;
};

int dk_docs_walk(dk_docs *d, char *const *paths, int npaths);
/* Reports bad input at (path, line); returns -1 when strict (the message recorded), else 0. */
int dk_docs_bad(dk_docs *d, dk_bad_kind kind, int64_t line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
dk_csv_action dk_csv_step(dk_csv_state *s, char c, char delim);

/* docs_formats.c: turns one record into a document. 1: *doc is set; 0: bad (reported), skip; -1: fatal. */
int dk_docs_parse_jsonl(dk_docs *d, char *rec, size_t len, dk_doc *doc);
int dk_docs_parse_csv(dk_docs *d, char *rec, size_t len, dk_doc *doc);
int dk_docs_parse_markdown(dk_docs *d, char *rec, size_t len, dk_doc *doc);
/* Reads the CSV header of the file (a file without the text column is reported and skipped); 0, or -1: fatal. */
int dk_docs_read_header(dk_docs *d, char *rec, size_t len);

#endif
