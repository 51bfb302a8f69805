/* From a spec and its files to rendered items: subjects found by the
 * {subject} in the rows' file name, side columns joined by line, few-shot
 * examples drawn per row, prompts, choices and gold answers rendered. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"
#include "dokja/rng.h"

/* "Real-Estate", "real_estate" and "real estate" name the same subject. */
static bool same_subject(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a == '-' || *a == ' ' ? '_' : (char)tolower((unsigned char)*a);
        char y = *b == '-' || *b == ' ' ? '_' : (char)tolower((unsigned char)*b);
        if (x != y) return false;
        if (!x) return true;
    }
}

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The subjects a "{subject}" in the file name of the rows' path matches. */
static int find_subjects(const dk_task *t, const char *data_dir, dk_eval_set *s)
{
    const char *ph = strstr(t->rows.path, "{subject}"), *slash = strrchr(t->rows.path, '/');
    if (!ph) {
        s->subjects = dk_calloc(1, sizeof *s->subjects);
        if (!s->subjects || !(s->subjects[0] = strdup(""))) return -1;
        s->nsubjects = 1;
        return 0;
    }
    if (slash && slash > ph) return dk_fail("%s: \"rows\": {subject} may only be in the file name", t->file);
    const char *name = slash ? slash + 1 : t->rows.path, *suffix = ph + strlen("{subject}");
    size_t plen = (size_t)(ph - name), slen = strlen(suffix);
    char *dir = slash ? dk_strdupf("%s/%.*s", data_dir, (int)(slash - t->rows.path), t->rows.path) : strdup(data_dir);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        int rc = dir ? dk_fail("%s: cannot open %s (%s); is --data-dir right?", t->file, dir, strerror(errno)) : -1;
        free(dir);
        return rc;
    }
    int cap = 0, rc = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l <= plen + slen || strncmp(e->d_name, name, plen) || strcmp(e->d_name + l - slen, suffix)) continue;
        char *sub = strndup(e->d_name + plen, l - plen - slen);
        if (!sub || (t->subject && !same_subject(sub, t->subject))) {
            free(sub);
            continue;
        }
        if (s->nsubjects == cap) {
            char **g = realloc(s->subjects, sizeof *g * (size_t)(cap = cap ? 2 * cap : 64));
            if (!g) {
                free(sub);
                rc = dk_fail("out of memory");
                break;
            }
            s->subjects = g;
        }
        s->subjects[s->nsubjects++] = sub;
    }
    closedir(d);
    if (!rc && !s->nsubjects)
        rc = t->subject ? dk_fail("%s: no subject \"%s\" (no file %s%s%s in %s)", t->file, t->subject, name, "", "", dir)
                        : dk_fail("%s: no file matches %s in %s", t->file, name, dir);
    if (!rc) qsort(s->subjects, (size_t)s->nsubjects, sizeof *s->subjects, by_str);
    free(dir);
    return rc;
}

/* path with {subject} replaced, under the data directory */
static char *source_path(const char *data_dir, const char *path, const char *subject)
{
    const char *ph = strstr(path, "{subject}");
    if (!ph) return dk_strdupf("%s/%s", data_dir, path);
    return dk_strdupf("%s/%.*s%s%s", data_dir, (int)(ph - path), path, subject, ph + strlen("{subject}"));
}

/* The rows of a source for one subject, with its side columns joined and
 * the subject as field "_subject". */
static int read_source(const dk_task_source *src, const char *data_dir, const char *subject, char **path_out, cJSON **rows)
{
    char *path = source_path(data_dir, src->path, subject);
    if (!path || dk_table_read(path, src->format, src->key, rows)) {
        free(path);
        return -1;
    }
    int n = cJSON_GetArraySize(*rows), rc = 0;
    for (const cJSON *c = src->columns ? src->columns->child : NULL; c && !rc; c = c->next) {
        char *cp = source_path(data_dir, c->valuestring, subject);
        cJSON *lines = NULL;
        rc = !cp || dk_table_read(cp, "lines", NULL, &lines) ? -1 : 0;
        if (!rc && cJSON_GetArraySize(lines) != n)
            rc = dk_fail("%s: %d lines for the %d rows of %s", cp, cJSON_GetArraySize(lines), n, path);
        const cJSON *l = rc ? NULL : lines->child;
        for (cJSON *r = (*rows)->child; !rc && r; r = r->next, l = l->next) {
            cJSON_DeleteItemFromObjectCaseSensitive(r, c->string);
            rc = cJSON_AddStringToObject(r, c->string, cJSON_GetObjectItemCaseSensitive(l, "text")->valuestring) ? 0 : -1;
        }
        cJSON_Delete(lines);
        free(cp);
    }
    for (cJSON *r = rc ? NULL : (*rows)->child; r; r = r->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(r, "_subject");
        if (!cJSON_AddStringToObject(r, "_subject", subject)) rc = dk_fail("out of memory");
    }
    if (rc) {
        cJSON_Delete(*rows);
        *rows = NULL;
        free(path);
        return -1;
    }
    *path_out = path;
    return 0;
}

