/* Step 1 of data prepare after entity decoding: Unicode NFC through
 * utf8proc, then white space and control characters. Both read valid UTF-8
 * (the document reader guarantees it). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/data.h"
#include "data_internal.h"
#include "dokja/error.h"

/* Characters that NFC leaves alone wherever they stand: no canonical
 * decomposition (precomposed Hangul recomposes to itself), combining class
 * 0, and never the second half of a composition. Text made only of these
 * (nearly all Korean and English text) skips utf8proc. test_clean checks
 * every one of them against utf8proc. */
bool dk_nfc_inert(int32_t cp)
{
    return cp < 0x300 || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
           (cp >= 0x3131 && cp <= 0x318E) || (cp >= 0x2010 && cp <= 0x2027) || (cp >= 0x2030 && cp <= 0x205E) ||
           (cp >= 0x3000 && cp <= 0x3029) || (cp >= 0xFF01 && cp <= 0xFF60);
}

int dk_nfc(const char *s, size_t n, dk_buf *out)
{
    out->len = 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        int len = dk_utf8_next(u + i, &cp);
        if (!dk_nfc_inert(cp)) break;
        i += (size_t)len;
    }
    if (i >= n) return dk_buf_put(out, s, n);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t m = utf8proc_map(u, (utf8proc_ssize_t)n, &dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (m < 0) return dk_fail("NFC: %s", utf8proc_errmsg(m));
    int rc = dk_buf_put(out, dst, (size_t)m);
    free(dst);
    return rc;
}

enum { KEEP, SPACE, NEWLINE, DROP };

static int classify(int32_t cp)
{
    if (cp == '\n' || cp == '\v' || cp == '\f' || cp == 0x85 || cp == 0x2028 || cp == 0x2029) return NEWLINE;
    if (cp == ' ' || cp == '\t' || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000)
        return SPACE;
    /* other controls, zero-width space, soft hyphen, word joiner, BOM, bidi marks and embeddings
     * (ZWJ and ZWNJ stay: they shape emoji and some scripts) */
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xAD || cp == 0x200B || cp == 0x200E || cp == 0x200F ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF)
        return DROP;
    return KEEP;
}

int dk_normalize_space(const char *s, size_t n, dk_buf *out)
{
    out->len = 0;
    if (dk_buf_reserve(out, n + 1)) return -1; /* nothing grows */
    const unsigned char *u = (const unsigned char *)s;
    int newlines = 0;
    bool space = false;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int len, c;
        if ((u[i] > 0x20 && u[i] < 0x7F) || (u[i] >= 0xE4 && u[i] <= 0xEE)) {
            /* printable ASCII, and three-byte characters whose lead byte rules out every special
             * one (Hangul syllables, CJK): kept as they are, without decoding */
            len = u[i] < 0x80 ? 1 : 3;
            c = KEEP;
            cp = 0;
        } else {
            len = dk_utf8_next(u + i, &cp);
            c = classify(cp);
        }
        if (cp == '\r') { /* CR LF and CR alone are one line break */
            c = NEWLINE;
            if (i + 1 < n && u[i + 1] == '\n') len = 2;
        }
        if (c == NEWLINE) {
            newlines++;
            space = false;
        } else if (c == SPACE) {
            space = true;
        } else if (c == KEEP) {
            if (out->len && newlines) {
                int k = newlines > 2 ? 2 : newlines;
                memset(out->p + out->len, '\n', (size_t)k);
                out->len += (size_t)k;
            } else if (out->len && space) {
                out->p[out->len++] = ' ';
            }
            newlines = 0;
            space = false;
            memcpy(out->p + out->len, s + i, (size_t)len);
            out->len += (size_t)len;
        }
        i += (size_t)len;
    }
    out->p[out->len] = '\0';
    return 0;
}
