#include "dokja/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double dk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dk_progress_start(dk_progress *p, const char *label, int64_t total)
{
    p->label = label;
    p->total = total;
    p->start = dk_now();
    p->last_draw = 0;
    p->tty = isatty(fileno(stderr));
}

static void format_eta(double s, char *buf, size_t n)
{
    if (s < 0 || s > 1e7) snprintf(buf, n, "--:--");
    else if (s >= 3600) snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, ((int)s / 60) % 60, (int)s % 60);
    else snprintf(buf, n, "%02d:%02d", (int)s / 60, (int)s % 60);
}

void dk_progress_update(dk_progress *p, int64_t done, const char *extra_text, const char *extra_json)
{
    double now = dk_now();
    int last = done >= p->total;
    /* A terminal is redrawn at most 10 times a second; a log gets a line at most every 2 s. */
    if (!last && now - p->last_draw < (p->tty ? 0.1 : 2.0)) return;
    p->last_draw = now;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : -1;
    if (p->tty) {
        int width = 24, fill = p->total > 0 ? (int)(width * (double)done / (double)p->total) : 0;
        char bar[32], etas[16];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        format_eta(eta, etas, sizeof etas);
        fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s%s eta %s", p->label, bar, (long long)done, (long long)p->total,
                extra_text ? extra_text : "", extra_text ? " |" : "", etas);
    } else {
        fprintf(stderr, "{\"progress\":\"%s\",\"done\":%lld,\"total\":%lld,\"elapsed_s\":%.1f,\"eta_s\":%.1f%s%s}\n", p->label,
                (long long)done, (long long)p->total, elapsed, eta < 0 ? 0.0 : eta, extra_json ? "," : "",
                extra_json ? extra_json : "");
    }
    fflush(stderr);
}

void dk_progress_finish(dk_progress *p)
{
    if (p->tty) fputc('\n', stderr);
}
