#include "dokja/json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"

int dk_json_read_file(const char *path, cJSON **out)
{
    char *text;
    size_t len;
    if (dk_read_file(path, &text, &len)) return -1;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!json) {
        size_t at = end ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < at && i < len; i++) line += text[i] == '\n';
        free(text);
        return dk_fail("%s: line %zu: invalid JSON", path, line);
    }
    free(text);
    *out = json;
    return 0;
}

int dk_json_write_file(const char *path, const cJSON *json)
{
    char *text = cJSON_Print(json);
    if (!text) return dk_fail("%s: cannot serialise JSON", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* cJSON's buffer has room: we replace the NUL and write n+1 bytes */
    int rc = dk_write_file_atomic(path, text, n + 1);
    free(text);
    return rc;
}

#define FIELD_PTR(obj, f, type) ((type *)((char *)(obj) + (f)->offset))

static int set_number(const dk_field *f, void *obj, double v, const char *source)
{
    switch (f->type) {
    case DK_FIELD_INT:
        if (v != floor(v) || v < INT_MIN || v > INT_MAX) return dk_fail("%s: field \"%s\": expected an integer", source, f->name);
        *FIELD_PTR(obj, f, int) = (int)v;
        return 0;
    case DK_FIELD_I64:
        if (v != floor(v) || fabs(v) > 9.007199254740992e15) return dk_fail("%s: field \"%s\": expected an integer", source, f->name);
        *FIELD_PTR(obj, f, int64_t) = (int64_t)v;
        return 0;
    case DK_FIELD_FLOAT: *FIELD_PTR(obj, f, float) = (float)v; return 0;
    case DK_FIELD_DOUBLE: *FIELD_PTR(obj, f, double) = v; return 0;
    default: return dk_fail("%s: field \"%s\": expected %s", source, f->name, f->type == DK_FIELD_BOOL ? "true or false" : "a string");
    }
}

int dk_fields_from_json(const dk_field *fields, void *obj, const cJSON *json, const char *source)
{
    if (!cJSON_IsObject(json)) return dk_fail("%s: expected a JSON object", source);
    for (const dk_field *f = fields; f->name; f++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, f->name);
        if (!item || cJSON_IsNull(item)) continue;
        if (f->type == DK_FIELD_BOOL) {
            if (!cJSON_IsBool(item)) return dk_fail("%s: field \"%s\": expected true or false", source, f->name);
            *FIELD_PTR(obj, f, bool) = cJSON_IsTrue(item);
        } else if (f->type == DK_FIELD_STRING) {
            if (!cJSON_IsString(item)) return dk_fail("%s: field \"%s\": expected a string", source, f->name);
            char *s = dk_strdupf("%s", item->valuestring);
            if (!s) return -1;
            free(*FIELD_PTR(obj, f, char *));
            *FIELD_PTR(obj, f, char *) = s;
        } else {
            if (!cJSON_IsNumber(item)) return dk_fail("%s: field \"%s\": expected a number", source, f->name);
            if (set_number(f, obj, item->valuedouble, source)) return -1;
        }
    }
    return 0;
}

void dk_fields_to_json(const dk_field *fields, const void *obj, cJSON *json)
{
    for (const dk_field *f = fields; f->name; f++) {
        switch (f->type) {
        case DK_FIELD_INT: cJSON_AddNumberToObject(json, f->name, *FIELD_PTR(obj, f, const int)); break;
        case DK_FIELD_I64: cJSON_AddNumberToObject(json, f->name, (double)*FIELD_PTR(obj, f, const int64_t)); break;
        case DK_FIELD_FLOAT: cJSON_AddNumberToObject(json, f->name, *FIELD_PTR(obj, f, const float)); break;
        case DK_FIELD_DOUBLE: cJSON_AddNumberToObject(json, f->name, *FIELD_PTR(obj, f, const double)); break;
        case DK_FIELD_BOOL: cJSON_AddBoolToObject(json, f->name, *FIELD_PTR(obj, f, const bool)); break;
        case DK_FIELD_STRING: {
            const char *s = *FIELD_PTR(obj, f, char *const);
            if (s) cJSON_AddStringToObject(json, f->name, s);
            else cJSON_AddNullToObject(json, f->name);
            break;
        }
        }
    }
}

int dk_field_parse(const dk_field *f, void *obj, const char *text)
{
    if (f->type == DK_FIELD_STRING) {
        char *s = dk_strdupf("%s", text);
        if (!s) return -1;
        free(*FIELD_PTR(obj, f, char *));
        *FIELD_PTR(obj, f, char *) = s;
        return 0;
    }
    if (f->type == DK_FIELD_BOOL) {
        if (!strcmp(text, "true") || !strcmp(text, "1")) *FIELD_PTR(obj, f, bool) = true;
        else if (!strcmp(text, "false") || !strcmp(text, "0")) *FIELD_PTR(obj, f, bool) = false;
        else return dk_fail("--%s: expected true or false, got \"%s\"", f->name, text);
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(v)) return dk_fail("--%s: expected a number, got \"%s\"", f->name, text);
    return set_number(f, obj, v, "command line");
}

const dk_field *dk_field_find(const dk_field *fields, const char *name)
{
    for (const dk_field *f = fields; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}
