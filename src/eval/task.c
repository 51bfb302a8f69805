/* Task specs: tasks/<name>.json, checked whole when loaded so that a typo in
 * a key or a template fails before any model runs. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"
#include "dokja/sha256.h"

static const char *const spec_keys[] = {
    "kind", "description", "citation", "rows", "fewshot", "header", "prompt", "choices", "gold", "gold_base",
    "fewshot_target", "text", "target_delimiter", "fewshot_delimiter", "stop", "max_tokens", "answer_pattern",
    "ignore", "ignore_case", "metrics", "random_baseline", NULL};
static const char *const source_keys[] = {"path", "format", "key", "columns", "k", "sampler", NULL};

static bool known(const char *const *keys, const char *k)
{
    for (; *keys; keys++)
        if (!strcmp(*keys, k)) return true;
    return false;
}

/* A string member, or NULL when absent; anything else is an error. */
static int get_str(const cJSON *o, const char *key, const char *file, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v)) return dk_fail("%s: \"%s\" must be a string", file, key);
    *out = v->valuestring;
    return 0;
}

static int get_int(const cJSON *o, const char *key, const char *file, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble)
        return dk_fail("%s: \"%s\" must be an integer", file, key);
    *out = v->valueint;
    return 0;
}

static int check_template(const char *tmpl, const char *file, const char *key)
{
    char *where = dk_strdupf("%s: \"%s\"", file, key), *out = NULL;
    int rc = where ? dk_template_render(tmpl, NULL, where, &out) : -1;
    free(out);
    free(where);
    return rc;
}

/* An array of strings; each a valid template when `templates`. */
static int check_strings(const cJSON *a, const char *file, const char *key, bool templates, bool nonempty)
{
    if (!a) return 0;
    if (!cJSON_IsArray(a) || (nonempty && !cJSON_GetArraySize(a))) return dk_fail("%s: \"%s\" must be a%s array of strings", file, key, nonempty ? " non-empty" : "n");
    for (const cJSON *c = a->child; c; c = c->next)
        if (!cJSON_IsString(c)) return dk_fail("%s: \"%s\" must hold strings only", file, key);
        else if (templates && check_template(c->valuestring, file, key)) return -1;
    return 0;
}

static const char *format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot) return "lines";
    if (!strcmp(dot, ".csv")) return "csv";
    if (!strcmp(dot, ".tsv")) return "tsv";
    if (!strcmp(dot, ".jsonl")) return "jsonl";
    if (!strcmp(dot, ".json")) return "json";
    return "lines";
}

static int load_source(const cJSON *o, const char *file, const char *what, dk_task_source *src)
{
    if (!cJSON_IsObject(o)) return dk_fail("%s: \"%s\" must be an object with \"path\"", file, what);
    for (const cJSON *c = o->child; c; c = c->next)
        if (!known(source_keys, c->string)) return dk_fail("%s: \"%s\": unknown key \"%s\"", file, what, c->string);
    const char *path, *format, *key;
    if (get_str(o, "path", file, &path) || get_str(o, "format", file, &format) || get_str(o, "key", file, &key)) return -1;
    if (!path || !*path) return dk_fail("%s: \"%s\" needs a \"path\" under the data directory", file, what);
    if (!format) format = format_of(path);
    if (strcmp(format, "csv") && strcmp(format, "tsv") && strcmp(format, "jsonl") && strcmp(format, "json") && strcmp(format, "lines"))
        return dk_fail("%s: \"%s\": unknown format \"%s\" (csv, tsv, jsonl, json or lines)", file, what, format);
    src->columns = cJSON_GetObjectItemCaseSensitive(o, "columns");
    for (const cJSON *c = src->columns ? src->columns->child : NULL; c; c = c->next)
        if (!cJSON_IsString(c)) return dk_fail("%s: \"%s\": \"columns\" maps field names to file paths", file, what);
    if (src->columns && !cJSON_IsObject(src->columns)) return dk_fail("%s: \"%s\": \"columns\" must be an object", file, what);
    src->path = strdup(path);
    src->format = strdup(format);
    src->key = key ? strdup(key) : NULL;
    if (!src->path || !src->format || (key && !src->key)) return dk_fail("out of memory");
    return 0;
}

