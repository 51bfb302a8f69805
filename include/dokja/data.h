/* dokja data prepare: raw corpora -> a cleaned, scrubbed, deduplicated
 * corpus (data-NNNNN.jsonl.zst) with a data card and a manifest of hashes.
 * Each step is a function here so that it can be tested alone; the options
 * are one field table that also drives the command line. docs/data-prepare.md. */
#ifndef DK_DATA_H
#define DK_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokja/json.h"

typedef struct {
    /* reading */
    char *text_field;        /* jsonl/csv/tsv field with the text */
    bool lines;              /* .txt: a document per line */
    int64_t max_doc_bytes;   /* longer documents are bad input */
    /* 1. normalisation */
    bool html_entities, nfc, whitespace;
    /* 2. boilerplate */
    int boilerplate_min_docs; /* a line in at least this many multi-line documents is removed (0: off) */
    bool crawler_lines;       /* remove crawler headers and footers ("Crawled at", "원문 보기", ...) */
    /* 3. language */
    char *languages;          /* comma-separated codes to keep ("ko,en"); empty: all */
    double hangul_min;        /* a text whose letters are at least this fraction Hangul is Korean */
    /* 4. quality */
    bool quality;
    int64_t min_chars, max_chars;
    double min_letter_ratio, max_digit_ratio, max_symbol_ratio;
    double max_dup_line_frac, max_dup_ngram_frac;
    double min_mean_word, max_mean_word;
    /* 5. personal data */
    bool pii;
    /* 6. deduplication */
    bool exact_dedup;
    double near_dup_threshold; /* estimated Jaccard at or above which a document is a near duplicate (0: off) */
    int ngram;                 /* characters per shingle */
    int minhash_bands, minhash_rows;
    int64_t seed;
    /* output */
    int64_t shard_bytes; /* uncompressed JSONL bytes per shard, at most (a document is never split) */
    int zstd_level;
    int batch_docs;      /* documents processed together (parallel within a batch; output order is input order) */
} dk_data_options;

extern const dk_field dk_data_option_fields[];
void dk_data_options_default(dk_data_options *o);
void dk_data_options_free(dk_data_options *o);
int dk_data_options_validate(const dk_data_options *o);

/* Runs the whole pipeline: inputs (files or directories) -> out_dir, which
 * must not exist yet (or be empty). threads 0: all cores. Bad input is
 * counted, never fatal; the run fails when no document could be read or
 * the output cannot be written. */
int dk_data_prepare(char *const *inputs, int ninputs, const char *out_dir, const dk_data_options *o, int threads);

/* ---- the steps, one document at a time (thread-safe; `out` is grown with realloc) ---- */

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} dk_buf;
int dk_buf_reserve(dk_buf *b, size_t cap);
int dk_buf_put(dk_buf *b, const void *s, size_t n);
void dk_buf_free(dk_buf *b);

/* 1. HTML entities (named, &#NN; and &#xHH;) decoded, once. */
int dk_decode_entities(const char *s, size_t n, dk_buf *out);
/* 1. Unicode NFC (utf8proc), with a fast path for text that is NFC by construction. */
int dk_nfc(const char *s, size_t n, dk_buf *out);
/* Whether NFC leaves cp alone wherever it stands (the fast path's set). */
bool dk_nfc_inert(int32_t cp);
/* 1. White space and control characters: CR LF and CR become LF, Unicode spaces a space, zero-width
 * and other control characters go, runs of spaces fold to one, lines are trimmed, at most one blank
 * line in a row, nothing at either end. */
int dk_normalize_space(const char *s, size_t n, dk_buf *out);

/* 2. Boilerplate: a line's key (white space folded; 0 for a blank line) for frequency counting. */
uint64_t dk_line_key(const char *s, size_t n);
/* 2. Document frequency of line keys for frequency-based boilerplate: an open-
 * addressing table u64 -> count. When it holds `limit` keys, the keys seen
 * in the fewest documents are dropped (lossy counting), so memory stays
 * bounded; the result depends only on the order of the documents. */