typedef struct {
    const dk_task *t;
    const char *path; /* of the row, for messages */
    int index;
} ctx;

static int render(const ctx *c, const char *tmpl, const cJSON *row, const char *key, char **out)
{
    char *where = dk_strdupf("%s: row index %d: \"%s\" of %s", c->path, c->index, key, c->t->file);
    int rc = where ? dk_template_render(tmpl, row, where, out) : -1;
    free(where);
    return rc;
}

static void free_strs(char **s, int n)
{
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

/* A multiple-choice row's choices and the index of the right one. */
static int mc_choices(const ctx *c, const cJSON *row, char ***choices, int *n, int *gold)
{
    const dk_task *t = c->t;
    *n = cJSON_GetArraySize(t->choices);
    *choices = dk_calloc((size_t)*n, sizeof **choices);
    if (!*choices) return -1;
    int i = 0, rc = 0;
    for (const cJSON *ch = t->choices->child; ch && !rc; ch = ch->next, i++) rc = render(c, ch->valuestring, row, "choices", &(*choices)[i]);
    char *g = NULL;
    if (!rc) rc = render(c, t->gold, row, "gold", &g);
    if (!rc && t->gold_is_index) {
        char *end;
        errno = 0;
        long v = strtol(g, &end, 10);
        while (*end == ' ') end++;
        if (end == g || *end || errno || v - t->gold_base < 0 || v - t->gold_base >= *n)
            rc = dk_fail("%s: row index %d: gold \"%s\" is not an index from %d to %d", c->path, c->index, g, t->gold_base, t->gold_base + *n - 1);
        *gold = (int)(v - t->gold_base);
    } else if (!rc) {
        *gold = -1;
        for (int k = 0; k < *n && *gold < 0; k++)
            if (!strcmp((*choices)[k], g)) *gold = k;
        if (*gold < 0) rc = dk_fail("%s: row index %d: gold \"%s\" is none of the choices", c->path, c->index, g);
    }
    free(g);
    if (rc) {
        free_strs(*choices, *n);
        *choices = NULL;
    }
    return rc;
}

/* A few-shot example: its prompt, the target delimiter, its answer. */
static int example(const ctx *c, const cJSON *row, dk_buf *out)
{
    const dk_task *t = c->t;
    char *p = NULL, *a = NULL, **choices = NULL;
    int n = 0, gold = 0;
    int rc = render(c, t->prompt, row, "prompt", &p);
    if (!rc && t->kind == DK_TASK_MC) {
        rc = mc_choices(c, row, &choices, &n, &gold);
        if (!rc) a = strdup(choices[gold]);
        if (!rc && !a) rc = dk_fail("out of memory");
    } else if (!rc)
        rc = render(c, t->fewshot_target ? t->fewshot_target : t->gold, row, t->fewshot_target ? "fewshot_target" : "gold", &a);
    if (!rc)
        rc = dk_buf_put(out, p, strlen(p)) || dk_buf_put(out, t->target_delimiter, strlen(t->target_delimiter)) ||
             dk_buf_put(out, a, strlen(a)) || dk_buf_put(out, t->fewshot_delimiter, strlen(t->fewshot_delimiter));
    free(p);
    free(a);
    free_strs(choices, n);
    return rc;
}

/* k distinct examples from the pool (not the row itself when the pool is
 * the row's own file): the first k, or a draw seeded by the row. */
static int pick(int pool, int self, int k, bool first, uint64_t seed, int *out)
{
    int *idx = dk_malloc(sizeof *idx * (size_t)(pool ? pool : 1)), m = 0;
    if (!idx) return -1;
    for (int i = 0; i < pool; i++)
        if (i != self) idx[m++] = i;
    if (k > m) k = m;
    dk_rng r;
    dk_rng_seed(&r, seed);
    for (int i = 0; i < k; i++) {
        int j = first ? i : i + (int)dk_rng_below(&r, (uint64_t)(m - i));
        int tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
        out[i] = idx[i];
    }
    free(idx);
    return k;
}

static int build_item(const ctx *c, const cJSON *row, const cJSON *pool, int self, int k, uint64_t seed, dk_eval_item *it)
{
    const dk_task *t = c->t;
    dk_buf b = {0};
    int rc = dk_buf_put(&b, "", 0);
    char *s = NULL;
    if (!rc && t->header) {
        rc = render(c, t->header, row, "header", &s);
        if (!rc) rc = dk_buf_put(&b, s, strlen(s));
        free(s);
    }
    int npool = pool ? cJSON_GetArraySize(pool) : 0;
    int *ex = k > 0 && npool ? dk_malloc(sizeof *ex * (size_t)k) : NULL;
    int nex = ex ? pick(npool, self, k, t->fewshot_first, seed, ex) : 0;
    for (int i = 0; !rc && i < nex; i++) {
        ctx ec = {t, "few-shot", ex[i]};
        rc = example(&ec, cJSON_GetArrayItem(pool, ex[i]), &b);
    }
    free(ex);
    if (!rc && t->kind == DK_TASK_BPB) rc = render(c, t->text, row, "text", &it->text);
    else if (!rc) {
        rc = render(c, t->prompt, row, "prompt", &s);
        if (!rc) rc = dk_buf_put(&b, s, strlen(s));
        free(s);
        if (!rc && t->kind == DK_TASK_MC) rc = mc_choices(c, row, &it->choices, &it->nchoices, &it->gold);
        if (!rc && t->kind == DK_TASK_GEN) rc = render(c, t->gold, row, "gold", &it->gold_text);
    }
    it->context = b.p;
    return rc;
}

static int grow(dk_eval_set *s, int more)
{
    dk_eval_item *g = realloc(s->items, sizeof *g * (size_t)(s->n + more));
    if (!g) return dk_fail("out of memory for %d items", s->n + more);
    memset(g + s->n, 0, sizeof *g * (size_t)more);
    s->items = g;
    return 0;
}

int dk_eval_set_build(const dk_task *t, const char *data_dir, int fewshot, int limit, uint64_t seed, dk_eval_set *s)
{
    memset(s, 0, sizeof *s);
    int k = fewshot >= 0 ? fewshot : t->k;
    if (k > 0 && !t->has_fewshot) return dk_fail("%s: %d-shot asked for, but the spec has no \"fewshot\" source", t->file, k);
    if (find_subjects(t, data_dir, s)) {
        dk_eval_set_free(s);
        return -1;
    }
    int rc = 0;
    for (int si = 0; !rc && si < s->nsubjects; si++) {
        cJSON *rows = NULL, *pool = NULL;
        char *path = NULL, *pool_path = NULL;
        rc = read_source(&t->rows, data_dir, s->subjects[si], &path, &rows);
        if (!rc && k > 0) rc = read_source(&t->fewshot, data_dir, s->subjects[si], &pool_path, &pool);
        bool same = !rc && pool_path && !strcmp(pool_path, path);
        int n = rc ? 0 : cJSON_GetArraySize(rows);
        if (limit > 0 && n > limit) n = limit;
        if (!rc) rc = grow(s, n);
        const cJSON *row = rc ? NULL : rows->child;
        for (int i = 0; !rc && i < n; i++, row = row->next) {
            dk_eval_item *it = &s->items[s->n++];
            it->subject = si;
            it->index = i;
            ctx c = {t, path, i};
            uint64_t rs = seed ^ ((uint64_t)(si + 1) << 40) ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL;
            rc = build_item(&c, row, pool, same ? i : -1, k, rs, it);
        }
        cJSON_Delete(rows);
        cJSON_Delete(pool);
        free(path);
        free(pool_path);
    }
    if (!rc && !s->n) rc = dk_fail("%s: no rows", t->file);
    if (rc) dk_eval_set_free(s);
    return rc;
}

int dk_eval_set_text(const char *path, dk_eval_set *s)
{
    memset(s, 0, sizeof *s);
    s->subjects = dk_calloc(1, sizeof *s->subjects);
    size_t len;
    int rc = !s->subjects || !(s->subjects[0] = strdup("")) || grow(s, 1) ? -1 : 0;
    if (!rc) s->nsubjects = 1, s->n = 1;
    if (!rc) rc = dk_read_file(path, &s->items[0].text, &len);
    if (!rc && !len) rc = dk_fail("%s: empty file", path);
    if (rc) dk_eval_set_free(s);
    return rc;
}

void dk_eval_set_free(dk_eval_set *s)
{
    for (int i = 0; i < s->n; i++) {
        dk_eval_item *it = &s->items[i];
        free(it->context);
        free_strs(it->choices, it->nchoices);
        free(it->gold_text);
        free(it->text);
    }
    free(s->items);
    free_strs(s->subjects, s->nsubjects);
    memset(s, 0, sizeof *s);
}
