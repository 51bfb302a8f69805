/* dokja data prepare: the pipeline. An optional first pass counts in how
 * many multi-line documents each line occurs (frequent boilerplate). The
 * second pass reads batches of documents in input order, runs the per-
 * document steps on all cores (OpenMP), then, in input order on one thread,
 * deduplicates against everything kept before and writes the kept ones.
 * So the output depends on the inputs and options only, never on the
 * number of threads. Everything is written into OUT.dokja-tmp, which is
 * renamed to OUT when complete. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "data_internal.h"
#include "dokja/error.h"
#include "dokja/progress.h"

/* One document of a batch and what the steps made of it. */
typedef struct {
    dk_buf raw;    /* the text, or the JSON line of a .jsonl document */
    bool json;     /* raw is a JSON line, parsed on the worker thread */
    cJSON *meta;
    int source, file;
    int64_t line;
    int bad;       /* a bad JSON line: its dk_bad_kind, else -1 */
    char why[160];
    size_t text_in; /* bytes of the text as read */
    int64_t index; /* within its source: the id is "<source>/<index>" */
    int drop;      /* -1: kept so far */
    int lang;      /* -1: not identified (dropped before) */
    dk_buf out;    /* the output JSON line */
    size_t text_len;
    uint64_t hash[2];
    bool has_sig;
    int64_t pii[DK_PII_KINDS], frequent_lines, crawler_lines;
} item;

/* Per thread. */
typedef struct {
    dk_buf a, b, norm;
} scratch;

typedef struct {
    const dk_data_options *o;
    dk_linecount lines;
    bool count_lines;
    dk_minhash mh;
    char **langs;
    int nlangs;
    dk_dedup *dedup;
    dk_datacard card;
    dk_docs *docs;
    size_t near_min_chars; /* shorter normalised texts skip the near-duplicate index */
} prep;

enum { BATCH_BYTES = 32 << 20 };

/* ---- per document (any thread) ---- */

/* Keeps the lines of s that `drop` does not want; *removed counts the others. */
static int filter_lines(const char *s, size_t n, dk_buf *out, bool (*drop)(const char *, size_t, const void *),
                        const void *ctx, int64_t *removed)
{
    out->len = 0;
    if (dk_buf_reserve(out, n + 1)) return -1;
    for (size_t i = 0; i <= n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        if (drop(s + i, end - i, ctx)) {
            (*removed)++;
        } else {
            if (out->len) out->p[out->len++] = '\n';
            memcpy(out->p + out->len, s + i, end - i);
            out->len += end - i;
        }
        i = end + 1;
    }
    out->p[out->len] = '\0';
    return 0;
}

static bool frequent_line(const char *s, size_t n, const void *ctx)
{
    const prep *p = ctx;
    return dk_linecount_get(&p->lines, dk_line_key(s, n)) >= (uint32_t)p->o->boilerplate_min_docs;
}

static bool crawler_line(const char *s, size_t n, const void *ctx)
{
    (void)ctx;
    return dk_crawler_line(s, n);
}

/* Appends s as a JSON string (quotes included). */
static int json_string(dk_buf *b, const char *s, size_t n)
{
    if (dk_buf_reserve(b, b->len + 6 * n + 3)) return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\t': *o++ = 't'; break;
        case '\r': *o++ = 'r'; break;
        default: o += sprintf(o, "u%04x", c);
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
    return 0;
}

