/* Prompt templates: {{field|filter:arg|...}} over a row's fields, the small
 * subset of lm-evaluation-harness's Jinja that benchmark specs need. The
 * arena's pages are rendered with the same code (the html filter). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"
#include "dokja/eval.h"

#define SPACE " \t\r\n"

/* The value at a dotted path ("choices.0") as text in `out`. */
static int lookup(const cJSON *row, const char *path, size_t plen, const char *where, dk_buf *out)
{
    const cJSON *v = row;
    for (size_t i = 0; i < plen;) {
        size_t j = i;
        while (j < plen && path[j] != '.') j++;
        char key[256];
        if (j - i >= sizeof key) return dk_fail("%s: field name too long", where);
        memcpy(key, path + i, j - i);
        key[j - i] = '\0';
        char *end;
        long idx = strtol(key, &end, 10);
        v = cJSON_IsArray(v) && *key && !*end ? cJSON_GetArrayItem(v, (int)idx) : cJSON_GetObjectItemCaseSensitive(v, key);
        if (!v) return dk_fail("%s: no field \"%.*s\"", where, (int)plen, path);
        i = j + 1;
    }
    char num[64];
    const char *s = num;
    if (cJSON_IsString(v)) s = v->valuestring;
    else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
        snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
    else if (cJSON_IsNumber(v)) snprintf(num, sizeof num, "%.17g", v->valuedouble);
    else if (cJSON_IsBool(v)) s = cJSON_IsTrue(v) ? "true" : "false";
    else if (cJSON_IsNull(v)) s = "";
    else return dk_fail("%s: field \"%.*s\" is not text or a number", where, (int)plen, path);
    return dk_buf_put(out, s, strlen(s));
}

static bool in_set(char c, const char *set, size_t n) { return memchr(set, c, n) != NULL; }

/* Applies one filter to the value in *v (scratch: *tmp), swapping them when the result is in *tmp. */
static int apply(const char *name, size_t nlen, const char *arg, size_t alen, bool has_arg, bool check, const char *where, dk_buf *v,
                 dk_buf *tmp)
{
#define IS(s) (nlen == strlen(s) && !memcmp(name, s, nlen))
    const char *s = v->p ? v->p : "";
    size_t n = v->len;
    tmp->len = 0;
    if (IS("strip") || IS("lstrip") || IS("rstrip")) {
        const char *set = has_arg ? arg : SPACE;
        size_t sn = has_arg ? alen : strlen(SPACE), a = 0, b = n;
        if (name[0] != 'r')
            while (a < b && in_set(s[a], set, sn)) a++;
        if (name[0] != 'l')
            while (b > a && in_set(s[b - 1], set, sn)) b--;
        if (dk_buf_put(tmp, s + a, b - a)) return -1;
    } else if (IS("lower") || IS("upper")) {
        if (dk_buf_put(tmp, s, n)) return -1;
        for (size_t i = 0; i < n; i++) tmp->p[i] = (char)(name[0] == 'l' ? tolower((unsigned char)s[i]) : toupper((unsigned char)s[i]));
    } else if ((IS("after") || IS("before")) && has_arg && alen) {
        /* after: past the last separator; before: up to the first; the whole text when there is none */
        const char *hit = NULL;
        for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), arg, alen)); p++)
            if (!hit || name[0] == 'a') hit = p;
            else break;
        if (!hit) {
            if (dk_buf_put(tmp, s, n)) return -1;
        } else if (name[0] == 'a') {
            if (dk_buf_put(tmp, hit + alen, n - (size_t)(hit - s) - alen)) return -1;
        } else if (dk_buf_put(tmp, s, (size_t)(hit - s))) return -1;
    } else if (IS("replace") && has_arg && memchr(arg, '=', alen) && arg[0] != '=') {
        const char *eq = memchr(arg, '=', alen);
        size_t fl = (size_t)(eq - arg);
        for (size_t i = 0; i < n;)
            if (i + fl <= n && !memcmp(s + i, arg, fl)) {
                if (dk_buf_put(tmp, eq + 1, alen - fl - 1)) return -1;
                i += fl;
            } else if (dk_buf_put(tmp, s + i++, 1)) return -1;
    } else if (IS("map") && has_arg) {
        /* K=V;K=V: the value must be one of the keys */
        for (size_t i = 0; i < alen;) {
            const char *semi = memchr(arg + i, ';', alen - i), *pe = semi ? semi : arg + alen;
            const char *eq = memchr(arg + i, '=', (size_t)(pe - (arg + i)));
            if (!eq) return dk_fail("%s: map:%.*s: \"%.*s\" has no '='", where, (int)alen, arg, (int)(pe - arg - i), arg + i);
            if ((size_t)(eq - arg - i) == n && !memcmp(arg + i, s, n)) {
                if (dk_buf_put(tmp, eq + 1, (size_t)(pe - eq - 1))) return -1;
                goto swap;
            }
            i = (size_t)(pe - arg) + 1;
        }
        if (!check) return dk_fail("%s: \"%.*s\" is not among map:%.*s", where, (int)n, s, (int)alen, arg);
    } else if (IS("html")) {
        for (size_t i = 0; i < n; i++) {
            const char *e = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : s[i] == '"' ? "&quot;" : s[i] == '\'' ? "&#39;" : NULL;
            if (e ? dk_buf_put(tmp, e, strlen(e)) : dk_buf_put(tmp, s + i, 1)) return -1;
        }
    } else {
        return dk_fail("%s: unknown filter \"%.*s\"%s", where, (int)nlen, name,
                       IS("after") || IS("before") || IS("replace") || IS("map") ? " (it needs an argument)" : "");
    }
