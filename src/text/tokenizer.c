/* Encoding and decoding with a loaded tokenizer.json, in HF's order: added
 * tokens are cut out of the raw text, the rest is normalized, added tokens
 * marked "normalized" are cut out of that, and each remaining segment is
 * pre-tokenized and BPE-encoded; the post-processor's ids go around. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/docs.h"
#include "dokja/error.h"
#include "text.h"

dk_encoder *dk_encoder_new(const dk_tokenizer *t)
{
    dk_encoder *e = dk_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->t = t;
    e->md = dk_calloc((size_t)t->npre + 1, sizeof *e->md);
    /* A JIT stack that can grow to 64 MiB: long runs of one class in a huge text need it. */
    e->jit = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, NULL);
    e->mctx = pcre2_match_context_create(NULL);
    bool ok = e->md && e->jit && e->mctx;
    for (int i = 0; ok && i < t->npre; i++)
        if (t->pre[i].re) ok = (e->md[i] = pcre2_match_data_create_from_pattern(t->pre[i].re, NULL)) != NULL;
    if (!ok) {
        dk_encoder_free(e);
        dk_fail("out of memory creating an encoder");
        return NULL;
    }
    pcre2_jit_stack_assign(e->mctx, NULL, e->jit);
    return e;
}

void dk_encoder_free(dk_encoder *e)
{
    if (!e) return;
    for (int i = 0; e->md && i < e->t->npre; i++) pcre2_match_data_free(e->md[i]);
    free(e->md);
    pcre2_match_context_free(e->mctx);
    pcre2_jit_stack_free(e->jit);
    dk_strmap_free(&e->cache);
    free(e->cache_ids);
    free(e->work);
    free(e);
}

/* The longest added token of the pass that starts at s (NULL: none). */
static const dk_added_token *added_at(const dk_tokenizer *t, bool normalized, const char *s, size_t len)
{
    const dk_added_token *best = NULL;
    for (int i = 0; i < t->nadded; i++) {
        const dk_added_token *a = &t->added[i];
        if (a->normalized == normalized && a->match_len <= len && (!best || a->match_len > best->match_len) &&
            !memcmp(s, a->match, a->match_len))
            best = a;
    }
    return best;
}

static int encode_added(dk_encoder *e, const char *s, size_t len, bool normalized);

/* A gap between raw-matched added tokens: normalized, then searched for the normalized ones. */
static int encode_added_gap(dk_encoder *e, const char *s, size_t len)
{
    char *norm;
    size_t nlen;
    if (dk_normalize(e->t->norm_flags, s, len, &norm, &nlen)) return -1;
    int rc = encode_added(e, norm, nlen, true);
    if (norm != s) free(norm);
    return rc;
}

/* Cuts the leftmost-longest added tokens of one pass out of s (as HF's
 * Aho-Corasick with LeftmostLongest does). The raw pass hands each gap to
 * the normalizer and the normalized pass; that one to the pre-tokenizer. */
static int encode_added(dk_encoder *e, const char *s, size_t len, bool normalized)
{
    const dk_tokenizer *t = e->t;
    size_t gap = 0;
    for (size_t i = 0; i < len; i++) {
        if (!t->added_first[normalized][(unsigned char)s[i]]) continue;
        const dk_added_token *a = added_at(t, normalized, s + i, len - i);
        if (!a) continue;
        if (i > gap && (normalized ? dk_pretokenize_encode(e, s + gap, i - gap) : encode_added_gap(e, s + gap, i - gap)))
            return -1;
        if (dk_ids_push(e, &a->id, 1)) return -1;
        i += a->match_len - 1;
        gap = i + 1;
    }
    if (gap < len) return normalized ? dk_pretokenize_encode(e, s + gap, len - gap) : encode_added_gap(e, s + gap, len - gap);
    return 0;
}

int dk_encoder_encode(dk_encoder *e, const char *text, size_t len, bool add_special, int **ids, int *n, int *cap)
{
    const dk_tokenizer *t = e->t;
    size_t bad = dk_utf8_valid(text, len);
    if (bad < len) return dk_fail("the text is not valid UTF-8 at byte %zu", bad);
    e->out = ids;
    e->nout = n;
    e->cap = cap;
    if (add_special && dk_ids_push(e, t->prefix, t->nprefix)) return -1;
    if (encode_added(e, text, len, false)) return -1;
    return add_special ? dk_ids_push(e, t->suffix, t->nsuffix) : 0;
}

int dk_tokenizer_encode(const dk_tokenizer *t, const char *text, size_t len, bool add_special, int **ids, int *n)
{
    *ids = NULL;
    *n = 0;
    int cap = 0;
    dk_encoder *e = dk_encoder_new(t);
    int rc = e ? dk_encoder_encode(e, text, len, add_special, ids, n, &cap) : -1;
    dk_encoder_free(e);
    if (!rc && !*ids) rc = (*ids = dk_malloc(sizeof **ids)) ? 0 : -1;
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

const char *dk_tokenizer_token_bytes(const dk_tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->nids || !t->bytes[id]) return NULL;
    *len = t->bytes_len[id];
    return t->bytes[id];
}

char *dk_tokenizer_decode(const dk_tokenizer *t, const int *ids, int n, bool skip_special)
{
    size_t total = 0, len;
    for (int i = 0; i < n; i++)
        if (dk_tokenizer_token_bytes(t, ids[i], &len)) total += len;
    char *raw = dk_malloc(total + 1), *out = dk_malloc(total * 3 + 1);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *b = dk_tokenizer_token_bytes(t, ids[i], &len);
        if (!b || (skip_special && t->special[ids[i]])) continue;
        memcpy(raw + k, b, len);
        k += len;
    }
    size_t m = dk_utf8_repair(raw, k, out);
    out[m] = '\0';
    free(raw);
    return out;
}

int dk_tokenizer_token_id(const dk_tokenizer *t, const char *token)
{
    const int64_t *v = dk_strmap_get(&t->by_str, token, strlen(token));
    return v ? (int)*v : -1;
}

int dk_tokenizer_vocab_size(const dk_tokenizer *t) { return t->nids; }

bool dk_tokenizer_is_special(const dk_tokenizer *t, int id) { return id >= 0 && id < t->nids && t->special[id]; }

const char *dk_tokenizer_sha256(const dk_tokenizer *t) { return t->sha256; }

void dk_tokenizer_describe(const dk_tokenizer *t, dk_tokenizer_summary *s)
{
    memset(s, 0, sizeof *s);
    s->normalizer = t->norm_flags & UTF8PROC_COMPAT ? (t->norm_flags & UTF8PROC_COMPOSE ? "NFKC" : "NFKD")
                    : t->norm_flags               ? (t->norm_flags & UTF8PROC_COMPOSE ? "NFC" : "NFD")
                                                  : "none";
    for (int i = 0; i < t->npre && !s->pattern; i++) s->pattern = t->pre[i].pattern;
    s->merges = t->nmerges;
    s->added = t->nadded;
    s->ignore_merges = t->ignore_merges;
}

int dk_tokenizer_added_id(const dk_tokenizer *t, int i) { return i >= 0 && i < t->nadded ? t->added[i].id : -1; }
