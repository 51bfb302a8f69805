/* Step 3: language by script. Letters are counted by script; Korean text
 * carries Latin words (brands, terms), so Hangul decides at a lower share
 * (hangul_min, default 0.3) than the other scripts (a majority). Latin text
 * counts as English when English function words make up a share of its words. */
#include <ctype.h>
#include <string.h>
#include <utf8proc.h>

#include "data_internal.h"

void dk_script_count(const char *s, size_t n, dk_script_counts *c)
{
    memset(c, 0, sizeof *c);
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)dk_utf8_next(u + i, &cp);
        if (cp < 0x80) {
            if (isalpha(cp)) c->latin++, c->letters++;
            continue;
        }
        if (dk_is_hangul(cp)) c->hangul++;
        else if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                 (cp >= 0x20000 && cp <= 0x2FFFF))
            c->han++;
        else if ((cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF)) c->kana++;
        else if (cp >= 0x0400 && cp <= 0x04FF) c->cyrillic++;
        else if (cp >= 0x0600 && cp <= 0x06FF) c->arabic++;
        else if ((cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7) || (cp >= 0x1E00 && cp <= 0x1EFF)) c->latin++;
        else if (utf8proc_category(cp) >= UTF8PROC_CATEGORY_LU && utf8proc_category(cp) <= UTF8PROC_CATEGORY_LO) c->other++;
        else continue;
        c->letters++;
    }
}

static const char *const english_words[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "it", "for", "was", "on", "with", "as", "be", "are", "at",
    "by", "this", "i", "you", "he", "she", "we", "they", "not", "or", "have", "has", "his", "her", "my", "but",
    "from", "what", "all", "will", "would", "there", "their", "do", "so", "if", "me", "no", "an", "how", "many",
};

/* The share of ASCII words that are English function words. */
static double english_share(const char *s, size_t n)
{
    int64_t words = 0, hits = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && !isalpha((unsigned char)s[i])) i++;
        size_t j = i;
        while (j < n && isalpha((unsigned char)s[j])) j++;
        if (j == i) break;
        words++;
        char w[8];
        if (j - i < sizeof w) {
            for (size_t k = 0; k < j - i; k++) w[k] = (char)tolower((unsigned char)s[i + k]);
            w[j - i] = '\0';
            for (size_t k = 0; k < sizeof english_words / sizeof *english_words; k++)
                if (!strcmp(w, english_words[k])) {
                    hits++;
                    break;
                }
        }
        i = j;
    }
    return words ? (double)hits / (double)words : 0;
}

const char *dk_language(const char *s, size_t n, double hangul_min)
{
    dk_script_counts c;
    dk_script_count(s, n, &c);
    if (!c.letters) return "und";
    double l = (double)c.letters;
    if (c.hangul && c.hangul >= hangul_min * l) return "ko";
    if (c.kana && c.kana + c.han >= 0.5 * l) return "ja";
    if (c.han >= 0.5 * l) return "zh";
    if (c.cyrillic >= 0.5 * l) return "ru";
    if (c.arabic >= 0.5 * l) return "ar";
    if (c.latin >= 0.5 * l) return english_share(s, n) >= 0.05 ? "en" : "latn";
    return "other";
}
