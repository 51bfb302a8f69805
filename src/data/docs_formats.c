/* From a record to a document: a JSON line (the text field, the other keys
 * as metadata), a CSV/TSV record (columns named by the header), and a
 * news-crawl Markdown file (a YAML front matter between "---" lines, read as
 * flat "key: value" pairs and "- item" lists, then the body). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docs_internal.h"
#include "dokja/error.h"

static int oom(dk_docs *d) { return dk_fail("out of memory reading %s", d->files[d->cur].path); }

int dk_jsonl_parse(const char *rec, size_t len, const char *field, cJSON **obj, cJSON **text, dk_bad_kind *kind,
                   char *why, size_t why_len)
{
    *obj = *text = NULL;
    *kind = DK_BAD_JSON;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(rec, len, &end, false);
    if (!j) return snprintf(why, why_len, "malformed JSON at byte %td", end ? end - rec : 0), 1;
    for (; end && end < rec + len; end++)
        if (*end != ' ' && *end != '\t') {
            cJSON_Delete(j);
            return snprintf(why, why_len, "text after the JSON value at byte %td", end - rec), 1;
        }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return snprintf(why, why_len, "not a JSON object"), 1;
    }
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(j, field);
    if (!cJSON_IsString(t)) {
        cJSON_Delete(t);
        cJSON_Delete(j);
        *kind = DK_BAD_FIELD;
        return snprintf(why, why_len, "no string field \"%s\"", field), 1;
    }
    *obj = j;
    *text = t;
    return 0;
}

int dk_docs_parse_jsonl(dk_docs *d, char *rec, size_t len, dk_doc *doc)
{
    if (d->o.raw_jsonl) {
        doc->text = rec;
        doc->len = len;
        return 1;
    }
    char why[256];
    dk_bad_kind kind;
    int rc = dk_jsonl_parse(rec, len, d->field, &d->meta, &d->text_item, &kind, why, sizeof why);
    if (rc < 0) return oom(d);
    if (rc > 0) return dk_docs_bad(d, kind, doc->line, "%s", why);
    doc->text = d->text_item->valuestring;
    doc->len = strlen(doc->text);
    doc->meta = d->meta;
    return 1;
}

dk_csv_action dk_csv_step(dk_csv_state *s, char c, char delim)
{
    switch (*s) {
    case DK_CSV_START:
    case DK_CSV_PLAIN:
        if (c == '"' && *s == DK_CSV_START) {
            *s = DK_CSV_QUOTED;
            return DK_CSV_DROP;
        }
        if (c == delim || c == '\n') {
            *s = DK_CSV_START;
            return c == '\n' ? DK_CSV_RECORD_END : DK_CSV_FIELD_END;
        }
        *s = DK_CSV_PLAIN;
        return DK_CSV_KEEP;
    case DK_CSV_QUOTED:
        if (c == '"') {
            *s = DK_CSV_QUOTE;
            return DK_CSV_DROP;
        }
        return DK_CSV_KEEP;
    case DK_CSV_QUOTE: /* a quote in a quoted field: "" is a quote, else the field's quoted part ended */
        if (c == '"') {
            *s = DK_CSV_QUOTED;
            return DK_CSV_KEEP;
        }
        *s = DK_CSV_PLAIN;
        return dk_csv_step(s, c, delim);
    }
    return DK_CSV_KEEP;
}

/* Splits a record into d->field_buf; returns the number of fields, -1 when out of memory. */
static int split_fields(dk_docs *d, const char *rec, size_t len)
{
    if (len + 1 > d->field_cap) {
        char *b = realloc(d->field_buf, len + 1);
        if (!b) return oom(d);
        d->field_buf = b;
        d->field_cap = len + 1;
    }
    char delim = d->fmt == DK_FORMAT_TSV ? '\t' : ',';
    dk_csv_state st = DK_CSV_START;
    size_t o = 0;
    int n = 0;
    for (size_t i = 0;; i++) {
        dk_csv_action a = i < len ? dk_csv_step(&st, rec[i], delim) : DK_CSV_RECORD_END;
        if (a == DK_CSV_KEEP) d->field_buf[o++] = rec[i];
        if (a != DK_CSV_FIELD_END && a != DK_CSV_RECORD_END) continue;
        if (n == d->field_off_cap) {
            int cap = n ? 2 * n : 16;
            size_t *f = realloc(d->field_off, sizeof *f * (size_t)cap);
            if (!f) return oom(d);
            d->field_off = f;
            d->field_off_cap = cap;
        }
        d->field_off[n++] = o;
        d->field_buf[o++] = '\0';
        if (i >= len) return n;
    }
}

/* The start of field i in d->field_buf. */
static char *field(dk_docs *d, int i) { return d->field_buf + (i ? d->field_off[i - 1] + 1 : 0); }

int dk_docs_read_header(dk_docs *d, char *rec, size_t len)
{
    int n = split_fields(d, rec, len);
    if (n < 0) return -1;
    d->cols = dk_calloc((size_t)n, sizeof *d->cols);
    if (!d->cols) return -1;
    d->ncols = n;
    for (int i = 0; i < n; i++) {
        if (!(d->cols[i] = strdup(field(d, i)))) return oom(d);
        if (d->text_col < 0 && !strcmp(d->cols[i], d->field)) d->text_col = i;
    }
    if (d->text_col >= 0) return 0;
    d->pos = d->end; /* the rest of the file cannot be read without the column */
    d->eof = true;
    return dk_docs_bad(d, DK_BAD_FIELD, 1, "no column \"%s\" in the header", d->field);
}

