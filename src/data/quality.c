/* Step 4: quality rules in the spirit of Gopher (Rae et al. 2021), C4 and
 * FineWeb, with bounds that suit Korean: lengths count characters (not
 * words, since Korean words carry particles), and a word is what white
 * space separates. The first rule a document breaks names the drop. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "data_internal.h"

const char *const dk_quality_reasons[] = {DK_QUALITY_NAMES, NULL};
_Static_assert(sizeof dk_quality_reasons / sizeof *dk_quality_reasons == DK_NQUALITY + 1, "one name per rule");
enum { TOO_SHORT, TOO_LONG, FEW_LETTERS, MANY_DIGITS, MANY_SYMBOLS, REPEATED_LINES, REPEATED_NGRAMS, WORD_LENGTH };

typedef struct {
    int64_t chars, nonspace, letters, digits, symbols;
    int64_t words, word_chars;
    int64_t lines, dup_lines;
} text_stats;

enum { NGRAM = 5, STACK_WORDS = 256 /* texts this short need no malloc */ };

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int by_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

/* Lines that repeat an earlier line of the same document (blank lines aside). */
static int64_t duplicate_lines(const char *s, size_t n, int64_t *lines)
{
    int64_t nl = 0;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + n - p))); p++) nl++;
    *lines = nl + 1;
    if (nl < 2) return 0;
    uint64_t stack[STACK_WORDS];
    uint64_t *h = nl + 1 <= STACK_WORDS ? stack : malloc(sizeof *h * (size_t)(nl + 1));
    if (!h) return 0;
    int64_t k = 0;
    for (size_t i = 0; i <= n;) {
        const char *e = memchr(s + i, '\n', n - i);
        size_t end = e ? (size_t)(e - s) : n;
        if (end > i) h[k++] = XXH3_64bits(s + i, end - i);
        i = end + 1;
    }
    qsort(h, (size_t)k, sizeof *h, by_u64);
    int64_t dup = 0;
    for (int64_t i = 1; i < k; i++) dup += h[i] == h[i - 1];
    if (h != stack) free(h);
    return dup;
}

/* Gopher's duplicate n-gram character fraction: the characters of words
 * that lie in a repeat (not the first occurrence) of a word 5-gram. */
static double duplicate_ngram_fraction(const char *s, size_t n, int64_t words, int64_t word_chars)
{
    if (words < 2 * NGRAM || word_chars == 0) return 0;
    /* one block: word hashes, n-gram (hash, position) pairs, word lengths, marks; on the stack when small */
    uint64_t stack[STACK_WORDS * 4];
    size_t need = (size_t)words * (3 * sizeof(uint64_t) + sizeof(int32_t) + 1);
    uint64_t *mem = need <= sizeof stack ? stack : malloc(need);
    if (!mem) return 0;
    uint64_t *wh = mem, (*g)[2] = (uint64_t(*)[2])(mem + words);
    int32_t *wl = (int32_t *)(mem + 3 * words);
    bool *marked = (bool *)(wl + words);
    memset(marked, 0, (size_t)words);
    double frac = 0;
    int64_t w = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n && w < words;) {
        while (i < n && (s[i] == ' ' || s[i] == '\n')) i++;
        size_t j = i;
        int32_t len = 0, cp;
        while (j < n && s[j] != ' ' && s[j] != '\n') j += (size_t)dk_utf8_next(u + j, &cp), len++;
        if (j == i) break;
        wh[w] = XXH3_64bits(s + i, j - i);
        wl[w++] = len;
        i = j;
    }
    int64_t ng = w - NGRAM + 1;
    for (int64_t i = 0; i < ng; i++) {
        uint64_t h = 0;
        for (int k = 0; k < NGRAM; k++) h = (h ^ wh[i + k]) * 0x100000001B3ull + (uint64_t)k;
        g[i][0] = h;
        g[i][1] = (uint64_t)i;
    }
    /* sorted by hash, then position: in a run of equal n-grams all but the first are repeats */
    qsort(g, (size_t)ng, sizeof *g, by_pair);
    for (int64_t i = 1; i < ng; i++)
        if (g[i][0] == g[i - 1][0])
            for (int k = 0; k < NGRAM; k++) marked[g[i][1] + (uint64_t)k] = true;
    int64_t dup_chars = 0;
    for (int64_t i = 0; i < w; i++)
        if (marked[i]) dup_chars += wl[i];
    frac = (double)dup_chars / (double)word_chars;
    if (mem != stack) free(mem);
    return frac;
}

static void count_chars(const char *s, size_t n, text_stats *t)
{
    const unsigned char *u = (const unsigned char *)s;
    bool in_word = false;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)dk_utf8_next(u + i, &cp);
        t->chars++;
        if (cp == ' ' || cp == '\n') {
            in_word = false;
            continue;
        }
        t->nonspace++;
        t->word_chars++;
        if (!in_word) t->words++;
        in_word = true;
        if (cp < 0x80) {
            if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') t->letters++;
            else if (cp >= '0' && cp <= '9') t->digits++;
            else if (strchr("#*<>=+|~^`\\$%", cp)) t->symbols++;
            continue;
        }
        if (cp >= 0xAC00 && cp <= 0xD7A3) {
            t->letters++;
            continue;
        }
        utf8proc_category_t c = utf8proc_category(cp);
        if (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) t->letters++;
        else if (c == UTF8PROC_CATEGORY_ND) t->digits++;
        else if (c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO) t->symbols++;
    }
}

const char *dk_quality_check(const char *s, size_t n, const dk_data_options *o)
{
    text_stats t = {0};
    count_chars(s, n, &t);
    const char *const *r = dk_quality_reasons;
    if (t.chars < o->min_chars) return r[TOO_SHORT];
    if (o->max_chars > 0 && t.chars > o->max_chars) return r[TOO_LONG];
    double ns = t.nonspace ? (double)t.nonspace : 1;
    if ((double)t.letters / ns < o->min_letter_ratio) return r[FEW_LETTERS];
    if ((double)t.digits / ns > o->max_digit_ratio) return r[MANY_DIGITS];
    if ((double)t.symbols / ns > o->max_symbol_ratio) return r[MANY_SYMBOLS];
    t.dup_lines = duplicate_lines(s, n, &t.lines);
    if (t.lines >= 3 && (double)t.dup_lines / (double)t.lines > o->max_dup_line_frac) return r[REPEATED_LINES];
    if (duplicate_ngram_fraction(s, n, t.words, t.word_chars) > o->max_dup_ngram_frac) return r[REPEATED_NGRAMS];
    double mean = t.words ? (double)t.word_chars / (double)t.words : 0;
    if (mean < o->min_mean_word || mean > o->max_mean_word) return r[WORD_LENGTH];
    return NULL;
}
