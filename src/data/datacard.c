/* The data card (datacard.json for tools, datacard.md for people) and the
 * manifest. Neither holds a time or anything else that changes between two
 * runs over the same inputs, so both are byte-identical when the data is. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/sha256.h"

const char *const dk_drop_names[DK_DROP_KINDS] = {"empty", "boilerplate", "language", DK_QUALITY_NAMES, "exact_duplicate",
                                                  "near_duplicate"};
const char *const dk_lang_names[DK_NLANG] = {"ko", "en", "ja", "zh", "ru", "ar", "latn", "other", "und"};

int dk_lang_index(const char *code)
{
    for (int i = 0; i < DK_NLANG; i++)
        if (!strcmp(code, dk_lang_names[i])) return i;
    return DK_NLANG - 2; /* "other" */
}

/* name -> count for the non-zero counts. */
static cJSON *counts(const char *const *names, const int64_t *v, int n)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < n; i++)
        if (v[i]) cJSON_AddNumberToObject(o, names[i], (double)v[i]);
    return o;
}

static void add_sum(dk_source_stats *t, const dk_source_stats *s)
{
    /* every member after the name is an int64_t count */
    int64_t *a = &t->docs_in;
    const int64_t *b = &s->docs_in;
    size_t n = (sizeof *t - offsetof(dk_source_stats, docs_in)) / sizeof(int64_t);
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

static cJSON *stats_json(const dk_source_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    if (s->name) cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "documents_in", (double)s->docs_in);
    cJSON_AddNumberToObject(o, "documents_out", (double)s->docs_out);
    cJSON_AddNumberToObject(o, "bytes_in", (double)s->bytes_in);
    cJSON_AddNumberToObject(o, "bytes_out", (double)s->bytes_out);
    cJSON_AddItemToObject(o, "dropped", counts(dk_drop_names, s->drops, DK_DROP_KINDS));
    cJSON_AddItemToObject(o, "languages_in", counts(dk_lang_names, s->lang_in, DK_NLANG));
    cJSON_AddItemToObject(o, "languages_out", counts(dk_lang_names, s->lang_out, DK_NLANG));
    cJSON_AddItemToObject(o, "pii_replaced", counts(dk_pii_names, s->pii, DK_PII_KINDS));
    cJSON *bp = cJSON_AddObjectToObject(o, "boilerplate_lines_removed");
    cJSON_AddNumberToObject(bp, "frequent", (double)s->frequent_lines);
    cJSON_AddNumberToObject(bp, "crawler", (double)s->crawler_lines);
    cJSON *dd = cJSON_AddObjectToObject(o, "dedup");
    cJSON_AddNumberToObject(dd, "exact_duplicates", (double)s->drops[DK_DROP_EXACT]);
    cJSON_AddNumberToObject(dd, "near_duplicates", (double)s->drops[DK_DROP_NEAR]);
    cJSON_AddNumberToObject(dd, "clusters", (double)s->clusters);
    cJSON_AddItemToObject(o, "bad_input", counts(dk_bad_kind_names, s->bad, DK_BAD_KINDS));
    return o;
}

static dk_source_stats total_of(const dk_datacard *c)
{
    dk_source_stats t = {0};
    for (int i = 0; i < c->nsources; i++) add_sum(&t, &c->sources[i]);
    return t;
}

static int write_json(const dk_datacard *c, const char *dir)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dokja_version", DK_VERSION);
    dk_source_stats t = total_of(c);
    cJSON_AddItemToObject(root, "total", stats_json(&t));
    cJSON *src = cJSON_AddArrayToObject(root, "sources");
    for (int i = 0; i < c->nsources; i++) {
        cJSON *s = stats_json(&c->sources[i]);
        cJSON_AddStringToObject(s, "input", c->inputs[i]);
        cJSON_AddItemToArray(src, s);
    }
    cJSON *bad = cJSON_AddArrayToObject(root, "bad_input");
    for (int64_t i = 0; i < c->nbad_listed; i++) {
        const dk_bad_item *b = &c->bad[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", dk_bad_kind_names[b->kind]);
        cJSON_AddStringToObject(o, "path", b->path);
        cJSON_AddNumberToObject(o, "line", (double)b->line);
        cJSON_AddStringToObject(o, "message", b->message);
        cJSON_AddItemToArray(bad, o);
    }
    int64_t nbad = 0;
    for (int k = 0; k < DK_BAD_KINDS; k++) nbad += t.bad[k];
    cJSON_AddBoolToObject(root, "bad_input_complete", nbad == c->nbad_listed);
    cJSON *sh = cJSON_AddArrayToObject(root, "shards");
    for (int i = 0; i < c->nshards; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c->shards[i].name);
        cJSON_AddNumberToObject(o, "documents", (double)c->shards[i].docs);
        cJSON_AddNumberToObject(o, "bytes", (double)c->shards[i].bytes);
        cJSON_AddItemToArray(sh, o);
    }
    char *path = dk_path_join(dir, "datacard.json");
    int rc = path ? dk_json_write_file(path, root) : -1;
    free(path);
    cJSON_Delete(root);
    return rc;
}