static int json_line(const prep *p, item *it, const char *text, size_t n)
{
    const char *src = p->card.sources[it->source].name;
    char id[32];
    snprintf(id, sizeof id, "/%lld", (long long)it->index);
    dk_buf *b = &it->out;
    b->len = 0;
    int rc = dk_buf_put(b, "{\"id\":\"", 7) || dk_buf_put(b, src, strlen(src)) || dk_buf_put(b, id, strlen(id)) ||
             dk_buf_put(b, "\",\"source\":", 11) || json_string(b, src, strlen(src)) || dk_buf_put(b, ",\"text\":", 8) ||
             json_string(b, text, n);
    if (!rc && it->meta && it->meta->child) {
        /* string values (nearly all metadata) are written here; cJSON prints the rest */
        char sep = '{';
        rc = dk_buf_put(b, ",\"meta\":", 8);
        for (const cJSON *c = it->meta->child; c && !rc; c = c->next, sep = ',') {
            rc = dk_buf_put(b, &sep, 1) || json_string(b, c->string, strlen(c->string)) || dk_buf_put(b, ":", 1);
            if (rc) break;
            if (cJSON_IsString(c)) {
                rc = json_string(b, c->valuestring, strlen(c->valuestring));
            } else {
                char *v = cJSON_PrintUnformatted(c);
                rc = !v || dk_buf_put(b, v, strlen(v));
                free(v);
            }
        }
        if (!rc) rc = dk_buf_put(b, "}", 1);
    }
    return rc || dk_buf_put(b, "}\n", 2) ? dk_fail("out of memory writing a document") : 0;
}

/* Swaps the step's output in as the current text. */
static void take(const char **t, size_t *n, dk_buf **cur, dk_buf **spare)
{
    *t = (*spare)->p;
    *n = (*spare)->len;
    dk_buf *x = *cur;
    *cur = *spare;
    *spare = x;
}

static bool wanted_language(const prep *p, int lang)
{
    if (!p->nlangs) return true;
    for (int i = 0; i < p->nlangs; i++)
        if (!strcmp(p->langs[i], dk_lang_names[lang])) return true;
    return false;
}

static int steps(const prep *p, item *it, scratch *s, uint32_t *sig, const char *t, size_t n);

/* sig: room for the signature and then the band keys. */
static int process(const prep *p, item *it, scratch *s, uint32_t *sig)
{
    const dk_data_options *o = p->o;
    const char *t = it->raw.p;
    size_t n = it->raw.len;
    it->drop = it->lang = it->bad = -1;
    cJSON *text_item = NULL;
    if (it->json) {
        dk_bad_kind kind;
        int rc = dk_jsonl_parse(t, n, o->text_field, &it->meta, &text_item, &kind, it->why, sizeof it->why);
        if (rc) {
            it->bad = (int)kind;
            return rc < 0 ? dk_fail("out of memory parsing JSON") : 0;
        }
        t = text_item->valuestring;
        n = strlen(t);
    }
    it->text_in = n;
    int rc = steps(p, it, s, sig, t, n);
    cJSON_Delete(text_item);
    return rc;
}

