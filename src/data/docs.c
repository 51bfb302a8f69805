/* The streaming document reader: one file at a time, through a buffer that
 * holds at most one record (plus a read block), zstd decompressed on the
 * fly. A record is a line, a CSV record (newlines inside quotes allowed) or
 * a whole file; docs_formats.c turns it into a document. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "docs_internal.h"
#include "dokja/error.h"
#include "dokja/io.h"

enum { READ_BLOCK = 1 << 20, BINARY_PROBE = 1 << 16 };

const char *const dk_bad_kind_names[DK_BAD_KINDS] = {
    "unreadable", "binary", "empty", "invalid_utf8", "malformed_json", "missing_field", "malformed_csv",
    "unclosed_front_matter", "truncated", "too_long",
};

int dk_docs_bad(dk_docs *d, dk_bad_kind kind, int64_t line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *path = d->files[d->cur].path;
    if (d->o.strict && kind != DK_BAD_UTF8) {
        if (line > 0) return dk_fail("%s:%lld: %s", path, (long long)line, msg);
        return dk_fail("%s: %s", path, msg);
    }
    if (d->o.on_bad) d->o.on_bad(d->o.ctx, kind, path, line, msg);
    return 0;
}

dk_docs_format dk_docs_format_of(const char *path, bool *zst)
{
    size_t n = strlen(path);
    bool z = n > 4 && !strcasecmp(path + n - 4, ".zst");
    if (zst) *zst = z;
    if (z) n -= 4;
    static const struct {
        const char *ext;
        dk_docs_format fmt;
    } exts[] = {{".jsonl", DK_FORMAT_JSONL}, {".ndjson", DK_FORMAT_JSONL}, {".csv", DK_FORMAT_CSV},
                {".tsv", DK_FORMAT_TSV},     {".md", DK_FORMAT_MARKDOWN},  {".markdown", DK_FORMAT_MARKDOWN}};
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t m = strlen(exts[i].ext);
        if (n > m && !strncasecmp(path + n - m, exts[i].ext, m)) return exts[i].fmt;
    }
    return DK_FORMAT_TXT;
}

int dk_docs_open(dk_docs **out, char *const *paths, int npaths, const dk_docs_options *o)
{
    *out = NULL;
    dk_docs *d = dk_calloc(1, sizeof *d);
    if (!d) return -1;
    if (o) d->o = *o;
    d->field = d->o.text_field ? d->o.text_field : "text";
    d->max_doc = d->o.max_doc_bytes ? d->o.max_doc_bytes : (size_t)64 << 20;
    d->cur = -1;
    d->cap = READ_BLOCK + 1;
    d->buf = dk_malloc(d->cap);
    d->zin = dk_malloc(ZSTD_DStreamInSize());
    if (!d->buf || !d->zin || dk_docs_walk(d, paths, npaths)) {
        dk_docs_close(d);
        return -1;
    }
    if (d->o.strict)
        for (int i = 0; i < d->nfiles; i++)
            if (d->files[i].size < 0) {
                int rc = dk_fail("%s: %s", d->files[i].path, strerror(ENOENT));
                dk_docs_close(d);
                return rc;
            }
    *out = d;
    return 0;
}

static int64_t count_newlines(const char *s, size_t n)
{
    int64_t c = 0;
    for (const char *p = s, *e = s + n; (p = memchr(p, '\n', (size_t)(e - p))); p++) c++;
    return c;
}

/* The line on which the bytes read so far end (where a cut file stops). */
static int64_t last_line(const dk_docs *d) { return d->line + count_newlines(d->buf + d->pos, d->end - d->pos); }

/* Makes room and appends decompressed bytes at buf[end]; sets eof at the
 * end of the file (and failed when the file was cut or unreadable). */
