/* Byte-level BPE tokenizers in the Hugging Face tokenizer.json format:
 * loading any GPT-2 / Llama-3 / Qwen / GPT-4o style file and encoding to
 * exactly the ids HF tokenizers gives, decoding, training a new vocabulary,
 * and writing the file back. docs/tokenizer.md has the details. */
#ifndef DK_TOKENIZER_H
#define DK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dk_tokenizer dk_tokenizer;

/* Errors name the file and the field or the unsupported feature. */
int dk_tokenizer_load(dk_tokenizer **t, const char *path);
/* The same from the file's text; `name` is used in messages. */
int dk_tokenizer_load_text(dk_tokenizer **t, const char *json, size_t len, const char *name);
void dk_tokenizer_free(dk_tokenizer *t);

/* Encodes len bytes of text; added/special tokens written in the text are matched as HF does.
 * add_special: prepend/append what the tokenizer's post-processor adds (none for dokja's own files).
 * *ids is malloc'd. Text that is not valid UTF-8 is refused with the byte offset. */
int dk_tokenizer_encode(const dk_tokenizer *t, const char *text, size_t len, bool add_special, int **ids, int *n);
/* Decodes ids to a malloc'd NUL-terminated UTF-8 string (invalid UTF-8 from partial tokens replaced by U+FFFD, as HF).
 * Ids outside the vocabulary are skipped, as HF does. NULL only when out of memory. */
char *dk_tokenizer_decode(const dk_tokenizer *t, const int *ids, int n, bool skip_special);
/* The raw bytes a single token stands for (after undoing the byte-to-unicode map; an added token's content), for
 * streaming output. NULL for an id outside the vocabulary. */
const char *dk_tokenizer_token_bytes(const dk_tokenizer *t, int id, size_t *len);
int dk_tokenizer_token_id(const dk_tokenizer *t, const char *token); /* -1 when absent */
int dk_tokenizer_vocab_size(const dk_tokenizer *t);                  /* including added tokens */
bool dk_tokenizer_is_special(const dk_tokenizer *t, int id);
const char *dk_tokenizer_sha256(const dk_tokenizer *t); /* of the file's bytes */

/* What `dokja tokenizer info` shows. */
typedef struct {
    const char *normalizer;    /* "NFC" or "none" */
    const char *pattern;       /* the first Split regex, or NULL */
    int merges;
    int added;                 /* added tokens */
    bool ignore_merges;
} dk_tokenizer_summary;
void dk_tokenizer_describe(const dk_tokenizer *t, dk_tokenizer_summary *s);
/* The id of the i-th added token (0 <= i < summary.added), in the file's order. */
int dk_tokenizer_added_id(const dk_tokenizer *t, int i);

/* An encoder keeps a cache of encoded pre-tokens across calls: one per
 * thread for corpus work (the tokenizer itself is shared read-only). */
typedef struct dk_encoder dk_encoder;
dk_encoder *dk_encoder_new(const dk_tokenizer *t);
void dk_encoder_free(dk_encoder *e);
/* Appends the ids of the text to *ids (capacity *cap, count *n; grown with realloc). */
int dk_encoder_encode(dk_encoder *e, const char *text, size_t len, bool add_special, int **ids, int *n, int *cap);

/* Training (dokja tokenizer train). */
#define DK_TOKENIZER_DEFAULT_PATTERN                                                                                         \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{Hangul}+|[^\\r\\n\\p{L}\\p{N}]?[^\\P{L}\\p{Hangul}]+|\\p{N}{1,3}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
extern const char *const dk_tokenizer_default_specials[];
extern const int dk_tokenizer_default_nspecials;

typedef struct {
    int vocab_size;             /* bytes + special tokens + merges */
    const char *pattern;        /* NULL: DK_TOKENIZER_DEFAULT_PATTERN */
    char *const *specials;      /* NULL: dk_tokenizer_default_specials */
    int nspecials;
    int64_t min_frequency;      /* a merge needs a pair seen at least this often (default 2) */
    int threads;                /* 0: all cores */
} dk_bpe_train_options;

typedef struct dk_bpe_trainer dk_bpe_trainer;
int dk_bpe_trainer_new(dk_bpe_trainer **tr, const dk_bpe_train_options *o);
/* Counts the pre-tokens of a batch of documents (texts[i] of lens[i] bytes), in parallel. Memory grows with the
 * number of distinct pre-tokens only. Invalid UTF-8 is refused with the document's index. */
int dk_bpe_trainer_add(dk_bpe_trainer *tr, const char *const *texts, const size_t *lens, int n);
int64_t dk_bpe_trainer_distinct(const dk_bpe_trainer *tr);
/* Learns the merges and returns the tokenizer.json text (malloc'd). `progress` (may be NULL) is called now and then
 * with the merges done and the merges wanted. */
char *dk_bpe_trainer_finish(dk_bpe_trainer *tr, void (*progress)(int done, int total, void *user), void *user);
void dk_bpe_trainer_free(dk_bpe_trainer *tr);

#endif