/* Steps 1-6 on the text t (n bytes), through the thread's two buffers in turn. */
static int steps(const prep *p, item *it, scratch *s, uint32_t *sig, const char *t, size_t n)
{
    const dk_data_options *o = p->o;
    dk_buf *cur = &s->a, *spare = &s->b;
    it->has_sig = false;
    memset(it->pii, 0, sizeof it->pii);
    it->frequent_lines = it->crawler_lines = 0;
    /* 2 (first half): frequent lines, found on the raw lines as the counting pass saw them */
    if (p->count_lines && memchr(t, '\n', n)) {
        if (filter_lines(t, n, spare, frequent_line, p, &it->frequent_lines)) return -1;
        take(&t, &n, &cur, &spare);
    }
    /* 1: entities, NFC, white space */
    if (o->html_entities && memchr(t, '&', n)) {
        if (dk_decode_entities(t, n, spare)) return -1;
        take(&t, &n, &cur, &spare);
    }
    if (o->nfc) {
        if (dk_nfc(t, n, spare)) return -1;
        take(&t, &n, &cur, &spare);
    }
    if (o->whitespace) {
        if (dk_normalize_space(t, n, spare)) return -1;
        take(&t, &n, &cur, &spare);
    }
    /* 2 (second half): crawler headers and footers */
    if (o->crawler_lines) {
        if (filter_lines(t, n, spare, crawler_line, p, &it->crawler_lines)) return -1;
        take(&t, &n, &cur, &spare);
    }
    if (n == 0) {
        it->drop = it->frequent_lines || it->crawler_lines ? DK_DROP_BOILERPLATE : DK_DROP_EMPTY;
        return 0;
    }
    /* 3 */
    it->lang = dk_lang_index(dk_language(t, n, o->hangul_min));
    if (!wanted_language(p, it->lang)) {
        it->drop = DK_DROP_LANGUAGE;
        return 0;
    }
    /* 4 */
    const char *why = o->quality ? dk_quality_check(t, n, o) : NULL;
    if (why) {
        for (int k = 0; k < DK_NQUALITY; k++)
            if (!strcmp(why, dk_quality_reasons[k])) it->drop = DK_DROP_QUALITY0 + k;
        return 0;
    }
    /* 5 */
    if (o->pii) {
        if (dk_pii_scrub(t, n, spare, it->pii)) return -1;
        take(&t, &n, &cur, &spare);
    }
    /* 6: what the index will be asked in input order */
    if (o->exact_dedup || o->near_dup_threshold > 0) {
        if (dk_dedup_normalize(t, n, &s->norm)) return -1;
        XXH128_hash_t h = XXH3_128bits(s->norm.p, s->norm.len);
        it->hash[0] = h.low64;
        it->hash[1] = h.high64;
        size_t chars = 0;
        for (size_t i = 0; i < s->norm.len; i++) chars += ((unsigned char)s->norm.p[i] & 0xC0) != 0x80;
        if (o->near_dup_threshold > 0 && chars >= p->near_min_chars) {
            dk_minhash_signature(&p->mh, s->norm.p, s->norm.len, o->ngram, sig);
            dk_dedup_band_keys(o->minhash_bands, o->minhash_rows, sig, sig + p->mh.k);
            it->has_sig = true;
        }
    }
    it->text_len = n;
    return json_line(p, it, t, n);
}

/* The steps, then the metadata is let go here, on any thread, rather than by the reader. */
static int process_item(const prep *p, item *it, scratch *s, uint32_t *sig)
{
    int rc = process(p, it, s, sig);
    cJSON_Delete(it->meta);
    it->meta = NULL;
    return rc;
}

/* ---- in input order (one thread) ---- */

/* Counts a bad input against its source and lists it (up to a limit). */
static void record_bad(prep *p, int file, dk_bad_kind kind, int64_t line, const char *message)
{
    dk_datacard *c = &p->card;
    int input;
    const char *path = dk_docs_file(p->docs, file, &input);
    c->sources[input].bad[kind]++;
    if (c->nbad_listed >= 100000) return; /* counted, not listed */
    if (c->nbad_listed == c->bad_cap) {
        int64_t cap = c->bad_cap ? 2 * c->bad_cap : 64;
        dk_bad_item *b = realloc(c->bad, sizeof *b * (size_t)cap);
        if (!b) return;
        c->bad = b;
        c->bad_cap = cap;
    }
    char *pth = strdup(path), *msg = strdup(message);
    if (!pth || !msg) {
        free(pth), free(msg);
        return;
    }
    c->bad[c->nbad_listed++] = (dk_bad_item){kind, file, pth, line, msg};
}

static void on_bad(void *ctx, dk_bad_kind kind, const char *path, int64_t line, const char *message)
{
    (void)path;
    prep *p = ctx;
    record_bad(p, dk_docs_current_file(p->docs), kind, line, message);
}

/* The list in reading order: files as walked, then lines (the reader finds some while JSON lines are parsed later). */
static int by_place(const void *a, const void *b)
{
    const dk_bad_item *x = a, *y = b;
    if (x->file != y->file) return x->file < y->file ? -1 : 1;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return x->kind - y->kind;
}

/* Starts loading what merging this item will read from the index. */
static void prefetch(const prep *p, const item *it, const uint32_t *sig)
{
    if (it->drop < 0) dk_dedup_prefetch(p->dedup, p->o->exact_dedup ? it->hash : NULL, it->has_sig ? sig + p->mh.k : NULL);
}

