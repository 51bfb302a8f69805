/* The report's blocks and their two writers: Markdown (tables, fenced code,
 * figures as .svg files beside it) and one HTML page with the SVG inline,
 * its style in the page, nothing fetched. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "report_internal.h"

typedef enum { HEADING, TEXT, CODE, TABLE, FIGURE } kind;

typedef struct {
    kind k;
    int level, ncols, nrows;
    char *text;   /* heading, text, code; figure: its caption */
    char **cells; /* table: (1 + nrows) * ncols */
    char *name, *svg;
} block;

struct dk_doc {
    block *b;
    int n, cap;
    bool failed;
};

dk_doc *dk_doc_new(void) { return dk_calloc(1, sizeof(dk_doc)); }

void dk_doc_free(dk_doc *d)
{
    for (int i = 0; d && i < d->n; i++) {
        block *b = &d->b[i];
        free(b->text), free(b->name), free(b->svg);
        for (int c = 0; b->cells && c < (1 + b->nrows) * b->ncols; c++) free(b->cells[c]);
        free(b->cells);
    }
    if (d) free(d->b);
    free(d);
}

static block *add(dk_doc *d, kind k)
{
    if (d->n == d->cap) {
        block *g = realloc(d->b, sizeof *g * (size_t)(d->cap = d->cap ? 2 * d->cap : 32));
        if (!g) {
            d->failed = true;
            d->cap = d->n;
            return NULL;
        }
        d->b = g;
    }
    block *b = &d->b[d->n++];
    memset(b, 0, sizeof *b);
    b->k = k;
    return b;
}

static char *vformat(const char *fmt, va_list ap)
{
    char *s = NULL;
    return vasprintf(&s, fmt, ap) < 0 ? NULL : s;
}

void dk_doc_heading(dk_doc *d, int level, const char *fmt, ...)
{
    block *b = add(d, HEADING);
    va_list ap;
    va_start(ap, fmt);
    if (b && !(b->text = vformat(fmt, ap))) d->failed = true;
    va_end(ap);
    if (b) b->level = level;
}

void dk_doc_text(dk_doc *d, const char *fmt, ...)
{
    block *b = add(d, TEXT);
    va_list ap;
    va_start(ap, fmt);
    if (b && !(b->text = vformat(fmt, ap))) d->failed = true;
    va_end(ap);
}

void dk_doc_code(dk_doc *d, const char *text)
{
    block *b = add(d, CODE);
    if (b && !(b->text = strdup(text))) d->failed = true;
}

void dk_doc_table(dk_doc *d, int ncols, const char *const *header)
{
    block *b = add(d, TABLE);
    if (!b) return;
    b->ncols = ncols;
    b->nrows = -1;
    dk_doc_row(d, header);
}

void dk_doc_row(dk_doc *d, const char *const *cells)
{
    block *b = d->n ? &d->b[d->n - 1] : NULL;
    if (!b || b->k != TABLE) {
        d->failed = true;
        return;
    }
    char **g = realloc(b->cells, sizeof *g * (size_t)((b->nrows + 2) * b->ncols));
    if (!g) {
        d->failed = true;
        return;
    }
    b->cells = g;
    for (int c = 0; c < b->ncols; c++)
        if (!(g[(b->nrows + 1) * b->ncols + c] = strdup(cells[c] ? cells[c] : ""))) d->failed = true;
    b->nrows++;
}

void dk_doc_figure(dk_doc *d, const char *name, char *svg, const char *caption)
{
    block *b = add(d, FIGURE);
    if (!b || !svg) {
        free(svg);
        d->failed = true;
        return;
    }
    b->svg = svg;
    if (!(b->name = strdup(name)) || !(b->text = strdup(caption))) d->failed = true;
}

/* Text with the characters special to the format escaped. */
static int esc(dk_buf *o, const char *s, bool html, bool cell)
{
    for (; *s; s++) {
        const char *e = NULL;
        if (html) e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
        else if (cell) e = *s == '|' ? "\\|" : *s == '\n' ? " " : NULL;
        if (e ? dk_buf_put(o, e, strlen(e)) : dk_buf_put(o, s, 1)) return -1;
    }
    return 0;
}

#define PUT(o, s) dk_buf_put(o, s, strlen(s))

