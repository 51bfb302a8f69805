/* Reading documents from raw corpora, streaming: .txt (a document per file,
 * or per line), .jsonl, .csv, .tsv, news-crawl Markdown with a YAML front
 * matter, the .zst form of each, and directories walked recursively in
 * byte order of the names. Memory stays bounded by the longest document.
 *
 * Every document handed out is valid UTF-8 (invalid bytes are replaced by
 * U+FFFD and reported). Bad input (a missing, unreadable or binary file, a
 * malformed line, a cut .zst, an empty file, a document over the size limit)
 * is skipped and reported to `on_bad` with the file and line, or, with
 * `strict`, ends the reading with that message. docs/data-prepare.md. */
#ifndef DK_DOCS_H
#define DK_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct dk_docs dk_docs;

typedef enum { DK_FORMAT_TXT, DK_FORMAT_JSONL, DK_FORMAT_CSV, DK_FORMAT_TSV, DK_FORMAT_MARKDOWN } dk_docs_format;

/* Kinds of bad input, for counting. */
typedef enum {
    DK_BAD_UNREADABLE,   /* missing, not a regular file, or a read error */
    DK_BAD_BINARY,       /* a NUL byte in the first 64 KiB */
    DK_BAD_EMPTY,        /* no bytes, or nothing but white space */
    DK_BAD_UTF8,         /* invalid UTF-8, repaired (the document is still handed out) */
    DK_BAD_JSON,         /* a line that is not a JSON object */
    DK_BAD_FIELD,        /* no string text field (JSON line, CSV record), or a wrong number of CSV fields */
    DK_BAD_CSV,          /* an unterminated quoted CSV field */
    DK_BAD_FRONT_MATTER, /* a Markdown front matter that is not closed */
    DK_BAD_TRUNCATED,    /* a .zst stream cut short or corrupt */
    DK_BAD_TOO_LONG,     /* a document over max_doc_bytes */
    DK_BAD_KINDS
} dk_bad_kind;
extern const char *const dk_bad_kind_names[DK_BAD_KINDS]; /* "unreadable", "binary", ... */

typedef struct {
    const char *text_field; /* jsonl/csv/tsv field holding the text; NULL: "text" */
    bool lines;             /* .txt: a document per non-empty line (default: a document per file) */
    bool strict;            /* bad input (but invalid UTF-8) ends the reading with an error */
    size_t max_doc_bytes;   /* longer documents are skipped; 0: 64 MiB */
    bool raw_jsonl;         /* .jsonl: hand out each line unparsed (valid UTF-8) for dk_jsonl_parse on any thread */
    /* Called for each bad input skipped (and each repaired document); may be NULL.
     * line is 1-based, 0 for a whole file. */
    void (*on_bad)(void *ctx, dk_bad_kind kind, const char *path, int64_t line, const char *message);
    void *ctx;
} dk_docs_options;

typedef struct {
    const char *text; /* valid UTF-8, NUL-terminated, len bytes */
    size_t len;
    const char *path;    /* the file */
    int64_t line;        /* 1-based line where the document starts */
    int input;           /* which of the paths given to dk_docs_open it came from */
    dk_docs_format format;
    const cJSON *meta;   /* the other fields: JSON keys, CSV columns, front matter; NULL for .txt */
    int file;            /* index of the file among those walked (dk_docs_file) */
} dk_doc;

/* Walks the paths (files or directories) and opens the first file. A path
 * that does not exist is bad input (an error only with strict). */
int dk_docs_open(dk_docs **d, char *const *paths, int npaths, const dk_docs_options *o);
/* 1: *doc is valid until the next call; 0: the end; -1: an error (strict, or out of memory). */
int dk_docs_next(dk_docs *d, dk_doc *doc);
void dk_docs_close(dk_docs *d);
/* Takes the metadata of the document last handed out (free it with cJSON_Delete); NULL when none. */
cJSON *dk_docs_take_meta(dk_docs *d);

/* Every file walked, in reading order, and the input path each came from. */
int dk_docs_nfiles(const dk_docs *d);
const char *dk_docs_file(const dk_docs *d, int i, int *input);
/* The index (for dk_docs_file) of the file being read: during on_bad, the one at fault. */
int dk_docs_current_file(const dk_docs *d);
/* Bytes read from the files so far (compressed bytes for .zst) and their total size, for progress. */
void dk_docs_progress(const dk_docs *d, int64_t *done, int64_t *total);
/* The format a file name stands for (".zst" stripped); *zst says whether it is compressed. */
dk_docs_format dk_docs_format_of(const char *path, bool *zst);

/* Parses one JSON line (thread-safe): 0 and *obj (the object without the text field, the caller's to
 * cJSON_Delete) and *text (the field's cJSON string, detached, also the caller's); 1 when the line is
 * bad, with *kind (DK_BAD_JSON or DK_BAD_FIELD) and a message in why; -1 when out of memory. */
int dk_jsonl_parse(const char *line, size_t len, const char *field, cJSON **obj, cJSON **text, dk_bad_kind *kind,
                   char *why, size_t why_len);

/* UTF-8: the offset of the first invalid byte, or len when all is valid. */
size_t dk_utf8_valid(const char *s, size_t len);
/* Copies s to out (room for 3 * len bytes) with each maximal invalid
 * subsequence replaced by U+FFFD (Unicode's recommended practice); returns the length. */
size_t dk_utf8_repair(const char *s, size_t len, char *out);

#endif