/* A growing text for datacard.md. */
typedef struct {
    dk_buf b;
    int failed;
} md;

static void mdf(md *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mdf(md *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (m->failed || dk_buf_reserve(&m->b, m->b.len + (size_t)n + 1)) {
        m->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(m->b.p + m->b.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->b.len += (size_t)n;
}

static double pct(int64_t a, int64_t b) { return b ? 100.0 * (double)a / (double)b : 0; }

/* One table: a row per source and the total, a column per named count that is non-zero somewhere. */
static void md_table(md *m, const dk_datacard *c, const dk_source_stats *t, const char *const *names, int n, size_t offset)
{
    const int64_t *tv = (const int64_t *)((const char *)t + offset);
    int cols = 0;
    for (int k = 0; k < n; k++) cols += tv[k] != 0;
    if (!cols) {
        mdf(m, "None.\n");
        return;
    }
    mdf(m, "| source |");
    for (int k = 0; k < n; k++)
        if (tv[k]) mdf(m, " %s |", names[k]);
    mdf(m, "\n|---|");
    for (int k = 0; k < n; k++)
        if (tv[k]) mdf(m, "---|");
    mdf(m, "\n");
    for (int i = 0; i <= c->nsources; i++) {
        const dk_source_stats *s = i < c->nsources ? &c->sources[i] : t;
        const int64_t *v = (const int64_t *)((const char *)s + offset);
        mdf(m, "| %s |", i < c->nsources ? s->name : "**total**");
        for (int k = 0; k < n; k++)
            if (tv[k]) mdf(m, " %lld |", (long long)v[k]);
        mdf(m, "\n");
    }
}

static int write_md(const dk_datacard *c, const char *dir, const dk_data_options *o)
{
    md m = {0};
    dk_source_stats t = total_of(c);
    mdf(&m, "# Data card\n\nWritten by `dokja data prepare` (dokja %s). The numbers are those of "
            "`datacard.json`; `manifest.json` holds the sha256 of every input and output and the settings.\n\n",
        DK_VERSION);
    mdf(&m, "## Documents\n\n| source | input | documents in | documents out | kept | bytes in | bytes out |\n"
            "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i <= c->nsources; i++) {
        const dk_source_stats *s = i < c->nsources ? &c->sources[i] : &t;
        mdf(&m, "| %s | %s | %lld | %lld | %.1f%% | %lld | %lld |\n", i < c->nsources ? s->name : "**total**",
            i < c->nsources ? c->inputs[i] : "", (long long)s->docs_in, (long long)s->docs_out, pct(s->docs_out, s->docs_in),
            (long long)s->bytes_in, (long long)s->bytes_out);
    }
    mdf(&m, "\n## Why documents were dropped\n\n");
    md_table(&m, c, &t, dk_drop_names, DK_DROP_KINDS, offsetof(dk_source_stats, drops));
    mdf(&m, "\n## Languages (by script) of the documents kept\n\n");
    md_table(&m, c, &t, dk_lang_names, DK_NLANG, offsetof(dk_source_stats, lang_out));
    mdf(&m, "\n## Personal data replaced\n\n");
    md_table(&m, c, &t, dk_pii_names, DK_PII_KINDS, offsetof(dk_source_stats, pii));
    mdf(&m, "\n## Deduplication\n\nExact: the hash of the normalised text. Near: MinHash over %d-character "
            "shingles, %d bands of %d, estimated Jaccard at least %.2f. The first document of a group is kept; "
            "a cluster is a kept document with at least one duplicate dropped.\n\n"
            "| | exact duplicates | near duplicates | clusters |\n|---|---|---|---|\n"
            "| **total** | %lld | %lld | %lld |\n",
        o->ngram, o->minhash_bands, o->minhash_rows, o->near_dup_threshold, (long long)t.drops[DK_DROP_EXACT],
        (long long)t.drops[DK_DROP_NEAR], (long long)t.clusters);
    mdf(&m, "\nBoilerplate lines removed: %lld frequent (in at least %d multi-line documents), %lld crawler "
            "headers and footers.\n",
        (long long)t.frequent_lines, o->boilerplate_min_docs, (long long)t.crawler_lines);
    mdf(&m, "\n## Bad input\n\n");
    md_table(&m, c, &t, dk_bad_kind_names, DK_BAD_KINDS, offsetof(dk_source_stats, bad));
    if (c->nbad_listed) {
        mdf(&m, "\n| kind | file | line | what |\n|---|---|---|---|\n");
        for (int64_t i = 0; i < c->nbad_listed && i < 50; i++)
            mdf(&m, "| %s | %s | %lld | %s |\n", dk_bad_kind_names[c->bad[i].kind], c->bad[i].path,
                (long long)c->bad[i].line, c->bad[i].message);
        if (c->nbad_listed > 50) mdf(&m, "\n(%lld more in datacard.json)\n", (long long)(c->nbad_listed - 50));
    }
    mdf(&m, "\n## Output\n\n| shard | documents | bytes (uncompressed) |\n|---|---|---|\n");
    for (int i = 0; i < c->nshards; i++)
        mdf(&m, "| %s | %lld | %lld |\n", c->shards[i].name, (long long)c->shards[i].docs, (long long)c->shards[i].bytes);
    if (m.failed) {
        dk_buf_free(&m.b);
        return dk_fail("out of memory writing datacard.md");
    }
    char *path = dk_path_join(dir, "datacard.md");
    int rc = path ? dk_write_file_atomic(path, m.b.p, m.b.len) : -1;
    free(path);
    dk_buf_free(&m.b);
    return rc;
}

int dk_datacard_write(const dk_datacard *c, const char *dir, const dk_data_options *o)
{
    return write_json(c, dir) || write_md(c, dir, o) ? -1 : 0;
}

/* {"path", "bytes", "sha256"} of a file; name is what the manifest calls it. */
static cJSON *file_entry(const char *path, const char *name)
{
    char hex[DK_SHA256_HEX];
    dk_mmap m;
    if (dk_mmap_open(&m, path)) return NULL;
    dk_sha256_buf(m.data, m.size, hex);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", name);
    cJSON_AddNumberToObject(o, "bytes", (double)m.size);
    cJSON_AddStringToObject(o, "sha256", hex);
    dk_mmap_close(&m);
    return o;
}

int dk_manifest_write(const dk_datacard *c, const char *dir, const dk_data_options *o, char *const *files, int nfiles)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "dokja_version", DK_VERSION);
    cJSON_AddStringToObject(root, "command", "data prepare");
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    dk_fields_to_json(dk_data_option_fields, o, cfg);
    cJSON *in = cJSON_AddArrayToObject(root, "inputs");
    int rc = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        if (!dk_path_exists(files[i])) continue; /* reported as bad input */
        cJSON *e = file_entry(files[i], files[i]);
        if (e) cJSON_AddItemToArray(in, e);
        else dk_clear_error(); /* unreadable: the data card says so */
    }
    cJSON *out = cJSON_AddArrayToObject(root, "outputs");
    const char *fixed[] = {"datacard.json", "datacard.md"};
    for (int i = 0; i < c->nshards + 2 && !rc; i++) {
        const char *name = i < c->nshards ? c->shards[i].name : fixed[i - c->nshards];
        char *p = dk_path_join(dir, name);
        cJSON *e = p ? file_entry(p, name) : NULL;
        free(p);
        if (e) cJSON_AddItemToArray(out, e);
        else rc = -1;
    }
    char *path = rc ? NULL : dk_path_join(dir, "manifest.json");
    if (path) rc = dk_json_write_file(path, root);
    free(path);
    cJSON_Delete(root);
    return rc;
}
