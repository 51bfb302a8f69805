/* UTF-8 validation and repair for raw corpora: invalid bytes become U+FFFD,
 * one per maximal invalid subsequence, as Unicode recommends (and as
 * Python's "replace" and Rust's from_utf8_lossy do), so a repaired text is
 * the same whoever repairs it. */
#include <string.h>

#include "dokja/docs.h"

/* The length of the valid prefix of a character at s (1..4, or the maximal
 * subpart when invalid) and whether it is a whole valid character. */
static size_t utf8_char(const unsigned char *s, size_t len, int *ok)
{
    unsigned char c = s[0];
    *ok = 1;
    if (c < 0x80) return 1;
    size_t want;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) want = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        want = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        want = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *ok = 0;
        return 1;
    }
    size_t n = 1;
    if (n < len && s[n] >= lo && s[n] <= hi) {
        n++;
        while (n < want && n < len && s[n] >= 0x80 && s[n] <= 0xBF) n++;
    }
    if (n < want) *ok = 0;
    return n;
}

size_t dk_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs eight bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* the common three-byte case (Hangul, CJK) inline: E1-EC and EE-EF take any two continuations */
        if (c >= 0xE1 && c != 0xED && c <= 0xEF && i + 2 < len && (s[i + 1] & 0xC0) == 0x80 && (s[i + 2] & 0xC0) == 0x80) {
            i += 3;
            continue;
        }
        int ok;
        size_t n = utf8_char(s + i, len - i, &ok);
        if (!ok) return i;
        i += n;
    }
    return len;
}

size_t dk_utf8_repair(const char *str, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t good = dk_utf8_valid(str + i, len - i);
        memcpy(out + o, s + i, good);
        i += good, o += good;
        if (i >= len) break;
        int ok;
        i += utf8_char(s + i, len - i, &ok);
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
    }
    return o;
}
