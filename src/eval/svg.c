/* Line charts as standalone SVG text for the report: axes with round ticks,
 * one polyline per series (at most DK_SVG_POINTS points each, evenly
 * picked), a legend. No scripts, no fonts to fetch. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"
#include "report_internal.h"

#define W 640
#define H 300
#define ML 64 /* margins: left, right, top, bottom */
#define MR 16
#define MT 28
#define MB 40

static int put(dk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(dk_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return dk_buf_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A tick step of 1, 2 or 5 times a power of ten giving about five ticks. */
static double tick_step(double lo, double hi)
{
    double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void range(const dk_series *s, int ns, bool y, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) {
            double v = y ? s[k].y[i] : s[k].x[i];
            if (!isfinite(v)) continue;
            *lo = v < *lo ? v : *lo;
            *hi = v > *hi ? v : *hi;
        }
    if (!isfinite(*lo)) *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-12 * (fabs(*hi) + 1)) *lo -= 0.5 * (fabs(*lo) + 1e-3), *hi += 0.5 * (fabs(*hi) + 1e-3);
}

static void label(char *buf, size_t n, double v)
{
    if (v != 0 && (fabs(v) < 1e-4 || fabs(v) >= 1e6)) snprintf(buf, n, "%.1e", v);
    else snprintf(buf, n, "%g", fabs(v) < 1e-12 ? 0 : v);
}

char *dk_svg_chart(const char *title, const char *xlabel, const char *ylabel, const dk_series *s, int ns)
{
    static const char *const colors[] = {"#2563eb", "#dc2626", "#16a34a", "#9333ea"};
    double x0, x1, y0, y1;
    range(s, ns, false, &x0, &x1);
    range(s, ns, true, &y0, &y1);
    double ys = tick_step(y0, y1), xs = tick_step(x0, x1);
    y0 = floor(y0 / ys) * ys, y1 = ceil(y1 / ys) * ys;
    double pw = W - ML - MR, ph = H - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + ph - ((v) - y0) / (y1 - y0) * ph)
    dk_buf b = {0};
    int bad = put(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
                      "font-family=\"sans-serif\" font-size=\"11\">\n<title>%s</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
                      "<text x=\"%d\" y=\"16\" font-size=\"13\" font-weight=\"bold\">%s</text>\n",
                  W, H, W, H, title, W, H, ML, title);
    char l[32];
    for (double v = y0; !bad && v <= y1 + ys / 2; v += ys) {
        label(l, sizeof l, v);
        bad = put(&b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  ML, W - MR, PY(v), PY(v), ML - 6, PY(v) + 4, l);
    }
    for (double v = ceil(x0 / xs) * xs; !bad && v <= x1 + xs / 1e6; v += xs) {
        label(l, sizeof l, v);
        bad = put(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#888\"/><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                  PX(v), PX(v), H - MB, H - MB + 4, PX(v), H - MB + 16, l);
    }
    if (!bad)
        bad = put(&b, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n"
                      "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
                      "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
                  ML, MT, pw, ph, ML + pw / 2, H - 6, xlabel, MT + ph / 2, ylabel);
    for (int k = 0; !bad && k < ns; k++) {
        const char *c = colors[k % 4];
        bad = put(&b, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
        int stride = s[k].n > DK_SVG_POINTS ? (s[k].n + DK_SVG_POINTS - 1) / DK_SVG_POINTS : 1;
        for (int i = 0; !bad && i < s[k].n; i++) {
            if (i % stride && i != s[k].n - 1) continue;
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            bad = put(&b, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
        }
        if (!bad)
            bad = put(&b, "\"/>\n<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
                      W - MR - 150, MT + 10 + 16 * k, c, W - MR - 134, MT + 14 + 16 * k, s[k].name);
    }
    if (!bad) bad = put(&b, "</svg>\n");
    if (bad) {
        dk_buf_free(&b);
        dk_fail("out of memory drawing %s", title);
        return NULL;
    }
    return b.p;
#undef PX
#undef PY
}
