/* Progress of long work: a bar redrawn in place on a terminal, one JSON
 * object per line otherwise (to stderr in both cases, so stdout stays data). */
#ifndef DK_PROGRESS_H
#define DK_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    int64_t total;
    double start;
    double last_draw;
    int tty;
} dk_progress;

void dk_progress_start(dk_progress *p, const char *label, int64_t total);
/* `extra` is a short text ("loss 3.21") on a terminal and a JSON fragment
 * without braces ("\"loss\":3.21") otherwise; either may be NULL. */
void dk_progress_update(dk_progress *p, int64_t done, const char *extra_text, const char *extra_json);
void dk_progress_finish(dk_progress *p);

/* Seconds on a monotonic clock. */
double dk_now(void);

#endif