int dk_docs_parse_csv(dk_docs *d, char *rec, size_t len, dk_doc *doc)
{
    int n = split_fields(d, rec, len);
    if (n < 0) return -1;
    if (n != d->ncols) return dk_docs_bad(d, DK_BAD_FIELD, doc->line, "%d fields where the header has %d", n, d->ncols);
    cJSON *meta = cJSON_CreateObject();
    for (int i = 0; meta && i < n; i++)
        if (i != d->text_col && !cJSON_AddStringToObject(meta, d->cols[i], field(d, i))) {
            cJSON_Delete(meta);
            meta = NULL;
        }
    if (!meta) return oom(d);
    d->meta = meta;
    doc->meta = meta;
    doc->text = field(d, d->text_col);
    doc->len = strlen(doc->text);
    return 1;
}

/* The length of the line at s (up to the newline) and where the next one starts. */
static size_t line_at(const char *s, const char *end, const char **next)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    *next = nl ? nl + 1 : end;
    size_t n = (size_t)((nl ? nl : end) - s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return n;
}

static bool is_fence(const char *s, size_t n, const char *mark) { return n == 3 && !memcmp(s, mark, 3); }

/* A YAML scalar as written: quotes removed ("" with backslash escapes, '' with '' for a quote). */
static char *yaml_scalar(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        for (size_t i = 1; i + 1 < n; i++) {
            char c = s[i];
            if (c == '\\' && i + 2 < n) {
                c = s[++i];
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
            }
            *o++ = c;
        }
    } else if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') {
        for (size_t i = 1; i + 1 < n; i++) {
            *o++ = s[i];
            if (s[i] == '\'' && s[i + 1] == '\'') i++;
        }
    } else {
        memcpy(o, s, n);
        o += n;
    }
    *o = '\0';
    return out;
}

/* Puts item in the place of the value *last (its key kept). */
static int replace_last(cJSON *meta, cJSON **last, cJSON *item)
{
    if (!item || !cJSON_ReplaceItemInObjectCaseSensitive(meta, (*last)->string, item)) {
        cJSON_Delete(item);
        return -1;
    }
    *last = item;
    return 0;
}

/* Adds one front-matter line to meta; `last` is the key of the previous "key:" line. */
static int front_matter_line(cJSON *meta, const char *s, size_t n, cJSON **last)
{
    size_t ind = 0;
    while (ind < n && (s[ind] == ' ' || s[ind] == '\t')) ind++;
    if (ind == n || s[ind] == '#') return 0;
    if (s[ind] == '-' && (ind + 1 == n || s[ind + 1] == ' ')) { /* a list item of the previous key */
        if (!*last) return 0;
        if (!cJSON_IsArray(*last) && replace_last(meta, last, cJSON_CreateArray())) return -1;
        char *v = yaml_scalar(s + ind + 1, n - ind - 1);
        cJSON *item = v ? cJSON_CreateString(v) : NULL;
        free(v);
        return item && cJSON_AddItemToArray(*last, item) ? 0 : -1;
    }
    const char *colon = memchr(s, ':', n);
    if (ind > 0 || !colon) { /* a continuation line of a plain scalar: folded with a space */
        if (!*last || !cJSON_IsString(*last)) return 0;
        char *v = yaml_scalar(s, n);
        char *joined = v ? malloc(strlen((*last)->valuestring) + strlen(v) + 2) : NULL;
        if (joined) sprintf(joined, "%s%s%s", (*last)->valuestring, *(*last)->valuestring ? " " : "", v);
        free(v);
        if (!joined) return -1;
        cJSON *str = cJSON_CreateString(joined);
        free(joined);
        return replace_last(meta, last, str);
    }
    size_t klen = (size_t)(colon - s);
    while (klen && (s[klen - 1] == ' ' || s[klen - 1] == '\t')) klen--;
    char *key = yaml_scalar(s, klen), *v = yaml_scalar(colon + 1, n - (size_t)(colon + 1 - s));
    cJSON *str = v ? cJSON_CreateString(v) : NULL;
    int rc = -1;
    if (key && str) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
        rc = cJSON_AddItemToObject(meta, key, str) ? 0 : -1;
        *last = str;
    } else {
        cJSON_Delete(str);
    }
    free(key);
    free(v);
    return rc;
}

int dk_docs_parse_markdown(dk_docs *d, char *rec, size_t len, dk_doc *doc)
{
    const char *end = rec + len, *next;
    size_t n = line_at(rec, end, &next);
    doc->text = rec;
    doc->len = len;
    if (!is_fence(rec, n, "---")) return 1;
    cJSON *meta = cJSON_CreateObject(), *last = NULL;
    if (!meta) return oom(d);
    int64_t line = doc->line + 1;
    for (const char *s = next; s < end; s = next, line++) {
        n = line_at(s, end, &next);
        if (is_fence(s, n, "---") || is_fence(s, n, "...")) {
            d->meta = meta;
            doc->meta = meta;
            doc->text = next;
            doc->len = (size_t)(end - next);
            doc->line = line + 1;
            return 1;
        }
        if (front_matter_line(meta, s, n, &last)) {
            cJSON_Delete(meta);
            return oom(d);
        }
    }
    cJSON_Delete(meta);
    return dk_docs_bad(d, DK_BAD_FRONT_MATTER, doc->line, "front matter (\"---\") not closed");
}
