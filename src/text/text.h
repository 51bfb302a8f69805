/* Internals of the tokenizer shared by the files of src/text: hash maps, Unicode
 * helpers, the loaded tokenizer's layout, the pre-tokenizer and the BPE
 * merge loop. Not a public header. */
#ifndef DK_TEXT_H
#define DK_TEXT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokja/sha256.h"
#include "dokja/tokenizer.h"

/* ---- hashmap.c: byte strings -> int64, in insertion order ---- */
typedef struct {
    uint64_t hash;
    size_t key; /* offset of the key in `keys` */
    uint32_t len;
    int64_t value;
} dk_strmap_entry;

typedef struct {
    int32_t *slots; /* entry index + 1; 0 is empty */
    size_t nslots;  /* a power of two */
    dk_strmap_entry *entries;
    size_t count, cap;
    char *keys;
    size_t keys_len, keys_cap;
} dk_strmap;

/* NULL when absent. */
int64_t *dk_strmap_get(const dk_strmap *m, const void *key, size_t len);
/* The value of key, inserted as 0 when new (*added says so); NULL when out of memory. */
int64_t *dk_strmap_put(dk_strmap *m, const void *key, size_t len, bool *added);
static inline const char *dk_strmap_key(const dk_strmap *m, size_t i) { return m->keys + m->entries[i].key; }
void dk_strmap_clear(dk_strmap *m);
void dk_strmap_free(dk_strmap *m);

/* u64 -> u64 (pairs of ids); a key and its value share a cache line. */
typedef struct {
    uint64_t key; /* UINT64_MAX: empty */
    uint64_t value;
} dk_u64slot;

typedef struct {
    dk_u64slot *slots;
    size_t nslots, count;
} dk_u64map;
uint64_t *dk_u64map_get(const dk_u64map *m, uint64_t key);
uint64_t *dk_u64map_put(dk_u64map *m, uint64_t key, bool *added);
void dk_u64map_free(dk_u64map *m);

/* ---- unicode.c (validation and U+FFFD repair are docs.h's dk_utf8_valid and dk_utf8_repair) ---- */
/* GPT-2's byte-to-unicode table and its inverse (-1: not a byte's character). */
unsigned dk_byte_to_char(int byte);
int dk_char_to_byte(unsigned cp);
/* Writes the UTF-8 of cp (< 0x110000) to out; returns its length. */
int dk_utf8_put(unsigned cp, char *out);
/* Decodes one character at s (len > 0 bytes); returns its length, or 0 when
 * the bytes there are not valid UTF-8. */
int dk_utf8_get(const uint8_t *s, size_t len, unsigned *cp);
/* Applies the normalizer (utf8proc option flags; 0: none) to valid UTF-8.
 * *out is s itself when nothing changes, else malloc'd. */
int dk_normalize(int flags, const char *s, size_t len, char **out, size_t *out_len);

/* ---- the loaded tokenizer ---- */
enum { DK_SPLIT_REMOVED, DK_SPLIT_ISOLATED, DK_SPLIT_MERGED_PREV, DK_SPLIT_MERGED_NEXT, DK_SPLIT_CONTIGUOUS };

typedef struct {
    bool byte_level;       /* ByteLevel (last step); else Split */
    pcre2_code *re;        /* Split's pattern, or ByteLevel's GPT-2 pattern when use_regex; NULL: none */
    char *pattern;         /* Split's, as written in the file */
    int behavior;          /* Split */
    bool invert;           /* Split */
    bool add_prefix_space; /* ByteLevel */
} dk_pre_step;

typedef struct {
    char *content; /* as in the file, NUL-terminated */
    size_t len;
    char *match;   /* what is matched in text: the content, normalized when `normalized` */
    size_t match_len;
    int id;
    bool special, normalized;
} dk_added_token;

struct dk_tokenizer {
    char *name;
    char sha256[DK_SHA256_HEX];
    int norm_flags;
    dk_pre_step *pre;
    int npre;
    /* The model: per id, its string in the file and the raw bytes it stands for. */
    int nids; /* largest id + 1 */
    char **str;
    char **bytes;
    uint32_t *bytes_len;
    bool *special;
    dk_strmap by_str;   /* file string -> id (model vocab, then added tokens) */
    dk_strmap by_bytes; /* raw bytes -> id (model vocab), for ignore_merges */
    dk_u64map merges;   /* (a << 32 | b) -> (rank << 32 | merged id) */
    int nmerges;
    int byte_id[256];   /* the id of each byte alone; -1 when the vocab lacks it */
    uint64_t *byte_pairs; /* [256 * 256]: the merge of two bytes' ids, as in `merges` (UINT64_MAX: none) */
    int unk_id;         /* -1: unknown bytes are dropped, as HF does without unk_token */
    bool fuse_unk, ignore_merges;
    dk_added_token *added;
    int nadded;
    bool added_first[2][256]; /* [normalized]: bytes that start an added token */
    int *prefix, nprefix, *suffix, nsuffix; /* the post-processor's ids around a single sequence */
};

/* ---- pretokenize.c ---- */
/* Compiles a pattern as HF's Oniguruma reads it (\s is Unicode White_Space). */
int dk_regex_compile(const char *pattern, bool literal, pcre2_code **re, const char *where);
extern const char dk_gpt2_pattern[];

struct dk_encoder {
    const dk_tokenizer *t;
    pcre2_match_data **md; /* one per pre-tokenizer step */
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit;
    dk_strmap cache;  /* pre-token bytes -> (offset << 24 | count) into cache_ids */
    int *cache_ids;
    size_t cache_n, cache_cap;
    /* scratch of the merge loop */
    void *work;
    size_t work_cap;
    /* where ids go */
    int **out;
    int *nout, *cap;
    /* when set, each final pre-token goes here instead of the BPE model (training counts them) */
    int (*piece)(void *user, const char *s, size_t len);
    void *piece_user;
};

/* Pre-tokenizes one normalized segment and appends the ids of every piece. */
int dk_pretokenize_encode(dk_encoder *e, const char *s, size_t len);
/* bpe.c: appends the ids of one pre-token (raw bytes). */
int dk_bpe_word(dk_encoder *e, const char *s, size_t len);
int dk_ids_push(dk_encoder *e, const int *ids, int n);

/* tokenizer_json.c: the files dokja writes. Ids 0-255 are the bytes, then
 * the specials, then the learnt tokens; raw[id] (raw_len[id] bytes) for every
 * id but the specials'. merges[k] holds the ids of the k-th merge's parts.
 * pattern NULL: no normalizer and no Split (the byte-level vocabulary). */
char *dk_tokenizer_json_write(const char *pattern, char *const *specials, int nspecials, char *const *raw,
                              const uint32_t *raw_len, int ntok, const int32_t (*merges)[2], int nmerges);
/* The same with the bytes and specials only (no merges yet). */
char *dk_tokenizer_json_base(const char *pattern, char *const *specials, int nspecials);

#endif
