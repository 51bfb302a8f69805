/* Generated text for streaming: stop strings and whole UTF-8 characters. */
#include <stdlib.h>
#include <string.h>

#include "dokja/docs.h"
#include "dokja/error.h"
#include "dokja/infer.h"

void dk_textstream_init(dk_textstream *ts, const dk_tokenizer *tok, char *const *stop, int nstop)
{
    memset(ts, 0, sizeof *ts);
    ts->tok = tok;
    ts->stop = stop;
    ts->nstop = nstop;
}

void dk_textstream_free(dk_textstream *ts)
{
    free(ts->buf);
    free(ts->out);
    memset(ts, 0, sizeof *ts);
}

void dk_textstream_reset(dk_textstream *ts)
{
    ts->len = ts->shown = 0;
    ts->stopped = false;
}

static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    char *n = realloc(*p, c);
    if (!n) return dk_fail("out of memory for generated text");
    *p = n;
    *cap = c;
    return 0;
}

/* Where a character that the next token may complete starts: the last lead
 * byte among the final three, when its sequence is longer than what is there. */
static size_t incomplete_tail(const unsigned char *s, size_t from, size_t end)
{
    for (size_t k = end; k > from && end - k < 3;) {
        unsigned char c = s[--k];
        if ((c & 0xc0) == 0x80) continue;
        size_t want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        return want > end - k ? k : end;
    }
    return end;
}

/* The longest tail of the text that a stop string begins with. */
static size_t stop_prefix_tail(const dk_textstream *ts)
{
    size_t best = 0;
    for (int i = 0; i < ts->nstop; i++) {
        size_t L = strlen(ts->stop[i]);
        if (!L) continue;
        for (size_t k = L - 1 < ts->len - ts->shown ? L - 1 : ts->len - ts->shown; k > best; k--)
            if (!memcmp(ts->buf + ts->len - k, ts->stop[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

int dk_textstream_push(dk_textstream *ts, int token, bool flush, const char **delta)
{
    size_t blen = 0;
    const char *bytes = token >= 0 && ts->tok && !dk_tokenizer_is_special(ts->tok, token)
                            ? dk_tokenizer_token_bytes(ts->tok, token, &blen)
                            : NULL;
    if (grow(&ts->buf, &ts->cap, ts->len + blen + 1)) return -1;
    if (bytes && !ts->stopped) {
        memcpy(ts->buf + ts->len, bytes, blen);
        ts->len += blen;
    }
    size_t end = ts->len;
    for (int i = 0; !ts->stopped && i < ts->nstop; i++) {
        if (!*ts->stop[i]) continue;
        /* text already shown was never a stop string's start */
        char *hit = memmem(ts->buf + ts->shown, ts->len - ts->shown, ts->stop[i], strlen(ts->stop[i]));
        if (hit && (size_t)(hit - ts->buf) < end) end = (size_t)(hit - ts->buf);
    }
    if (end < ts->len) {
        ts->stopped = true;
        ts->len = end;
    } else if (!flush) {
        end -= stop_prefix_tail(ts);
    }
    /* Whole characters out; invalid bytes become U+FFFD as HF decodes them
     * (one per maximal invalid subsequence). */
    if (!flush && !ts->stopped) end = incomplete_tail((const unsigned char *)ts->buf, ts->shown, end);
    if (grow(&ts->out, &ts->out_cap, 3 * (end - ts->shown) + 1)) return -1;
    ts->out[dk_utf8_repair(ts->buf + ts->shown, end - ts->shown, ts->out)] = '\0';
    ts->shown = end;
    *delta = ts->out;
    return 0;
}
