/* Chat JSONL: reading conversations, and turning question/answer tables into them. */
#include "dokja/chat_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/docs.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"

static const char *const role_names[] = {"system", "user", "assistant"};

/* One line's conversation; errors name path:line and the field. */
static int parse_chat(const cJSON *j, dk_chat *c, const char *path, int64_t line)
{
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0)
        return dk_fail("%s:%lld: \"messages\" must be a non-empty array", path, (long long)line);
    c->n = cJSON_GetArraySize(msgs);
    c->msgs = dk_calloc((size_t)c->n, sizeof *c->msgs);
    if (!c->msgs) return -1;
    bool assistant = false;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role"), *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        int r = -1;
        for (int k = 0; cJSON_IsString(role) && k < 3; k++)
            if (!strcmp(role->valuestring, role_names[k])) r = k;
        if (r < 0)
            return dk_fail("%s:%lld: message %d: \"role\" must be \"system\", \"user\" or \"assistant\"", path, (long long)line,
                           i + 1);
        if (!cJSON_IsString(content))
            return dk_fail("%s:%lld: message %d: \"content\" must be a string", path, (long long)line, i + 1);
        c->msgs[i].role = (dk_role)r;
        if (!(c->msgs[i].content = strdup(content->valuestring))) return dk_fail("out of memory");
        assistant |= r == DK_ROLE_ASSISTANT;
        i++;
    }
    if (!assistant) return dk_fail("%s:%lld: the conversation has no assistant turn to learn from", path, (long long)line);
    return 0;
}

static void chat_free(dk_chat *c)
{
    for (int i = 0; c->msgs && i < c->n; i++) free(c->msgs[i].content);
    free(c->msgs);
    c->msgs = NULL;
    c->n = 0;
}

int dk_chat_read(const char *path, dk_chat **chats, int64_t *n)
{
    char *text;
    size_t len;
    if (dk_read_file(path, &text, &len)) return -1;
    dk_chat *out = NULL;
    int64_t count = 0, cap = 0, line = 0;
    int rc = 0;
    for (char *p = text, *next; !rc && p < text + len; p = next) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        next = nl ? nl + 1 : text + len;
        line++;
        size_t n = (size_t)((nl ? nl : text + len) - p);
        while (n && (p[n - 1] == '\r' || p[n - 1] == ' ')) n--;
        if (n == 0) continue;
        cJSON *j = cJSON_ParseWithLength(p, n);
        if (!cJSON_IsObject(j)) rc = dk_fail("%s:%lld: not a JSON object", path, (long long)line);
        if (!rc && count == cap) {
            cap = cap ? 2 * cap : 256;
            dk_chat *grown = realloc(out, sizeof *out * (size_t)cap);
            if (!grown) rc = dk_fail("out of memory");
            else out = grown;
        }
        if (!rc) {
            memset(&out[count], 0, sizeof *out);
            rc = parse_chat(j, &out[count], path, line);
            if (rc) chat_free(&out[count]);
            else count++;
        }
        cJSON_Delete(j);
    }
    free(text);
    if (!rc && count == 0) rc = dk_fail("%s: no conversations", path);
    if (rc) {
        dk_chats_free(out, count);
        return -1;
    }
    *chats = out;
    *n = count;
    return 0;
}

void dk_chats_free(dk_chat *chats, int64_t n)
{
    for (int64_t i = 0; chats && i < n; i++) chat_free(&chats[i]);
    free(chats);
}

bool dk_is_test_split(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *p = base; (p = strstr(p, "test")); p += 4) {
        bool before = p == base || strchr("-_.", p[-1]), after = !p[4] || strchr("-_.", p[4]);
        if (before && after) return true;
    }
    return false;
}

static void add_message(cJSON *msgs, const char *role, const char *content)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

int64_t dk_chat_convert(char *const *inputs, int ninputs, const char *question_field, const char *answer_field,
                        const char *system, const char *out_path)
{
    for (int i = 0; i < ninputs; i++)
        if (dk_is_test_split(inputs[i]))
            return dk_fail("%s: this is a test split; test rows are for evaluation only and are never trained on", inputs[i]);
    dk_docs_options o = {.text_field = question_field, .strict = true};
    dk_docs *d;
    if (dk_docs_open(&d, inputs, ninputs, &o)) return -1;
    dk_afile f;
    if (dk_afile_open(&f, out_path)) {
        dk_docs_close(d);
        return -1;
    }
    int64_t written = 0;
    int rc = 0, got;
    dk_doc doc;
    while (!rc && (got = dk_docs_next(d, &doc)) == 1) {
        const cJSON *a = doc.meta ? cJSON_GetObjectItemCaseSensitive(doc.meta, answer_field) : NULL;
        if (!cJSON_IsString(a)) {
            rc = dk_fail("%s:%lld: no string field \"%s\"", doc.path, (long long)doc.line, answer_field);
            break;
        }
        cJSON *j = cJSON_CreateObject(), *msgs = cJSON_AddArrayToObject(j, "messages");
        if (system && *system) add_message(msgs, "system", system);
        add_message(msgs, "user", doc.text);
        add_message(msgs, "assistant", a->valuestring);
        char *line = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        rc = line ? dk_afile_write(&f, line, strlen(line)) : dk_fail("out of memory");
        if (!rc) rc = dk_afile_write(&f, "\n", 1);
        free(line);
        written++;
    }
    if (!rc && got < 0) rc = -1;
    if (!rc && written == 0) rc = dk_fail("no question/answer records in the inputs");
    dk_docs_close(d);
    if (rc) {
        dk_afile_abort(&f);
        return -1;
    }
    return dk_afile_commit(&f) ? -1 : written;
}