static int read_more(dk_docs *d)
{
    if (d->pos > 0) {
        memmove(d->buf, d->buf + d->pos, d->end - d->pos);
        d->end -= d->pos;
        d->pos = 0;
    }
    if (d->end + READ_BLOCK / 4 >= d->cap) {
        size_t cap = d->cap * 2;
        char *b = realloc(d->buf, cap);
        if (!b) return dk_fail("out of memory reading %s", d->files[d->cur].path);
        d->buf = b;
        d->cap = cap;
    }
    size_t room = d->cap - d->end - 1; /* one byte stays free for the NUL after a record */
    if (!d->zst) {
        size_t n = fread(d->buf + d->end, 1, room, d->fp);
        d->end += n;
        d->file_read += (int64_t)n;
        if (n == 0) {
            d->eof = true;
            if (ferror(d->fp)) {
                d->failed = true;
                return dk_docs_bad(d, DK_BAD_UNREADABLE, last_line(d), "read error: %s", strerror(errno));
            }
        }
        return 0;
    }
    ZSTD_outBuffer zo = {d->buf + d->end, room, 0};
    /* Fill the room, not just one block: fewer rounds of scanning and moving the leftover. */
    while (zo.pos < zo.size) {
        if (d->zin_pos == d->zin_len && !d->raw_eof) {
            d->zin_len = fread(d->zin, 1, ZSTD_DStreamInSize(), d->fp);
            d->zin_pos = 0;
            d->file_read += (int64_t)d->zin_len;
            if (d->zin_len == 0) {
                d->raw_eof = true;
                if (ferror(d->fp)) {
                    d->eof = d->failed = true;
                    d->end += zo.pos;
                    return dk_docs_bad(d, DK_BAD_UNREADABLE, last_line(d), "read error: %s", strerror(errno));
                }
            }
        }
        ZSTD_inBuffer zi = {d->zin, d->zin_len, d->zin_pos};
        size_t before = zo.pos, consumed = d->zin_pos;
        size_t r = ZSTD_decompressStream(d->zs, &zo, &zi);
        d->zin_pos = zi.pos;
        if (ZSTD_isError(r)) {
            d->eof = d->failed = true;
            d->end += zo.pos;
            return dk_docs_bad(d, DK_BAD_TRUNCATED, last_line(d), "corrupt zstd data: %s", ZSTD_getErrorName(r));
        }
        if (zo.pos > before || zi.pos > consumed) d->zdone = r == 0; /* 0: a frame ended and is all out */
        if (d->raw_eof && zi.pos == zi.size && zo.pos == before) { /* nothing more will come */
            d->eof = true;
            if (!d->zdone && d->file_read > 0) {
                d->failed = true;
                d->end += zo.pos;
                return dk_docs_bad(d, DK_BAD_TRUNCATED, last_line(d), "zstd stream cut short");
            }
            break;
        }
    }
    d->end += zo.pos;
    return 0;
}

