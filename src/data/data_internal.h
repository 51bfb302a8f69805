/* Internals of dokja data prepare shared by the files in src/data. Not a public header. */
#ifndef DK_DATA_INTERNAL_H
#define DK_DATA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokja/data.h"
#include "dokja/docs.h"
#include "dokja/io.h"

#include <zstd.h>

/* Decodes the character at s (valid UTF-8); returns its length. */
static inline int dk_utf8_next(const unsigned char *s, int32_t *cp)
{
    if (s[0] < 0x80) return *cp = s[0], 1;
    if (s[0] < 0xE0) return *cp = (s[0] & 0x1F) << 6 | (s[1] & 0x3F), 2;
    if (s[0] < 0xF0) return *cp = (s[0] & 0x0F) << 12 | (s[1] & 0x3F) << 6 | (s[2] & 0x3F), 3;
    return *cp = (s[0] & 0x07) << 18 | (s[1] & 0x3F) << 12 | (s[2] & 0x3F) << 6 | (s[3] & 0x3F), 4;
}

static inline bool dk_is_hangul(int32_t cp)
{
    return (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F) ||
           (cp >= 0xA960 && cp <= 0xA97F) || (cp >= 0xD7B0 && cp <= 0xD7FF);
}

/* Why a document was dropped, in the data card's order: the pipeline's own
 * reasons around the quality rules of dk_quality_reasons. */
enum { DK_DROP_EMPTY, DK_DROP_BOILERPLATE, DK_DROP_LANGUAGE, DK_DROP_QUALITY0 };
#define DK_QUALITY_NAMES \
    "too_short", "too_long", "few_letters", "many_digits", "many_symbols", "repeated_lines", "repeated_ngrams", "word_length"
#define DK_NQUALITY 8
enum { DK_DROP_EXACT = DK_DROP_QUALITY0 + DK_NQUALITY, DK_DROP_NEAR, DK_DROP_KINDS };
extern const char *const dk_drop_names[DK_DROP_KINDS];

/* The languages dk_language names, in the data card's order. */
#define DK_NLANG 9
extern const char *const dk_lang_names[DK_NLANG];
int dk_lang_index(const char *code);

/* Counts of one source (an input path), and of all of them. */
typedef struct {
    char *name;
    int64_t docs_in, bytes_in, docs_out, bytes_out;
    int64_t drops[DK_DROP_KINDS];
    int64_t lang_in[DK_NLANG], lang_out[DK_NLANG];
    int64_t pii[DK_PII_KINDS];
    int64_t frequent_lines, crawler_lines, clusters;
    int64_t bad[DK_BAD_KINDS];
} dk_source_stats;

typedef struct {
    int kind;
    int file; /* walk order */
    char *path;
    int64_t line;
    char *message;
} dk_bad_item;

typedef struct {
    char *name;
    int64_t docs, bytes;
    char sha256[65];
} dk_shard_info;

/* Everything the data card and the manifest say. */
typedef struct {
    dk_source_stats *sources;
    int nsources;
    char **inputs; /* the paths given */
    dk_bad_item *bad;
    int64_t nbad_listed, bad_cap;
    dk_shard_info *shards;
    int nshards;
    size_t dedup_bytes;
} dk_datacard;

/* Output shards dir/data-NNNNN.jsonl.zst of at most max_bytes uncompressed
 * each (a line is never split). zstd runs with `workers` threads of its own
 * (>= 1: the bytes are the same for any number). */
typedef struct {
    const char *dir;
    int64_t max_bytes;
    int level, workers;
    ZSTD_CCtx *cctx;
    dk_afile f;
    bool open;
    char *zbuf;  /* compressed output */
    size_t zcap;
    dk_buf lines; /* lines gathered for zstd (a call per line costs more than the copy) */
    dk_shard_info *shards;
    int nshards;
} dk_zst_writer;
int dk_zst_writer_line(dk_zst_writer *w, const char *line, size_t n);
/* Finishes the shard being written, if any. */
int dk_zst_writer_close(dk_zst_writer *w);
void dk_zst_writer_free(dk_zst_writer *w);

/* Writes datacard.json and datacard.md into dir. */
int dk_datacard_write(const dk_datacard *c, const char *dir, const dk_data_options *o);
/* Writes manifest.json: the inputs' and outputs' sha256, the options and the version. */
int dk_manifest_write(const dk_datacard *c, const char *dir, const dk_data_options *o, char *const *files, int nfiles);

#endif