/* Which file a name stands for, and the subject after the spec's name. */
static int resolve(const char *tasks_dir, const char *name, char **file, char **subject)
{
    *subject = NULL;
    size_t n = strlen(name);
    if (strchr(name, '/') || (n > 5 && !strcmp(name + n - 5, ".json"))) {
        *file = strdup(name);
        return *file ? 0 : dk_fail("out of memory");
    }
    /* the whole name, then shorter prefixes ending before a '_' */
    for (size_t len = n; len > 0; len--) {
        if (len < n && name[len] != '_') continue;
        char *f = dk_strdupf("%s/%.*s.json", tasks_dir, (int)len, name);
        if (!f) return -1;
        if (dk_path_exists(f)) {
            *file = f;
            if (len < n && !(*subject = strdup(name + len + 1))) return dk_fail("out of memory");
            return 0;
        }
        free(f);
    }
    return dk_fail("no task \"%s\": no %s/%s.json (dokja eval --list shows the tasks)", name, tasks_dir, name);
}

static int load_spec(dk_task *t)
{
    const char *f = t->file, *kind, *s;
    cJSON *j = t->spec;
    if (!cJSON_IsObject(j)) return dk_fail("%s: a task spec is a JSON object", f);
    if (cJSON_GetObjectItemCaseSensitive(j, "group")) return dk_fail("%s: a group of tasks, not one task", f);
    for (const cJSON *c = j->child; c; c = c->next)
        if (!known(spec_keys, c->string)) return dk_fail("%s: unknown key \"%s\"", f, c->string);
    if (get_str(j, "kind", f, &kind)) return -1;
    if (!kind) return dk_fail("%s: \"kind\" is missing (mc, gen or bpb)", f);
    if (!strcmp(kind, "mc")) t->kind = DK_TASK_MC;
    else if (!strcmp(kind, "gen")) t->kind = DK_TASK_GEN;
    else if (!strcmp(kind, "bpb")) t->kind = DK_TASK_BPB;
    else return dk_fail("%s: \"kind\": \"%s\" is not mc, gen or bpb", f, kind);
    if (load_source(cJSON_GetObjectItemCaseSensitive(j, "rows"), f, "rows", &t->rows)) return -1;
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(j, "fewshot");
    if (fs) {
        if (load_source(fs, f, "fewshot", &t->fewshot) || get_int(fs, "k", f, &t->k) || get_str(fs, "sampler", f, &s)) return -1;
        if (t->k < 0) return dk_fail("%s: \"fewshot\": \"k\" must be >= 0", f);
        if (s && strcmp(s, "first") && strcmp(s, "random")) return dk_fail("%s: \"fewshot\": \"sampler\" is first or random", f);
        t->has_fewshot = true;
        t->fewshot_first = s && !strcmp(s, "first");
    }
    if (t->subject && !strstr(t->rows.path, "{subject}")) return dk_fail("%s: no subjects (its rows have no {subject}), so \"%s\" is not a task", f, t->name);
    struct {
        const char *key;
        const char **dst;
        bool needed;
    } tmpl[] = {
        {"header", &t->header, false},
        {"prompt", &t->prompt, t->kind != DK_TASK_BPB},
        {"gold", &t->gold, t->kind != DK_TASK_BPB},
        {"fewshot_target", &t->fewshot_target, false},
        {"text", &t->text, t->kind == DK_TASK_BPB},
        {"answer_pattern", &t->answer_pattern, false},
    };
    for (size_t i = 0; i < sizeof tmpl / sizeof *tmpl; i++) {
        if (get_str(j, tmpl[i].key, f, tmpl[i].dst)) return -1;
        if (!*tmpl[i].dst && tmpl[i].needed) return dk_fail("%s: \"%s\" is missing", f, tmpl[i].key);
        if (*tmpl[i].dst && strcmp(tmpl[i].key, "answer_pattern") && check_template(*tmpl[i].dst, f, tmpl[i].key)) return -1;
    }
    t->target_delimiter = " ";
    t->fewshot_delimiter = "\n\n";
    if (get_str(j, "target_delimiter", f, &s)) return -1;
    if (s) t->target_delimiter = s;
    if (get_str(j, "fewshot_delimiter", f, &s)) return -1;
    if (s) t->fewshot_delimiter = s;
    t->choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (t->kind == DK_TASK_MC && !t->choices) return dk_fail("%s: \"choices\" is missing (a list of templates)", f);
    if (check_strings(t->choices, f, "choices", true, true)) return -1;
    t->gold_base = 0;
    t->gold_is_index = cJSON_GetObjectItemCaseSensitive(j, "gold_base") != NULL;
    if (get_int(j, "gold_base", f, &t->gold_base)) return -1;
    t->stop = cJSON_GetObjectItemCaseSensitive(j, "stop");
    t->ignore = cJSON_GetObjectItemCaseSensitive(j, "ignore");
    if (check_strings(t->stop, f, "stop", false, false) || check_strings(t->ignore, f, "ignore", false, false)) return -1;
    t->max_tokens = 256;
    if (get_int(j, "max_tokens", f, &t->max_tokens)) return -1;
    if (t->max_tokens < 1) return dk_fail("%s: \"max_tokens\" must be >= 1", f);
    const cJSON *ic = cJSON_GetObjectItemCaseSensitive(j, "ignore_case"), *rb = cJSON_GetObjectItemCaseSensitive(j, "random_baseline");
    if (ic && !cJSON_IsBool(ic)) return dk_fail("%s: \"ignore_case\" must be true or false", f);
    t->ignore_case = cJSON_IsTrue(ic);
    if (rb && !cJSON_IsNumber(rb)) return dk_fail("%s: \"random_baseline\" must be a number", f);
    t->baseline = rb ? rb->valuedouble : -1;
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(j, "metrics");
    if (check_strings(metrics, f, "metrics", false, true)) return -1;
    for (const cJSON *m = metrics ? metrics->child : NULL; m; m = m->next) {
        const char *ok = t->kind == DK_TASK_MC ? " acc acc_norm " : t->kind == DK_TASK_GEN ? " exact_match f1 " : " bpb ";
        char pad[64];
        snprintf(pad, sizeof pad, " %s ", m->valuestring);
        if (!strstr(ok, pad)) return dk_fail("%s: \"metrics\": \"%s\" is not one of%s", f, m->valuestring, ok);
    }
    return 0;
}