#undef IS
swap:;
    if (dk_buf_put(tmp, "", 0)) return -1;
    dk_buf t = *v;
    *v = *tmp;
    *tmp = t;
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && in_set(**s, SPACE, 4)) (*s)++, (*n)--;
    while (*n && in_set((*s)[*n - 1], SPACE, 4)) (*n)--;
}

int dk_template_render(const char *tmpl, const cJSON *row, const char *where, char **out)
{
    dk_buf res = {0}, v = {0}, tmp = {0};
    int rc = dk_buf_put(&res, "", 0);
    for (const char *p = tmpl; !rc && *p;) {
        const char *open = strstr(p, "{{");
        if (!open) {
            rc = dk_buf_put(&res, p, strlen(p));
            break;
        }
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            rc = dk_fail("%s: \"{{\" at character %td is never closed", where, open - tmpl);
            break;
        }
        rc = dk_buf_put(&res, p, (size_t)(open - p));
        /* field | filter:arg | ... */
        const char *e = open + 2;
        const char *bar = memchr(e, '|', (size_t)(close - e)), *fe = bar ? bar : close;
        size_t fl = (size_t)(fe - e);
        trim(&e, &fl);
        if (!rc && !fl) rc = dk_fail("%s: an empty {{}} at character %td", where, open - tmpl);
        v.len = 0;
        if (!rc) rc = row ? lookup(row, e, fl, where, &v) : dk_buf_put(&v, "", 0);
        while (!rc && bar) {
            const char *f = bar + 1;
            bar = memchr(f, '|', (size_t)(close - f));
            const char *end = bar ? bar : close, *colon = memchr(f, ':', (size_t)(end - f));
            const char *name = f, *arg = colon ? colon + 1 : end;
            size_t nlen = (size_t)((colon ? colon : end) - f);
            trim(&name, &nlen);
            /* without a row, an empty value checks the filter's name and argument */
            rc = apply(name, nlen, arg, (size_t)(end - arg), colon != NULL, !row, where, &v, &tmp);
        }
        if (!rc) rc = dk_buf_put(&res, v.p ? v.p : "", v.len);
        p = close + 2;
    }
    dk_buf_free(&v);
    dk_buf_free(&tmp);
    if (rc) {
        dk_buf_free(&res);
        return -1;
    }
    *out = res.p;
    return 0;
}
