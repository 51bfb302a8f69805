/* Byte-level BPE's view of text: GPT-2's byte-to-unicode table, one UTF-8
 * character at a time, and normalization through utf8proc. (Validation and
 * U+FFFD repair are the corpus reader's, in docs.h.) */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/docs.h"
#include "dokja/error.h"
#include "text.h"

/* Printable bytes stand for themselves; the 68 others (0-32, 127-160, 173)
 * move to U+0100 onwards in byte order. */
unsigned dk_byte_to_char(int b)
{
    if (b <= 32) return 256u + (unsigned)b;
    if (b >= 127 && b <= 160) return 256u + 33 + (unsigned)(b - 127);
    if (b == 173) return 256u + 33 + 34;
    return (unsigned)b;
}

int dk_char_to_byte(unsigned cp)
{
    if (cp < 256) return (cp > 32 && cp < 127) || (cp > 160 && cp != 173) ? (int)cp : -1;
    if (cp < 256 + 33) return (int)cp - 256;
    if (cp < 256 + 33 + 34) return (int)cp - 256 - 33 + 127;
    return cp == 256 + 33 + 34 ? 173 : -1;
}

int dk_utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[5] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (int i = n - 1; i > 0; i--, cp >>= 6) o[i] = (char)(0x80 | (cp & 0x3F));
    o[0] = (char)(lead[n] | cp);
    return n;
}

int dk_utf8_get(const uint8_t *s, size_t len, unsigned *cp)
{
    uint8_t c = s[0];
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if ((size_t)n > len || dk_utf8_valid((const char *)s, (size_t)n) != (size_t)n) return 0;
    static const uint8_t lead_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    unsigned v = c & lead_mask[n];
    for (int i = 1; i < n; i++) v = v << 6 | (s[i] & 0x3F);
    *cp = v;
    return n;
}

/* True when NFC cannot change s: every character is below U+0300 (no
 * combining marks, no singletons) or a precomposed Hangul syllable or a
 * compatibility jamo; anything else takes utf8proc's full path. Conjoining
 * jamo (U+1100-U+11FF) fall outside, so LV + T still composes. */
static bool nfc_stable(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        unsigned cp;
        int n = dk_utf8_get(p + i, len - i, &cp);
        if (!n || !(cp < 0x300 || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x3131 && cp <= 0x318E))) return false;
        i += (size_t)n;
    }
    return true;
}

int dk_normalize(int flags, const char *s, size_t len, char **out, size_t *out_len)
{
    *out = (char *)s;
    *out_len = len;
    if (!flags || !len) return 0;
    bool ascii = true;
    for (size_t i = 0; i < len && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (ascii || (!(flags & (UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE)) && nfc_stable(s, len))) return 0;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst, (utf8proc_option_t)flags);
    if (n < 0) return dk_fail("normalizing text: %s", utf8proc_errmsg(n));
    *out = (char *)dst;
    *out_len = (size_t)n;
    return 0;
}