/* 1: the file is open and its first bytes read; 0: skipped (reported); -1: fatal. */
static int open_file(dk_docs *d)
{
    const dk_docs_file_entry *f = &d->files[d->cur];
    d->fmt = dk_docs_format_of(f->path, &d->zst);
    d->mode = d->fmt == DK_FORMAT_JSONL                         ? DK_REC_LINE
              : d->fmt == DK_FORMAT_CSV || d->fmt == DK_FORMAT_TSV ? DK_REC_CSV
              : d->fmt == DK_FORMAT_TXT && d->o.lines             ? DK_REC_LINE
                                                                  : DK_REC_WHOLE;
    d->pos = d->end = d->scan = 0;
    d->line = 1;
    d->eof = d->failed = d->raw_eof = d->nonblank = d->zdone = false;
    d->cstate = DK_CSV_START;
    d->file_read = 0;
    d->zin_pos = d->zin_len = 0;
    d->text_col = -1;
    d->fp = fopen(f->path, "rb");
    if (!d->fp) return dk_docs_bad(d, DK_BAD_UNREADABLE, 0, "%s", strerror(errno));
    struct stat st;
    if (fstat(fileno(d->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(d->fp);
        d->fp = NULL;
        return dk_docs_bad(d, DK_BAD_UNREADABLE, 0, "not a regular file");
    }
    if (d->zst) {
        if (!d->zs && !(d->zs = ZSTD_createDStream())) return dk_fail("out of memory for zstd");
        ZSTD_initDStream(d->zs);
    }
    /* Fill enough to look for NUL bytes: text never has them, binary files nearly always do. */
    while (!d->eof && d->end < BINARY_PROBE)
        if (read_more(d)) return -1;
    size_t probe = d->end < BINARY_PROBE ? d->end : BINARY_PROBE;
    const char *nul = memchr(d->buf, 0, probe);
    if (nul) {
        d->pos = d->end; /* nothing of it is read */
        d->eof = d->nonblank = true;
        return dk_docs_bad(d, DK_BAD_BINARY, 0, "binary file (NUL byte at offset %td)", nul - d->buf) ? -1 : 1;
    }
    if (d->end >= 3 && !memcmp(d->buf, "\xEF\xBB\xBF", 3)) d->pos = 3;
    return 1;
}

static int close_file(dk_docs *d)
{
    fclose(d->fp);
    d->fp = NULL;
    d->done_bytes += d->file_read;
    for (int i = 0; i < d->ncols; i++) free(d->cols[i]);
    free(d->cols);
    d->cols = NULL;
    d->ncols = 0;
    if (!d->nonblank && !d->failed) return dk_docs_bad(d, DK_BAD_EMPTY, 0, "empty file");
    return 0;
}

/* Looks for the end of the record that starts at pos; 1: found at *stop. */
static int scan(dk_docs *d, size_t *stop)
{
    size_t i = d->pos + d->scan;
    if (d->mode == DK_REC_LINE) {
        const char *nl = memchr(d->buf + i, '\n', d->end - i);
        if (nl) {
            *stop = (size_t)(nl - d->buf);
            return 1;
        }
    } else if (d->mode == DK_REC_CSV) {
        char delim = d->fmt == DK_FORMAT_TSV ? '\t' : ',';
        for (; i < d->end; i++) {
            if (dk_csv_step(&d->cstate, d->buf[i], delim) == DK_CSV_RECORD_END) {
                *stop = i;
                return 1;
            }
        }
    }
    d->scan = d->end - d->pos;
    return 0;
}

/* The next record of the open file: 1 (NUL-terminated in buf, a trailing \r
 * removed), 0 at the end of the file, -1 fatal. */
static int next_record(dk_docs *d, char **rec, size_t *len, int64_t *line)
{
    bool skipping = false;
    int64_t skipped_lines = 0;
    for (;;) {
        size_t stop;
        int found = scan(d, &stop);
        if (!found && d->eof) {
            if (d->pos == d->end && !skipping) return 0;
            if (d->failed) { /* the last record of a cut file is incomplete: it goes */
                d->pos = d->end;
                return 0;
            }
            if (d->mode == DK_REC_CSV && d->cstate == DK_CSV_QUOTED) {
                int64_t at = d->line;
                d->pos = d->end;
                d->nonblank = true;
                return dk_docs_bad(d, DK_BAD_CSV, at, "quoted field not closed before the end of the file");
            }
            stop = d->end;
            found = 1;
        }
        if (found) {
            char *r = d->buf + d->pos;
            size_t n = stop - d->pos;
            *line = d->line;
            d->line += 1 + skipped_lines + (d->mode == DK_REC_LINE ? 0 : count_newlines(r, n));
            d->pos = stop < d->end ? stop + 1 : stop;
            d->scan = 0;
            d->cstate = DK_CSV_START;
            if (skipping) {
                d->nonblank = true;
                if (dk_docs_bad(d, DK_BAD_TOO_LONG, *line, "document longer than %zu bytes", d->max_doc)) return -1;
                skipping = false;
                skipped_lines = 0;
                continue;
            }
            if (n > d->max_doc) { /* whole in the buffer, but over the limit all the same */
                d->nonblank = true;
                if (dk_docs_bad(d, DK_BAD_TOO_LONG, *line, "document longer than %zu bytes", d->max_doc)) return -1;
                continue;
            }
            if (n && r[n - 1] == '\r' && d->mode != DK_REC_WHOLE) n--;
            r[n] = '\0';
            *rec = r;
            *len = n;
            return 1;
        }
        if (d->end - d->pos > d->max_doc) {
            /* Too long to keep: drop what is buffered and look on for its end. */
            if (!skipping) *line = d->line;
            if (d->mode != DK_REC_LINE) skipped_lines += count_newlines(d->buf + d->pos, d->end - d->pos);
            skipping = true;
            d->pos = d->end;
            d->scan = 0;
        }
        if (read_more(d)) return -1;
    }
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\f' && s[i] != '\v') return false;
    return true;
}

/* Repairs invalid UTF-8 into d->fix; returns the record to use (NULL when out of memory). */
static char *valid_utf8(dk_docs *d, char *rec, size_t *len, int64_t line)
{
    size_t bad = dk_utf8_valid(rec, *len);
    if (bad == *len) return rec;
    if (3 * *len + 1 > d->fix_cap) {
        char *f = realloc(d->fix, 3 * *len + 1);
        if (!f) {
            dk_fail("out of memory repairing %s", d->files[d->cur].path);
            return NULL;
        }
        d->fix = f;
        d->fix_cap = 3 * *len + 1;
    }
    *len = dk_utf8_repair(rec, *len, d->fix);
    d->fix[*len] = '\0';
    dk_docs_bad(d, DK_BAD_UTF8, line, "invalid UTF-8 at byte %zu, replaced by U+FFFD", bad);
    return d->fix;
}

int dk_docs_next(dk_docs *d, dk_doc *doc)
{
    cJSON_Delete(d->meta);
    cJSON_Delete(d->text_item);
    d->meta = d->text_item = NULL;
    for (;;) {
        if (!d->fp) {
            if (d->cur + 1 >= d->nfiles) return 0;
            d->cur++;
            int r = open_file(d);
            if (r < 0) return -1;
            continue;
        }
        char *rec = NULL;
        size_t len = 0;
        int64_t line = 0;
        int r = next_record(d, &rec, &len, &line);
        if (r < 0) return -1;
        if (r == 0) {
            if (close_file(d)) return -1;
            continue;
        }
        if (is_blank(rec, len)) continue;
        d->nonblank = true;
        const char *nul = memchr(rec, 0, len);
        if (nul) {
            if (dk_docs_bad(d, DK_BAD_BINARY, line, "NUL byte at offset %td", nul - rec)) return -1;
            continue;
        }
        if (!(rec = valid_utf8(d, rec, &len, line))) return -1;
        memset(doc, 0, sizeof *doc);
        doc->path = d->files[d->cur].path;
        doc->line = line;
        doc->input = d->files[d->cur].input;
        doc->file = d->cur;
        doc->format = d->fmt;
        switch (d->fmt) {
        case DK_FORMAT_TXT:
            doc->text = rec;
            doc->len = len;
            r = 1;
            break;
        case DK_FORMAT_JSONL: r = dk_docs_parse_jsonl(d, rec, len, doc); break;
        case DK_FORMAT_CSV:
        case DK_FORMAT_TSV:
            r = d->text_col < 0 ? dk_docs_read_header(d, rec, len) : dk_docs_parse_csv(d, rec, len, doc);
            break;
        case DK_FORMAT_MARKDOWN: r = dk_docs_parse_markdown(d, rec, len, doc); break;
        }
        if (r < 0) return -1;
        if (r == 1) return 1;
    }
}

int dk_docs_current_file(const dk_docs *d) { return d->cur; }

cJSON *dk_docs_take_meta(dk_docs *d)
{
    cJSON *m = d->meta;
    d->meta = NULL;
    return m;
}

void dk_docs_progress(const dk_docs *d, int64_t *done, int64_t *total)
{
    *done = d->done_bytes + (d->fp ? d->file_read : 0);
    *total = d->total_bytes;
}

void dk_docs_close(dk_docs *d)
{
    if (!d) return;
    if (d->fp) fclose(d->fp);
    for (int i = 0; i < d->ncols; i++) free(d->cols[i]);
    free(d->cols);
    for (int i = 0; i < d->nfiles; i++) free(d->files[i].path);
    free(d->files);
    ZSTD_freeDStream(d->zs);
    cJSON_Delete(d->meta);
    cJSON_Delete(d->text_item);
    free(d->zin);
    free(d->buf);
    free(d->fix);
    free(d->field_buf);
    free(d->field_off);
    free(d);
}
