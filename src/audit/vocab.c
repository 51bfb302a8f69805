/* Vocabularies of HF tokenizer.json files, matched by token string. */
#include <stdlib.h>
#include <string.h>

#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/io.h"

#define MAX_VOCAB (1 << 24)

static int set_token(dk_vocab *v, double id, const char *text, const char *path)
{
    if (id < 0 || id >= MAX_VOCAB || id != (int)id) return dk_fail("%s: token \"%.40s\" has an invalid id", path, text);
    int i = (int)id;
    if (i >= v->size) {
        int cap = i + 1;
        char **grown = realloc(v->token, sizeof *grown * (size_t)cap);
        if (!grown) return dk_fail("%s: out of memory", path);
        memset(grown + v->size, 0, sizeof *grown * (size_t)(cap - v->size));
        v->token = grown;
        v->size = cap;
    }
    if (v->token[i]) return 0; /* an added token repeating a vocabulary entry */
    v->token[i] = dk_strdupf("%s", text);
    v->count++;
    return v->token[i] ? 0 : -1;
}

static int load_merges(dk_vocab *v, const cJSON *merges, const char *path)
{
    if (!merges) return 0;
    if (!cJSON_IsArray(merges)) return dk_fail("%s: field \"model.merges\": expected an array", path);
    v->merges = dk_calloc((size_t)cJSON_GetArraySize(merges) + 1, sizeof *v->merges);
    if (!v->merges) return -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges)
    {
        /* "a b" (older files) or ["a", "b"] (newer ones): both become "a b". */
        const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
        char *text = cJSON_IsString(m)                                ? dk_strdupf("%s", m->valuestring)
                     : cJSON_IsString(a) && cJSON_IsString(b)         ? dk_strdupf("%s %s", a->valuestring, b->valuestring)
                                                                      : NULL;
        if (!text) return dk_fail("%s: model.merges[%d]: expected \"a b\" or [\"a\", \"b\"]", path, v->nmerges);
        v->merges[v->nmerges++] = text;
    }
    return 0;
}

int dk_vocab_load(dk_vocab *v, const char *path)
{
    memset(v, 0, sizeof *v);
    cJSON *j;
    if (dk_json_read_file(path, &j)) return -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    int rc = 0, id = 0;
    const cJSON *e;
    if (cJSON_IsObject(vocab)) {
        cJSON_ArrayForEach(e, vocab)
        {
            if (!cJSON_IsNumber(e)) rc = dk_fail("%s: model.vocab[\"%.40s\"]: expected an id", path, e->string);
            if (!rc) rc = set_token(v, e->valuedouble, e->string, path);
            if (rc) break;
        }
    } else if (cJSON_IsArray(vocab)) { /* Unigram: [token, score] in id order */
        cJSON_ArrayForEach(e, vocab)
        {
            const cJSON *t = cJSON_GetArrayItem(e, 0);
            if (!cJSON_IsString(t)) rc = dk_fail("%s: model.vocab[%d]: expected [token, score]", path, id);
            if (!rc) rc = set_token(v, id++, t->valuestring, path);
            if (rc) break;
        }
    } else
        rc = dk_fail("%s: field \"model.vocab\": expected an object or an array", path);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    cJSON_ArrayForEach(e, added)
    {
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(e, "id"), *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (rc) break;
        if (!cJSON_IsNumber(tid) || !cJSON_IsString(content))
            rc = dk_fail("%s: added_tokens: every entry needs \"id\" and \"content\"", path);
        else rc = set_token(v, tid->valuedouble, content->valuestring, path);
    }
    if (!rc) rc = load_merges(v, cJSON_GetObjectItemCaseSensitive(model, "merges"), path);
    cJSON_Delete(j);
    if (rc) dk_vocab_free(v);
    return rc;
}

void dk_vocab_free(dk_vocab *v)
{
    for (int i = 0; i < v->size; i++) free(v->token[i]);
    for (int i = 0; i < v->nmerges; i++) free(v->merges[i]);
    free(v->token);
    free(v->merges);
    memset(v, 0, sizeof *v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    const char *text;
    int id;
} entry;

static int cmp_entry(const void *a, const void *b) { return strcmp(((const entry *)a)->text, ((const entry *)b)->text); }

/* The (text, id) pairs of ids below limit, sorted by text. */
static entry *sorted_entries(const dk_vocab *v, int limit, int *n)
{
    entry *e = dk_malloc(sizeof *e * (size_t)(v->count + 1));
    *n = 0;
    for (int i = 0; e && i < v->size && i < limit; i++)
        if (v->token[i]) e[(*n)++] = (entry){v->token[i], i};
    if (e) qsort(e, (size_t)*n, sizeof *e, cmp_entry);
    return e;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int dk_vocab_match(const dk_vocab *a, const dk_vocab *b, int limit_a, int limit_b, int **ids_a, int **ids_b, int *count)
{
    int na, nb;
    entry *ea = sorted_entries(a, limit_a, &na), *eb = sorted_entries(b, limit_b, &nb);
    int *pairs = dk_malloc(sizeof *pairs * 2 * (size_t)(na + 1));
    *count = 0;
    for (int i = 0, j = 0; ea && eb && pairs && i < na && j < nb;) {
        int c = strcmp(ea[i].text, eb[j].text);
        if (c == 0) pairs[2 * *count] = ea[i].id, pairs[2 * *count + 1] = eb[j].id, (*count)++;
        i += c <= 0;
        j += c >= 0;
    }
    *ids_a = dk_malloc(sizeof **ids_a * (size_t)(*count + 1));
    *ids_b = dk_malloc(sizeof **ids_b * (size_t)(*count + 1));
    int rc = ea && eb && pairs && *ids_a && *ids_b ? 0 : -1;
    if (!rc) {
        qsort(pairs, (size_t)*count, 2 * sizeof *pairs, cmp_int);
        for (int k = 0; k < *count; k++) (*ids_a)[k] = pairs[2 * k], (*ids_b)[k] = pairs[2 * k + 1];
    }
    free(ea), free(eb), free(pairs);
    return rc;
}

int dk_vocab_shared_merges(const dk_vocab *a, const dk_vocab *b)
{
    char **sa = dk_malloc(sizeof *sa * (size_t)(a->nmerges + 1)), **sb = dk_malloc(sizeof *sb * (size_t)(b->nmerges + 1));
    int shared = 0;
    if (sa && sb) {
        if (a->nmerges) memcpy(sa, a->merges, sizeof *sa * (size_t)a->nmerges);
        if (b->nmerges) memcpy(sb, b->merges, sizeof *sb * (size_t)b->nmerges);
        qsort(sa, (size_t)a->nmerges, sizeof *sa, cmp_str);
        qsort(sb, (size_t)b->nmerges, sizeof *sb, cmp_str);
        for (int i = 0, j = 0; i < a->nmerges && j < b->nmerges;) {
            int c = strcmp(sa[i], sb[j]);
            shared += c == 0;
            i += c <= 0;
            j += c >= 0;
        }
    }
    free(sa);
    free(sb);
    return shared;
}