typedef struct {
    uint64_t *keys; /* 0: empty */
    uint32_t *counts;
    size_t nslots, count, limit;
    uint32_t floor; /* counts at or below this were dropped at least once */
} dk_linecount;
int dk_linecount_init(dk_linecount *m, size_t limit);
void dk_linecount_free(dk_linecount *m);
/* Counts each distinct key of one document once (keys is sorted and deduplicated in place). */
int dk_linecount_add_doc(dk_linecount *m, uint64_t *keys, size_t n);
uint32_t dk_linecount_get(const dk_linecount *m, uint64_t key);
/* The keys of the lines of a multi-line document (blank lines left out) into *keys; returns how many
 * (0 for a single-line document), -1 when out of memory. */
int64_t dk_doc_line_keys(const char *s, size_t n, uint64_t **keys, size_t *cap);


/* Whether a (cleaned) line is a crawler header or footer: "Crawled at …", "원문 보기", copyright lines … */
bool dk_crawler_line(const char *s, size_t n);

/* 3. Language by script ratios. */
typedef struct {
    int64_t letters, hangul, latin, han, kana, cyrillic, arabic, other;
} dk_script_counts;
void dk_script_count(const char *s, size_t n, dk_script_counts *c);
/* "ko", "en", "ja", "zh", "ru", "ar", "latn" (Latin script, not recognisably English), "other", "und" (no letters). */
const char *dk_language(const char *s, size_t n, double hangul_min);

/* 4. Quality: NULL when the document passes, else the name of the first rule it breaks. */
const char *dk_quality_check(const char *s, size_t n, const dk_data_options *o);
extern const char *const dk_quality_reasons[]; /* every name dk_quality_check can return, NULL-terminated */

/* 5. Personal data replaced by <|email|>, <|phone|>, <|rrn|>, <|card|>; counts[type] += found. */
enum { DK_PII_EMAIL, DK_PII_PHONE, DK_PII_RRN, DK_PII_CARD, DK_PII_KINDS };
extern const char *const dk_pii_names[DK_PII_KINDS]; /* "email", "phone", "rrn", "card" */
int dk_pii_scrub(const char *s, size_t n, dk_buf *out, int64_t counts[DK_PII_KINDS]);
/* The checks behind it, on digits only (len digits). */
bool dk_rrn_valid(const char *digits13);
bool dk_luhn_valid(const char *digits, int len);

/* 6. Deduplication. The normalised form (ASCII lower case, no white space or punctuation) is what
 * both the exact hash and the shingles read. */
int dk_dedup_normalize(const char *s, size_t n, dk_buf *out);
typedef struct {
    int k;          /* bands * rows */
    uint64_t *a, *b; /* the k hash functions (a*x + b) >> 32 */
} dk_minhash;
int dk_minhash_init(dk_minhash *m, int k, uint64_t seed);
void dk_minhash_free(dk_minhash *m);
/* The signature (k values) of the character n-grams of normalised text. */
void dk_minhash_signature(const dk_minhash *m, const char *s, size_t n, int ngram, uint32_t *sig);

/* The index of kept documents: exact hashes and MinHash bands (LSH). Documents are offered in input
 * order; the first of a group is kept. */
typedef struct dk_dedup dk_dedup;
int dk_dedup_new(dk_dedup **d, int bands, int rows, double threshold);
void dk_dedup_free(dk_dedup *d);
/* The LSH keys of a signature, one per band (any thread). */
void dk_dedup_band_keys(int bands, int rows, const uint32_t *sig, uint32_t *keys);
/* A hint: starts loading the parts of the index that offering this document will read. Called a few
 * documents ahead, it hides the memory latency of a large index. hash and keys may be NULL. */
void dk_dedup_prefetch(const dk_dedup *d, const uint64_t hash[2], const uint32_t *keys);
/* Returns 0: new (now indexed as doc `id`), 1: an exact duplicate, 2: a near duplicate; then *of is
 * the id of the kept document it repeats and *new_cluster says whether it is that one's first
 * duplicate; -1: out of memory. sig and keys may be NULL (no near-duplicate check). bands <= 256. */
int dk_dedup_offer(dk_dedup *d, const uint64_t hash[2], const uint32_t *sig, const uint32_t *keys, int64_t id, int64_t *of,
                   bool *new_cluster);
/* Bytes held by the index (for the memory figure per million documents). */
size_t dk_dedup_bytes(const dk_dedup *d);

#endif
