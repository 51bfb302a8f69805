/* HTML character references, as crawlers leave them in text: &#NN;, &#xHH;
 * and the named entities that occur in web text (the full HTML5 list is
 * 2,231 names, nearly all never seen outside math markup). Decoded once, so
 * "&amp;lt;" becomes "&lt;" as a browser shows it. A reference without its
 * ';', or naming nothing known, stays as written. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/data.h"

typedef struct {
    const char *name;
    int32_t cp;
} entity;

/* Sorted by name (strcmp) for bsearch. */
static const entity entities[] = {
    {"AElig", 0xC6}, {"Aacute", 0xC1}, {"Agrave", 0xC0}, {"Auml", 0xC4},    {"Ccedil", 0xC7}, {"Eacute", 0xC9},
    {"Ntilde", 0xD1}, {"Oacute", 0xD3}, {"Ouml", 0xD6},   {"Uuml", 0xDC},    {"aacute", 0xE1}, {"acute", 0xB4},
    {"aelig", 0xE6},  {"agrave", 0xE0}, {"amp", '&'},     {"apos", '\''},    {"auml", 0xE4},   {"bdquo", 0x201E},
    {"brvbar", 0xA6}, {"bull", 0x2022}, {"ccedil", 0xE7}, {"cent", 0xA2},    {"copy", 0xA9},   {"curren", 0xA4},
    {"dagger", 0x2020}, {"deg", 0xB0},  {"divide", 0xF7}, {"eacute", 0xE9},  {"egrave", 0xE8}, {"emsp", 0x2003},
    {"ensp", 0x2002}, {"euml", 0xEB},   {"euro", 0x20AC}, {"frac12", 0xBD},  {"frac14", 0xBC}, {"frac34", 0xBE},
    {"gt", '>'},      {"hellip", 0x2026}, {"iacute", 0xED}, {"iexcl", 0xA1}, {"iquest", 0xBF}, {"laquo", 0xAB},
    {"larr", 0x2190}, {"ldquo", 0x201C}, {"lrm", 0x200E}, {"lsaquo", 0x2039}, {"lsquo", 0x2018}, {"lt", '<'},
    {"mdash", 0x2014}, {"micro", 0xB5}, {"middot", 0xB7}, {"nbsp", 0xA0},    {"ndash", 0x2013}, {"not", 0xAC},
    {"ntilde", 0xF1}, {"oacute", 0xF3}, {"ordf", 0xAA},   {"ordm", 0xBA},    {"ouml", 0xF6},   {"para", 0xB6},
    {"permil", 0x2030}, {"plusmn", 0xB1}, {"pound", 0xA3}, {"quot", '"'},    {"raquo", 0xBB},  {"rarr", 0x2192},
    {"rdquo", 0x201D}, {"reg", 0xAE},   {"rlm", 0x200F},  {"rsaquo", 0x203A}, {"rsquo", 0x2019}, {"sbquo", 0x201A},
    {"sect", 0xA7},   {"shy", 0xAD},    {"sup1", 0xB9},   {"sup2", 0xB2},    {"sup3", 0xB3},   {"szlig", 0xDF},
    {"thinsp", 0x2009}, {"times", 0xD7}, {"trade", 0x2122}, {"uacute", 0xFA}, {"uarr", 0x2191}, {"uml", 0xA8},
    {"uuml", 0xFC},   {"yen", 0xA5},    {"zwj", 0x200D},  {"zwnj", 0x200C},
};

static int by_name(const void *key, const void *e) { return strcmp(key, ((const entity *)e)->name); }

/* The code point of the reference at s[0] == '&' and its length, or 0. */
static size_t reference(const char *s, size_t n, int32_t *cp)
{
    size_t i = 1;
    if (i < n && s[i] == '#') {
        i++;
        int hex = i < n && (s[i] == 'x' || s[i] == 'X');
        i += (size_t)hex;
        int64_t v = 0;
        size_t start = i;
        for (; i < n && i - start < 8; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0' : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10 : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) break;
            v = v * (hex ? 16 : 10) + d;
        }
        if (i == start || i >= n || s[i] != ';' || v == 0 || !utf8proc_codepoint_valid((utf8proc_int32_t)v)) return 0;
        *cp = (int32_t)v;
        return i + 1;
    }
    char name[12];
    size_t k = 0;
    for (; i < n && k < sizeof name - 1 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')); i++)
        name[k++] = s[i];
    name[k] = '\0';
    if (!k || i >= n || s[i] != ';') return 0;
    const entity *e = bsearch(name, entities, sizeof entities / sizeof *entities, sizeof *entities, by_name);
    if (!e) return 0;
    *cp = e->cp;
    return i + 1;
}

int dk_decode_entities(const char *s, size_t n, dk_buf *out)
{
    out->len = 0;
    if (dk_buf_reserve(out, n + 1)) return -1; /* a reference is never shorter than its UTF-8 */
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t run = amp ? (size_t)(amp - s) - i : n - i;
        memcpy(out->p + out->len, s + i, run);
        out->len += run;
        i += run;
        if (i >= n) break;
        int32_t cp;
        size_t len = reference(s + i, n - i, &cp);
        if (len) {
            out->len += (size_t)utf8proc_encode_char(cp, (utf8proc_uint8_t *)out->p + out->len);
            i += len;
        } else {
            out->p[out->len++] = '&';
            i++;
        }
    }
    out->p[out->len] = '\0';
    return 0;
}