static int merge(prep *p, item *it, const uint32_t *sig, int64_t seq, dk_zst_writer *w)
{
    const dk_data_options *o = p->o;
    if (it->bad >= 0) {
        record_bad(p, it->file, (dk_bad_kind)it->bad, it->line, it->why);
        return 0;
    }
    dk_source_stats *st = &p->card.sources[it->source];
    st->docs_in++;
    st->bytes_in += (int64_t)it->text_in;
    if (it->lang >= 0) st->lang_in[it->lang]++;
    if (it->drop < 0 && (o->exact_dedup || o->near_dup_threshold > 0)) {
        uint64_t unique[2] = {(uint64_t)seq, ~0ull}; /* exact dedup off: no two texts are alike */
        int64_t of;
        bool fresh;
        /* the id says which source the kept document came from */
        int64_t id = (int64_t)it->source << 40 | seq;
        int k = dk_dedup_offer(p->dedup, o->exact_dedup ? it->hash : unique, it->has_sig ? sig : NULL,
                               it->has_sig ? sig + p->mh.k : NULL, id, &of, &fresh);
        if (k < 0) return -1;
        if (k) {
            it->drop = k == 1 ? DK_DROP_EXACT : DK_DROP_NEAR;
            if (fresh) p->card.sources[of >> 40].clusters++;
        }
    }
    if (it->drop >= 0) {
        st->drops[it->drop]++;
        return 0;
    }
    st->docs_out++;
    st->bytes_out += (int64_t)it->text_len;
    st->lang_out[it->lang]++;
    for (int k = 0; k < DK_PII_KINDS; k++) st->pii[k] += it->pii[k];
    st->frequent_lines += it->frequent_lines;
    st->crawler_lines += it->crawler_lines;
    return dk_zst_writer_line(w, it->out.p, it->out.len);
}

/* ---- setup ---- */

/* "ko-nsmc-reviews" for ".../ko-nsmc-reviews.jsonl.zst", "news" for ".../news/". */
static char *source_name(const char *input)
{
    char *s = strdup(input);
    if (!s) return NULL;
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = '\0';
    char *base = strrchr(s, '/');
    base = base && base[1] ? base + 1 : s;
    char *dot = strrchr(base, '.');
    if (dot && dot != base && !strcmp(dot, ".zst")) *dot = '\0';
    dot = strrchr(base, '.');
    if (dot && dot != base && strchr(dot, '/') == NULL) *dot = '\0';
    char *name = strdup(base);
    free(s);
    return name;
}

static int setup_sources(prep *p, char *const *inputs, int n)
{
    dk_datacard *c = &p->card;
    c->sources = dk_calloc((size_t)n, sizeof *c->sources);
    c->inputs = dk_calloc((size_t)n, sizeof *c->inputs);
    if (!c->sources || !c->inputs) return -1;
    c->nsources = n;
    for (int i = 0; i < n; i++) {
        c->inputs[i] = inputs[i];
        char *base = source_name(inputs[i]), *name = base ? strdup(base) : NULL;
        /* two inputs of the same name: "x", "x-2", "x-3" */
        for (int k = 2, clash = 1; name && clash; k++) {
            clash = 0;
            for (int j = 0; j < i; j++) clash |= !strcmp(c->sources[j].name, name);
            if (clash) {
                free(name);
                name = dk_strdupf("%s-%d", base, k);
            }
        }
        free(base);
        if (!name) return dk_fail("out of memory");
        c->sources[i].name = name;
    }
    return 0;
}

static int parse_languages(prep *p)
{
    const char *l = p->o->languages;
    if (!l || !*l) return 0;
    for (const char *s = l; *s;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) {
            char **g = realloc(p->langs, sizeof *g * (size_t)(p->nlangs + 1));
            if (!g) return dk_fail("out of memory");
            p->langs = g;
            if (!(p->langs[p->nlangs] = strndup(s, len))) return dk_fail("out of memory");
            if (dk_lang_index(p->langs[p->nlangs]) == DK_NLANG - 2 && strcmp(p->langs[p->nlangs], "other")) {
                int rc = dk_fail("languages: unknown code \"%s\" (known: ko en ja zh ru ar latn other und)", p->langs[p->nlangs]);
                free(p->langs[p->nlangs]);
                return rc;
            }
            p->nlangs++;
        }
        s += len + (e ? 1 : 0);
    }
    return 0;
}

