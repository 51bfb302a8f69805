/* The settings of dokja data prepare: one field table for the command line,
 * the manifest and --config files; defaults and their checks. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"

#define F(name, type, help) {#name, type, offsetof(dk_data_options, name), help}
const dk_field dk_data_option_fields[] = {
    F(text_field, DK_FIELD_STRING, "jsonl/csv/tsv field holding the text (text)"),
    F(lines, DK_FIELD_BOOL, ".txt: a document per line (false: per file)"),
    F(max_doc_bytes, DK_FIELD_I64, "longer documents are bad input (64 MiB)"),
    F(html_entities, DK_FIELD_BOOL, "1. decode HTML entities (true)"),
    F(nfc, DK_FIELD_BOOL, "1. Unicode NFC (true)"),
    F(whitespace, DK_FIELD_BOOL, "1. normalise white space and control characters (true)"),
    F(boilerplate_min_docs, DK_FIELD_INT, "2. remove lines found in at least N multi-line documents (10; 0: off)"),
    F(crawler_lines, DK_FIELD_BOOL, "2. remove crawler headers and footers (true)"),
    F(languages, DK_FIELD_STRING, "3. keep only these languages, e.g. ko,en (empty: all)"),
    F(hangul_min, DK_FIELD_DOUBLE, "3. share of Hangul among letters that makes a text Korean (0.3)"),
    F(quality, DK_FIELD_BOOL, "4. apply the quality rules (true)"),
    F(min_chars, DK_FIELD_I64, "4. fewest characters (10)"),
    F(max_chars, DK_FIELD_I64, "4. most characters (1000000; 0: no bound)"),
    F(min_letter_ratio, DK_FIELD_DOUBLE, "4. least share of letters among non-space characters (0.5)"),
    F(max_digit_ratio, DK_FIELD_DOUBLE, "4. most share of digits (0.3)"),
    F(max_symbol_ratio, DK_FIELD_DOUBLE, "4. most share of symbols: emoji, #, *, math, currency... (0.2)"),
    F(max_dup_line_frac, DK_FIELD_DOUBLE, "4. most share of lines repeating an earlier line (0.3)"),
    F(max_dup_ngram_frac, DK_FIELD_DOUBLE, "4. most share of characters in repeated word 5-grams (0.15)"),
    F(min_mean_word, DK_FIELD_DOUBLE, "4. least mean word length in characters (1.5)"),
    F(max_mean_word, DK_FIELD_DOUBLE, "4. most mean word length (30)"),
    F(pii, DK_FIELD_BOOL, "5. replace e-mails, phone, resident and card numbers (true)"),
    F(exact_dedup, DK_FIELD_BOOL, "6. drop exact duplicates of the normalised text (true)"),
    F(near_dup_threshold, DK_FIELD_DOUBLE, "6. MinHash Jaccard estimate that makes a near duplicate (0.8; 0: off)"),
    F(ngram, DK_FIELD_INT, "6. characters per shingle (5)"),
    F(minhash_bands, DK_FIELD_INT, "6. LSH bands (16)"),
    F(minhash_rows, DK_FIELD_INT, "6. MinHash values per band (8)"),
    F(seed, DK_FIELD_I64, "6. seed of the MinHash functions (1337)"),
    F(shard_bytes, DK_FIELD_I64, "uncompressed bytes per output shard, at most (256 MiB)"),
    F(zstd_level, DK_FIELD_INT, "zstd level of the shards (3)"),
    F(batch_docs, DK_FIELD_INT, "documents processed together (8192)"),
    {0},
};
#undef F

void dk_data_options_default(dk_data_options *o)
{
    *o = (dk_data_options){
        .text_field = strdup("text"),
        .max_doc_bytes = (int64_t)64 << 20,
        .html_entities = true,
        .nfc = true,
        .whitespace = true,
        .boilerplate_min_docs = 10,
        .crawler_lines = true,
        .languages = strdup(""),
        .hangul_min = 0.3,
        .quality = true,
        .min_chars = 10,
        .max_chars = 1000000,
        .min_letter_ratio = 0.5,
        .max_digit_ratio = 0.3,
        .max_symbol_ratio = 0.2,
        .max_dup_line_frac = 0.3,
        .max_dup_ngram_frac = 0.15,
        .min_mean_word = 1.5,
        .max_mean_word = 30,
        .pii = true,
        .exact_dedup = true,
        .near_dup_threshold = 0.8,
        .ngram = 5,
        .minhash_bands = 16,
        .minhash_rows = 8,
        .seed = 1337,
        .shard_bytes = (int64_t)256 << 20,
        .zstd_level = 3,
        .batch_docs = 8192,
    };
}

void dk_data_options_free(dk_data_options *o)
{
    free(o->text_field);
    free(o->languages);
    o->text_field = o->languages = NULL;
}

int dk_data_options_validate(const dk_data_options *o)
{
    if (!o->text_field || !*o->text_field) return dk_fail("text_field must not be empty");
    if (o->max_doc_bytes < 1024) return dk_fail("max_doc_bytes must be at least 1024");
    if (o->boilerplate_min_docs < 0) return dk_fail("boilerplate_min_docs must be 0 or more");
    if (!(o->hangul_min > 0 && o->hangul_min <= 1)) return dk_fail("hangul_min must be in (0, 1]");
    if (o->min_chars < 0 || o->max_chars < 0) return dk_fail("min_chars and max_chars must be 0 or more");
    if (!(o->near_dup_threshold >= 0 && o->near_dup_threshold <= 1)) return dk_fail("near_dup_threshold must be in [0, 1]");
    if (o->ngram < 1 || o->ngram > 32) return dk_fail("ngram must be in 1..32");
    if (o->minhash_bands < 1 || o->minhash_bands > 256 || o->minhash_rows < 1 || o->minhash_rows > 64)
        return dk_fail("minhash_bands must be in 1..256 and minhash_rows in 1..64");
    if (o->shard_bytes < 1) return dk_fail("shard_bytes must be positive");
    if (o->zstd_level < 1 || o->zstd_level > 19) return dk_fail("zstd_level must be in 1..19");
    if (o->batch_docs < 1) return dk_fail("batch_docs must be positive");
    return 0;
}
