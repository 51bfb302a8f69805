/* JSON through cJSON, with loaders whose errors name the file and field. */
#ifndef DK_JSON_H
#define DK_JSON_H

#include <cjson/cJSON.h>

/* Parses a JSON file; on failure the message names the file and the byte offset. */
int dk_json_read_file(const char *path, cJSON **out);
/* Pretty-prints a JSON value to path atomically. */
int dk_json_write_file(const char *path, const cJSON *json);

/* A typed field table: one description of a struct's keys serves the JSON
 * loader, the JSON writer and the command-line parser alike. */
typedef enum { DK_FIELD_INT, DK_FIELD_I64, DK_FIELD_FLOAT, DK_FIELD_DOUBLE, DK_FIELD_BOOL, DK_FIELD_STRING } dk_field_type;

typedef struct {
    const char *name;   /* JSON key, e.g. "hidden_size"; the flag is --hidden-size */
    dk_field_type type;
    size_t offset;      /* offsetof(struct, member) */
    const char *help;
} dk_field;

/* Sets every field of `obj` named in the table from the JSON object; a key
 * of the wrong type is an error naming `source` and the key. Unknown keys are ignored. */
int dk_fields_from_json(const dk_field *fields, void *obj, const cJSON *json, const char *source);
/* Adds every field in the table to a JSON object. */
void dk_fields_to_json(const dk_field *fields, const void *obj, cJSON *json);
/* Parses one textual value (from a flag) into a field. */
int dk_field_parse(const dk_field *f, void *obj, const char *text);
const dk_field *dk_field_find(const dk_field *fields, const char *name);

#endif