/* Pass 1: in how many multi-line documents each line occurs. */
static int count_lines(prep *p, char *const *inputs, int ninputs, const dk_docs_options *dopt)
{
    dk_docs *d;
    dk_docs_options o = *dopt;
    o.on_bad = NULL; /* reported in the second pass */
    if (dk_docs_open(&d, inputs, ninputs, &o)) return -1;
    uint64_t *keys = NULL;
    size_t cap = 0;
    dk_progress prog;
    int64_t done, total;
    dk_docs_progress(d, &done, &total);
    dk_progress_start(&prog, "boilerplate", total);
    dk_doc doc;
    int rc;
    while ((rc = dk_docs_next(d, &doc)) == 1) {
        const char *t = doc.text;
        size_t n = doc.len;
        cJSON *obj = NULL, *text = NULL;
        if (doc.format == DK_FORMAT_JSONL) {
            /* a text without an escaped line break has one line: only those with one are parsed */
            char why[160];
            dk_bad_kind kind;
            if (!memmem(t, n, "\\n", 2) || dk_jsonl_parse(t, n, o.text_field, &obj, &text, &kind, why, sizeof why)) continue;
            t = text->valuestring;
            n = strlen(t);
        }
        int64_t k = dk_doc_line_keys(t, n, &keys, &cap);
        cJSON_Delete(obj);
        cJSON_Delete(text);
        if (k < 0 || (k > 0 && dk_linecount_add_doc(&p->lines, keys, (size_t)k))) {
            rc = -1;
            break;
        }
        dk_docs_progress(d, &done, &total);
        dk_progress_update(&prog, done, NULL, NULL);
    }
    dk_docs_progress(d, &done, &total);
    dk_progress_update(&prog, total, NULL, NULL);
    dk_progress_finish(&prog);
    free(keys);
    dk_docs_close(d);
    return rc < 0 ? -1 : 0;
}

/* Fills items with up to batch_docs documents (and about BATCH_BYTES of text); returns how many, -1 on error. */
static int read_batch(prep *p, item *items, int64_t *next_index)
{
    int nb = 0;
    size_t bytes = 0;
    dk_doc doc;
    while (nb < p->o->batch_docs && bytes < BATCH_BYTES) {
        int rc = dk_docs_next(p->docs, &doc);
        if (rc < 0) return -1;
        if (rc == 0) break;
        item *it = &items[nb++];
        it->raw.len = 0;
        if (dk_buf_put(&it->raw, doc.text, doc.len)) return -1;
        it->meta = dk_docs_take_meta(p->docs);
        it->json = doc.format == DK_FORMAT_JSONL;
        it->source = doc.input;
        it->file = doc.file;
        it->line = doc.line;
        it->index = next_index[doc.input]++;
        bytes += doc.len;
    }
    return nb;
}

static void free_items(item *items, int n)
{
    for (int i = 0; items && i < n; i++) {
        dk_buf_free(&items[i].raw);
        dk_buf_free(&items[i].out);
        cJSON_Delete(items[i].meta);
    }
    free(items);
}

static void free_prep(prep *p, scratch *scr, int nthreads)
{
    for (int i = 0; scr && i < nthreads; i++) {
        dk_buf_free(&scr[i].a);
        dk_buf_free(&scr[i].b);
        dk_buf_free(&scr[i].norm);
    }
    free(scr);
    dk_linecount_free(&p->lines);
    dk_minhash_free(&p->mh);
    for (int i = 0; i < p->nlangs; i++) free(p->langs[i]);
    free(p->langs);
    dk_dedup_free(p->dedup);
    dk_docs_close(p->docs);
    for (int i = 0; i < p->card.nsources; i++) free(p->card.sources[i].name);
    free(p->card.sources);
    free(p->card.inputs);
    for (int64_t i = 0; i < p->card.nbad_listed; i++) {
        free(p->card.bad[i].path);
        free(p->card.bad[i].message);
    }
    free(p->card.bad);
}