static int markdown(const dk_doc *d, dk_buf *o)
{
    int rc = 0;
    for (int i = 0; !rc && i < d->n; i++) {
        const block *b = &d->b[i];
        switch (b->k) {
        case HEADING:
            for (int l = 0; l < b->level; l++) rc |= PUT(o, "#");
            rc |= PUT(o, " ") || esc(o, b->text, false, false) || PUT(o, "\n\n");
            break;
        case TEXT: rc |= esc(o, b->text, false, false) || PUT(o, "\n\n"); break;
        case CODE: rc |= PUT(o, "```\n") || PUT(o, b->text) || PUT(o, "\n```\n\n"); break;
        case FIGURE: rc |= PUT(o, "![") || esc(o, b->text, false, true) || PUT(o, "](") || PUT(o, b->name) || PUT(o, ".svg)\n\n"); break;
        case TABLE:
            for (int r = 0; !rc && r <= b->nrows; r++) {
                for (int c = 0; c < b->ncols; c++) rc |= PUT(o, "| ") || esc(o, b->cells[r * b->ncols + c], false, true) || PUT(o, " ");
                rc |= PUT(o, "|\n");
                for (int c = 0; !r && c < b->ncols; c++) rc |= PUT(o, c ? "---|" : "|---|");
                if (!r) rc |= PUT(o, "\n");
            }
            rc |= PUT(o, "\n");
            break;
        }
    }
    return rc ? -1 : 0;
}

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:60em;margin:0 auto;padding:16px;color:#111;background:#fff}"
    "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "th{background:#f3f4f6}td{font-variant-numeric:tabular-nums}pre{background:#f3f4f6;padding:8px;white-space:pre-wrap}"
    "figure{margin:8px 0 16px}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}";

static int html(const dk_doc *d, const char *title, dk_buf *o)
{
    int rc = PUT(o, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>") || esc(o, title, true, false) ||
             PUT(o, "</title>\n<style>") || PUT(o, style) || PUT(o, "</style>\n</head>\n<body>\n");
    for (int i = 0; !rc && i < d->n; i++) {
        const block *b = &d->b[i];
        char tag[16];
        switch (b->k) {
        case HEADING:
            snprintf(tag, sizeof tag, "h%d", b->level < 6 ? b->level : 6);
            rc |= PUT(o, "<") || PUT(o, tag) || PUT(o, ">") || esc(o, b->text, true, false) || PUT(o, "</") || PUT(o, tag) || PUT(o, ">\n");
            break;
        case TEXT: rc |= PUT(o, "<p>") || esc(o, b->text, true, false) || PUT(o, "</p>\n"); break;
        case CODE: rc |= PUT(o, "<pre>") || esc(o, b->text, true, false) || PUT(o, "</pre>\n"); break;
        case FIGURE:
            rc |= PUT(o, "<figure id=\"fig-") || esc(o, b->name, true, false) || PUT(o, "\">\n") || PUT(o, b->svg) ||
                  PUT(o, "<figcaption>") || esc(o, b->text, true, false) || PUT(o, "</figcaption></figure>\n");
            break;
        case TABLE:
            rc |= PUT(o, "<table>\n");
            for (int r = 0; !rc && r <= b->nrows; r++) {
                rc |= PUT(o, "<tr>");
                for (int c = 0; c < b->ncols; c++)
                    rc |= PUT(o, r ? "<td>" : "<th>") || esc(o, b->cells[r * b->ncols + c], true, false) || PUT(o, r ? "</td>" : "</th>");
                rc |= PUT(o, "</tr>\n");
            }
            rc |= PUT(o, "</table>\n");
            break;
        }
    }
    rc |= PUT(o, "</body>\n</html>\n");
    return rc ? -1 : 0;
}

static int write_file(const char *dir, const char *name, const char *text)
{
    char *p = dk_path_join(dir, name);
    int rc = p ? dk_write_file_atomic(p, text, strlen(text)) : -1;
    free(p);
    return rc;
}

int dk_doc_write(const dk_doc *d, const char *dir, const char *title)
{
    if (d->failed) return dk_fail("out of memory writing the report");
    dk_buf md = {0}, h = {0};
    int rc = dk_mkdirs(dir);
    for (int i = 0; !rc && i < d->n; i++)
        if (d->b[i].k == FIGURE) {
            char *name = dk_strdupf("%s.svg", d->b[i].name);
            rc = name ? write_file(dir, name, d->b[i].svg) : -1;
            free(name);
        }
    if (!rc) rc = markdown(d, &md) || html(d, title, &h) || dk_buf_put(&md, "", 0) || dk_buf_put(&h, "", 0)
                      ? dk_fail("out of memory writing the report")
                      : 0;
    /* the HTML last: a reader polling for it finds the rest in place */
    if (!rc) rc = write_file(dir, "report.md", md.p) || write_file(dir, "report.html", h.p) ? -1 : 0;
    dk_buf_free(&md);
    dk_buf_free(&h);
    return rc;
}
