/* Pre-tokenization as HF tokenizers does it: each step (Split by a regex,
 * ByteLevel's optional prefix space and GPT-2 regex) cuts every piece of the
 * previous step, and the last pieces go to the BPE model. Pieces stream
 * through the steps instead of being collected, so a long text needs no
 * piece lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "text.h"

const char dk_gpt2_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Unicode's White_Space, which is \s for HF's Oniguruma. PCRE2's \s (with
 * UCP) also takes U+180E, which Unicode 6.3 moved out of the spaces. */
#define WHITE_SPACE "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* A pattern as Oniguruma reads it, for PCRE2: \s becomes White_Space, and
 * \S outside a class its complement (inside one it is left to PCRE2). */
static char *onig_to_pcre2(const char *p)
{
    size_t n = strlen(p);
    char *out = dk_malloc(n * sizeof WHITE_SPACE + 1), *o = out;
    if (!out) return NULL;
    int depth = 0; /* nesting of [...] */
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[++i];
            if (d == 's' && depth) o += sprintf(o, "%s", WHITE_SPACE);
            else if (d == 's') o += sprintf(o, "[%s]", WHITE_SPACE);
            else if (d == 'S' && !depth) o += sprintf(o, "[^%s]", WHITE_SPACE);
            else {
                *o++ = c;
                *o++ = d;
            }
            continue;
        }
        if (c == '[') {
            *o++ = c;
            /* A ']' right after '[' or '[^' is a literal member. */
            if (i + 1 < n && p[i + 1] == '^') *o++ = p[++i];
            if (i + 1 < n && p[i + 1] == ']') *o++ = p[++i];
            depth++;
            continue;
        }
        if (c == ']' && depth) depth--;
        *o++ = c;
    }
    *o = '\0';
    return out;
}

int dk_regex_compile(const char *pattern, bool literal, pcre2_code **re, const char *where)
{
    char *translated = literal ? strdup(pattern) : onig_to_pcre2(pattern);
    if (!translated) return dk_fail("out of memory");
    int err;
    PCRE2_SIZE at;
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    *re = pcre2_compile((PCRE2_SPTR)translated, PCRE2_ZERO_TERMINATED, opts, &err, &at, NULL);
    free(translated);
    if (!*re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return dk_fail("%s: the regex \"%s\" is not supported: %s", where, pattern, (char *)msg);
    }
    /* Without JIT (an unusual build of PCRE2) the interpreter gives the same matches, slower. */
    pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE);
    return 0;
}

static int run(dk_encoder *e, int step, const char *s, size_t len);

/* Combines the segments of a Split (matches and the gaps between them) into
 * pieces by the step's behavior, as HF's SplitDelimiterBehavior does. One
 * piece is held back while the next segment may still join it. */
typedef struct {
    dk_encoder *e;
    const dk_pre_step *p;
    int step;
    const char *s;
    size_t a, b; /* the held piece */
    bool have, held_match, prev_match;
} splitter;

static int emit(splitter *sp, size_t a, size_t b) { return b > a ? run(sp->e, sp->step + 1, sp->s + a, b - a) : 0; }

static int flush_held(splitter *sp)
{
    int rc = sp->have ? emit(sp, sp->a, sp->b) : 0;
    sp->have = false;
    return rc;
}

static int hold(splitter *sp, size_t a, size_t b, bool is_match)
{
    int rc = flush_held(sp);
    sp->a = a;
    sp->b = b;
    sp->have = true;
    sp->held_match = is_match;
    return rc;
}

static int feed(splitter *sp, size_t a, size_t b, bool is_match)
{
    is_match ^= sp->p->invert;
    int rc = 0;
    switch (sp->p->behavior) {
    case DK_SPLIT_REMOVED: rc = is_match ? 0 : emit(sp, a, b); break;
    case DK_SPLIT_ISOLATED: rc = emit(sp, a, b); break;
    case DK_SPLIT_MERGED_PREV:
        /* A delimiter joins the piece before it, unless that was a delimiter too. */
        if (is_match && !sp->prev_match && sp->have) sp->b = b;
        else rc = hold(sp, a, b, is_match);
        break;
    case DK_SPLIT_MERGED_NEXT:
        /* A delimiter joins the piece after it, when that is not a delimiter. */
        if (sp->have && sp->held_match && !is_match) {
            rc = emit(sp, sp->a, b);
            sp->have = false;
        } else if (is_match) rc = hold(sp, a, b, true);
        else rc = flush_held(sp) ? -1 : emit(sp, a, b);
        break;
    case DK_SPLIT_CONTIGUOUS:
        if (sp->have && is_match == sp->prev_match) sp->b = b;
        else rc = hold(sp, a, b, is_match);
        break;
    }
    sp->prev_match = is_match;
    return rc;
}

static int split(dk_encoder *e, int step, const char *s, size_t len)
{
    const dk_pre_step *p = &e->t->pre[step];
    pcre2_match_data *md = e->md[step];
    splitter sp = {.e = e, .p = p, .step = step, .s = s};
    size_t pos = 0, prev = 0;
    while (pos < len) {
        int rc = pcre2_match(p->re, (PCRE2_SPTR)s, len, pos, PCRE2_NO_UTF_CHECK, md, e->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return dk_fail("pre-tokenizer regex failed on a piece of %zu bytes: %s", len, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) {
            /* An empty match makes no piece; go on after the next character. */
            pos = ov[0] + 1;
            while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if ((ov[0] > prev && feed(&sp, prev, ov[0], false)) || feed(&sp, ov[0], ov[1], true)) return -1;
        prev = pos = ov[1];
    }
    if ((prev < len && feed(&sp, prev, len, false)) || flush_held(&sp)) return -1;
    return 0;
}

static int run(dk_encoder *e, int step, const char *s, size_t len)
{
    if (step == e->t->npre) return e->piece ? e->piece(e->piece_user, s, len) : dk_bpe_word(e, s, len);
    const dk_pre_step *p = &e->t->pre[step];
    if (p->add_prefix_space && s[0] != ' ') {
        char *spaced = dk_malloc(len + 1);
        if (!spaced) return -1;
        spaced[0] = ' ';
        memcpy(spaced + 1, s, len);
        int rc = run(e, step, spaced, len + 1);
        free(spaced);
        return rc;
    }
    return p->re ? split(e, step, s, len) : run(e, step + 1, s, len);
}

int dk_pretokenize_encode(dk_encoder *e, const char *s, size_t len) { return len ? run(e, 0, s, len) : 0; }