/* The output directory must be new (or empty); the work goes to OUT.dokja-tmp. */
static char *start_output(const char *out_dir)
{
    if (dk_path_exists(out_dir)) {
        if (!dk_is_dir(out_dir)) {
            dk_fail("%s: exists and is not a directory", out_dir);
            return NULL;
        }
        if (rmdir(out_dir) != 0) {
            dk_fail("%s: exists and is not empty (choose a new output directory)", out_dir);
            return NULL;
        }
    }
    char *tmp = dk_strdupf("%s.dokja-tmp", out_dir);
    if (!tmp || dk_remove_tree(tmp) || dk_mkdirs(tmp)) {
        free(tmp);
        return NULL;
    }
    return tmp;
}

static int finish_output(const char *tmp, const char *out_dir)
{
    if (dk_fsync_dir(tmp)) return -1;
    if (rename(tmp, out_dir) != 0) return dk_fail("%s: cannot rename %s into place", out_dir, tmp);
    return 0;
}

static int run(prep *p, char *const *inputs, int ninputs, const char *tmp, int nthreads)
{
    const dk_data_options *o = p->o;
    dk_docs_options dopt = {.text_field = o->text_field, .lines = o->lines, .max_doc_bytes = (size_t)o->max_doc_bytes,
                            .raw_jsonl = true, .on_bad = on_bad, .ctx = p};
    int k = o->minhash_bands * o->minhash_rows, per = k + o->minhash_bands; /* signature and band keys */
    if (setup_sources(p, inputs, ninputs) || parse_languages(p) || dk_minhash_init(&p->mh, k, (uint64_t)o->seed) ||
        dk_dedup_new(&p->dedup, o->minhash_bands, o->minhash_rows, o->near_dup_threshold))
        return -1;
    /* One edit inside a text of S shingles of n characters changes up to n of them: Jaccard (S-n)/(S+n).
     * Below S = n(1+t)/(1-t) no text but an exact copy can reach t, so shorter texts stay out of the
     * index (the exact hash still sees them); on short-text corpora that is most of its size. */
    double t = o->near_dup_threshold;
    p->near_min_chars = t >= 0.999 ? (size_t)o->ngram : (size_t)ceil(o->ngram * (1 + t) / (1 - t)) + (size_t)o->ngram - 1;
    p->count_lines = o->boilerplate_min_docs > 0;
    if (p->count_lines && (dk_linecount_init(&p->lines, (size_t)1 << 24) || count_lines(p, inputs, ninputs, &dopt))) return -1;
    if (dk_docs_open(&p->docs, inputs, ninputs, &dopt)) return -1;

    /* Three batches in turn: one processed by the threads' tasks while the
     * thread that made them merges the one before and reads the one after. */
    int nitems = o->batch_docs;
    item *items[3] = {0};
    uint32_t *sigs[3] = {0};
    int nb[3] = {0};
    int rc = 0;
    for (int b = 0; b < 3 && !rc; b++) {
        items[b] = calloc((size_t)nitems, sizeof *items[b]);
        sigs[b] = malloc(sizeof *sigs[b] * (size_t)nitems * (size_t)per);
        if (!items[b] || !sigs[b]) rc = dk_fail("out of memory for a batch of %d documents", nitems);
    }
    scratch *scr = calloc((size_t)nthreads, sizeof *scr);
    int64_t *next_index = calloc((size_t)ninputs, sizeof *next_index);
    dk_zst_writer w = {.dir = tmp, .max_bytes = o->shard_bytes, .level = o->zstd_level, .workers = 1};
    if (!rc && (!scr || !next_index)) rc = dk_fail("out of memory");
    dk_progress prog;
    int64_t done, total, seq = 0, kept = 0;
    dk_docs_progress(p->docs, &done, &total);
    dk_progress_start(&prog, "prepare", total);
    int cur = 0, prev = -1;
    if (!rc) rc = (nb[cur] = read_batch(p, items[cur], next_index)) < 0 ? -1 : 0;
    while (!rc && (nb[cur] > 0 || prev >= 0)) {
        int next = (cur + 1) % 3, failed = 0;
#pragma omp parallel num_threads(nthreads)
#pragma omp single
        {
            for (int c = 0; c < nb[cur]; c += 64) {
#pragma omp task firstprivate(c) shared(failed)
                for (int i = c; i < nb[cur] && i < c + 64; i++)
                    if (process_item(p, &items[cur][i], &scr[omp_get_thread_num()], sigs[cur] + (size_t)i * (size_t)per)) {
#pragma omp atomic write
                        failed = 1;
                    }
            }
            for (int i = 0; prev >= 0 && !rc && i < nb[prev]; i++) {
                if (i + 8 < nb[prev]) prefetch(p, &items[prev][i + 8], sigs[prev] + (size_t)(i + 8) * (size_t)per);
                rc = merge(p, &items[prev][i], sigs[prev] + (size_t)i * (size_t)per, seq++, &w);
                kept += items[prev][i].drop < 0;
            }
            nb[next] = 0;
            if (!rc && nb[cur] > 0 && (nb[next] = read_batch(p, items[next], next_index)) < 0) rc = -1;
#pragma omp taskwait
        }
        if (failed && !rc) rc = dk_fail("out of memory processing documents");
        for (int i = 0; prev >= 0 && i < nb[prev]; i++)
            if (items[prev][i].raw.cap > (1 << 20)) dk_buf_free(&items[prev][i].raw); /* a huge document does not pin its memory */
        prev = nb[cur] > 0 ? cur : -1;
        cur = next;
        dk_docs_progress(p->docs, &done, &total);
        char text[64], js[64];
        snprintf(text, sizeof text, "%lld docs, %lld kept", (long long)seq, (long long)kept);
        snprintf(js, sizeof js, "\"docs\":%lld,\"kept\":%lld", (long long)seq, (long long)kept);
        dk_progress_update(&prog, done, text, js);
    }
    dk_progress_finish(&prog);
    if (!rc) rc = dk_zst_writer_close(&w);
    if (!rc && seq == 0) rc = dk_fail("no usable input: not one document could be read (see the messages above)");
    p->card.shards = w.shards;
    p->card.nshards = w.nshards;
    p->card.dedup_bytes = dk_dedup_bytes(p->dedup);
    if (p->card.nbad_listed > 1) qsort(p->card.bad, (size_t)p->card.nbad_listed, sizeof *p->card.bad, by_place);
    if (!rc) rc = dk_datacard_write(&p->card, tmp, o);
    if (!rc) {
        int nfiles = dk_docs_nfiles(p->docs);
        char **files = dk_calloc((size_t)nfiles + 1, sizeof *files);
        for (int i = 0; files && i < nfiles; i++) files[i] = (char *)dk_docs_file(p->docs, i, NULL);
        rc = files ? dk_manifest_write(&p->card, tmp, o, files, nfiles) : -1;
        free(files);
    }
    dk_zst_writer_free(&w);
    p->card.shards = NULL;
    for (int b = 0; b < 3; b++) {
        free_items(items[b], nitems);
        free(sigs[b]);
    }
    free_prep(p, scr, nthreads);
    free(next_index);
    return rc;
}

int dk_data_prepare(char *const *inputs, int ninputs, const char *out_dir, const dk_data_options *o, int threads)
{
    if (dk_data_options_validate(o)) return -1;
    if (ninputs < 1) return dk_fail("no input given");
    char *tmp = start_output(out_dir);
    if (!tmp) return -1;
    prep p = {.o = o};
    int nthreads = threads > 0 ? threads : omp_get_max_threads();
    int rc = run(&p, inputs, ninputs, tmp, nthreads);
    if (!rc) rc = finish_output(tmp, out_dir);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dk_error());
        dk_remove_tree(tmp); /* nothing half-written is left behind */
        dk_fail("%s", msg);
    }
    free(tmp);
    return rc;
}
