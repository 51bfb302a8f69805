/* Benchmark files as rows of named fields. Unlike the corpus reader (docs.h),
 * which skips what it cannot read, a benchmark row is never dropped: its
 * index is part of the results, so any bad row is an error naming the file
 * and line. */
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/docs.h"
#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"

/* The line (1-based) of a byte offset. */
static long line_of(const char *text, size_t at)
{
    long line = 1;
    for (size_t i = 0; i < at; i++) line += text[i] == '\n';
    return line;
}

/* One record of delimiter-separated fields starting at *pos; fields are
 * appended to `out` NUL-separated. Returns the field count, 0 at the end
 * of the text, -1 on an unterminated quote. */
static int csv_record(const char *s, size_t len, size_t *pos, char delim, dk_buf *out, int *err)
{
    size_t i = *pos;
    int n = 0;
    out->len = 0;
    if (i >= len) return 0;
    for (;;) {
        if (i < len && s[i] == '"') {
            size_t start = i++;
            for (;;) {
                if (i >= len) {
                    *pos = start;
                    *err = 1;
                    return -1;
                }
                if (s[i] == '"' && i + 1 < len && s[i + 1] == '"') {
                    if (dk_buf_put(out, "\"", 1)) return -1;
                    i += 2;
                } else if (s[i] == '"') {
                    i++;
                    break;
                } else {
                    if (dk_buf_put(out, s + i, 1)) return -1;
                    i++;
                }
            }
        }
        /* the unquoted rest of the field (text after a closing quote is kept, as Python's csv does) */
        size_t st = i;
        while (i < len && s[i] != delim && s[i] != '\n') i++;
        size_t e = i;
        if (i < len && s[i] == '\n' && e > st && s[e - 1] == '\r') e--;
        if (dk_buf_put(out, s + st, e - st) || dk_buf_put(out, "", 1)) return -1; /* fields are NUL-separated */
        n++;
        if (i < len && s[i] == delim) {
            i++;
            continue;
        }
        *pos = i < len ? i + 1 : len;
        return n;
    }
}

static int read_csv(const char *path, const char *text, size_t len, char delim, cJSON *rows)
{
    dk_buf rec = {0};
    char **cols = NULL;
    int ncols = 0, rc = -1, err = 0;
    size_t pos = 0;
    if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) pos = 3; /* a UTF-8 byte order mark */
    for (;;) {
        size_t at = pos;
        /* blank lines are not records */
        if (pos < len && (text[pos] == '\n' || (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n'))) {
            pos += text[pos] == '\n' ? 1 : 2;
            continue;
        }
        int n = csv_record(text, len, &pos, delim, &rec, &err);
        if (n < 0) {
            if (err) dk_fail("%s: line %ld: a quoted field is never closed", path, line_of(text, pos));
            break;
        }
        if (n == 0) {
            rc = ncols ? 0 : dk_fail("%s: empty file (no header row)", path);
            break;
        }
        const char *f = rec.p;
        if (!cols) {
            cols = dk_calloc((size_t)n, sizeof *cols);
            if (!cols) break;
            ncols = n;
            for (int i = 0; i < n; i++, f += strlen(f) + 1)
                if (!(cols[i] = strdup(f))) break;
            continue;
        }
        if (n != ncols) {
            dk_fail("%s: line %ld: %d fields where the header has %d", path, line_of(text, at), n, ncols);
            break;
        }
        cJSON *row = cJSON_CreateObject();
        if (!row || !cJSON_AddItemToArray(rows, row)) break;
        for (int i = 0; i < n; i++, f += strlen(f) + 1) cJSON_AddStringToObject(row, cols[i], f);
    }
    for (int i = 0; i < ncols; i++) free(cols[i]);
    free(cols);
    dk_buf_free(&rec);
    return rc;
}

static int read_jsonl(const char *path, const char *text, size_t len, bool lines, cJSON *rows)
{
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - pos;
        if (n && text[pos + n - 1] == '\r') n--;
        cJSON *row = NULL;
        if (lines) {
            row = cJSON_CreateObject();
            char *line = strndup(text + pos, n);
            if (!row || !line || !cJSON_AddStringToObject(row, "text", line)) {
                free(line);
                cJSON_Delete(row);
                return dk_fail("%s: out of memory", path);
            }
            free(line);
        } else {
            size_t k = 0;
            while (k < n && (text[pos + k] == ' ' || text[pos + k] == '\t')) k++;
            if (k == n) { /* blank */
                pos = end + 1;
                continue;
            }
            row = cJSON_ParseWithLength(text + pos, n);
            if (!cJSON_IsObject(row)) {
                cJSON_Delete(row);
                return dk_fail("%s: line %ld: not a JSON object", path, line_of(text, pos));
            }
        }
        cJSON_AddItemToArray(rows, row);
        pos = end + 1;
    }
    return 0;
}

/* The array of objects at the top level or under `key`, detached from its document. */
static cJSON *read_json(const char *path, const char *text, size_t len, const char *key)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!doc) {
        dk_fail("%s: line %ld: invalid JSON", path, line_of(text, end ? (size_t)(end - text) : 0));
        return NULL;
    }
    cJSON *arr = key ? cJSON_DetachItemFromObjectCaseSensitive(doc, key) : doc;
    if (arr != doc) cJSON_Delete(doc);
    if (!cJSON_IsArray(arr)) {
        dk_fail("%s: %s%s%s is not an array of objects", path, key ? "\"" : "the top level", key ? key : "", key ? "\"" : "");
        cJSON_Delete(arr);
        return NULL;
    }
    int i = 0;
    for (cJSON *r = arr->child; r; r = r->next, i++)
        if (!cJSON_IsObject(r)) {
            dk_fail("%s: item %d is not an object", path, i);
            cJSON_Delete(arr);
            return NULL;
        }
    return arr;
}

int dk_table_read(const char *path, const char *format, const char *key, cJSON **out)
{
    char *text;
    size_t len;
    if (dk_read_file(path, &text, &len)) return -1;
    int rc = 0;
    size_t bad = dk_utf8_valid(text, len);
    if (bad < len) rc = dk_fail("%s: line %ld: invalid UTF-8 at byte %zu", path, line_of(text, bad), bad);
    bool json = !strcmp(format, "json");
    cJSON *rows = rc ? NULL : json ? read_json(path, text, len, key) : cJSON_CreateArray();
    if (!rc && !rows) rc = json ? -1 : dk_fail("%s: out of memory", path);
    if (!rc && !json) {
        if (!strcmp(format, "csv") || !strcmp(format, "tsv")) rc = read_csv(path, text, len, format[0] == 't' ? '\t' : ',', rows);
        else if (!strcmp(format, "jsonl") || !strcmp(format, "lines")) rc = read_jsonl(path, text, len, format[0] == 'l', rows);
        else rc = dk_fail("%s: unknown format \"%s\" (csv, tsv, jsonl, json or lines)", path, format);
    }
    free(text);
    if (rc) {
        cJSON_Delete(rows);
        return -1;
    }
    *out = rows;
    return 0;
}