int dk_task_load(dk_task *t, const char *tasks_dir, const char *name)
{
    memset(t, 0, sizeof *t);
    if (resolve(tasks_dir, name, &t->file, &t->subject)) return -1;
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t bl = strlen(base);
    t->name = strndup(base, bl > 5 && !strcmp(base + bl - 5, ".json") ? bl - 5 : bl);
    if (!t->name || dk_sha256_file(t->file, t->sha256) || dk_json_read_file(t->file, &t->spec) || load_spec(t)) {
        dk_task_free(t);
        return -1;
    }
    return 0;
}

static void free_source(dk_task_source *s)
{
    free(s->path);
    free(s->format);
    free(s->key);
}

void dk_task_free(dk_task *t)
{
    free(t->name);
    free(t->file);
    free(t->subject);
    free_source(&t->rows);
    free_source(&t->fewshot);
    cJSON_Delete(t->spec);
    memset(t, 0, sizeof *t);
}

static int add_name(char ***names, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) return 0;
    char **g = realloc(*names, sizeof **names * (size_t)(*n + 1));
    if (!g) return dk_fail("out of memory");
    *names = g;
    return (g[*n] = strdup(name)) ? ((*n)++, 0) : dk_fail("out of memory");
}

static int expand(const char *tasks_dir, const char *name, int depth, char ***names, int *n)
{
    char *file, *subject;
    if (depth > 8) return dk_fail("task group \"%s\": groups nest too deep (a cycle?)", name);
    if (resolve(tasks_dir, name, &file, &subject)) return -1;
    cJSON *spec = NULL;
    int rc = dk_json_read_file(file, &spec);
    const cJSON *group = rc ? NULL : cJSON_GetObjectItemCaseSensitive(spec, "group");
    if (!rc && group && subject) rc = dk_fail("no task \"%s\" (%s is a group of tasks, without subjects)", name, file);
    if (!rc && group) rc = check_strings(group, file, "group", false, true);
    for (const cJSON *g = group ? group->child : NULL; !rc && g; g = g->next) rc = expand(tasks_dir, g->valuestring, depth + 1, names, n);
    if (!rc && !group) rc = add_name(names, n, name);
    cJSON_Delete(spec);
    free(file);
    free(subject);
    return rc;
}

int dk_task_names(const char *tasks_dir, const char *list, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    char *copy = strdup(list);
    if (!copy) return dk_fail("out of memory");
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save))
        if (*tok) rc = expand(tasks_dir, tok, 0, names, n);
    free(copy);
    if (!rc && !*n) rc = dk_fail("--tasks: no task named");
    return rc;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int dk_task_list(const char *tasks_dir, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(tasks_dir);
    if (!d) return dk_fail("%s: cannot open the tasks directory", tasks_dir);
    int rc = 0;
    for (struct dirent *e; !rc && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l <= 5 || strcmp(e->d_name + l - 5, ".json")) continue;
        char *name = strndup(e->d_name, l - 5);
        rc = name ? add_name(names, n, name) : dk_fail("out of memory");
        free(name);
    }
    closedir(d);
    if (!rc) qsort(*names, (size_t)*n, sizeof **names, by_name);
    return rc;
}
