#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/peak.h"
#include "infer_cli.h"

int dk_gen_opts_check(dk_gen_opts *g, dk_cli *cli)
{
    int rc = dk_cli_apply(cli);
    if (rc >= 0) return rc;
    if (g->max_new < 0 || dk_sampler_config_check(&g->sampling)) {
        fprintf(stderr, "dokja: %s\nusage: %s (see --help)\n", g->max_new < 0 ? "--max-new-tokens must be >= 0" : dk_error(),
                cli->usage);
        return DK_EXIT_USAGE;
    }
    for (int i = 0; i < g->stop.count; i++)
        if (!*g->stop.items[i]) {
            fprintf(stderr, "dokja: --stop needs a non-empty text\n");
            return DK_EXIT_USAGE;
        }
    dk_set_threads(g->threads);
    if (!(g->be = dk_device_opts_backend(&g->dev))) return dk_cli_error();
    return -1;
}

int dk_gen_opts_use_device(const dk_gen_opts *g, dk_model *m)
{
    return dk_model_use(m, g->be);
}

void dk_gen_opts_free(dk_gen_opts *g)
{
    dk_strlist_free(&g->stop);
    dk_device_opts_free(&g->dev);
}

void dk_printer_init(dk_printer *p, const dk_lm *lm, const dk_gen_opts *g, bool ids)
{
    memset(p, 0, sizeof *p);
    dk_textstream_init(&p->ts, lm->tok, g->stop.items, g->stop.count);
    p->ids = ids || !lm->tok;
    p->think_end = lm->chat ? lm->ct.think_end : -1;
}

void dk_printer_free(dk_printer *p)
{
    dk_textstream_free(&p->ts);
    free(p->text);
    free(p->reasoning);
}

/* Prints text and keeps it (the chat history takes what was shown: valid UTF-8). */
static int emit(dk_printer *p, const char *text)
{
    size_t n = strlen(text);
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        while (cap < p->len + n + 1) cap *= 2;
        char *t = realloc(p->text, cap);
        if (!t) return dk_fail("out of memory");
        p->text = t;
        p->cap = cap;
    }
    memcpy(p->text + p->len, text, n + 1);
    p->len += n;
    if (!p->one_line) {
        fputs(text, stdout);
        return 0;
    }
    for (; *text; text++) {
        if (*text == '\n') fputs("\\n", stdout);
        else if (*text == '\r') fputs("\\r", stdout);
        else if (*text == '\\') fputs("\\\\", stdout);
        else putchar(*text);
    }
    return 0;
}

int dk_printer_token(int token, void *user)
{
    dk_printer *p = user;
    const char *delta;
    if (p->ids) {
        printf("%s%d", p->count++ ? "," : "", token);
    } else if (token == p->think_end && !p->reasoning) {
        if (dk_textstream_push(&p->ts, -1, true, &delta) || emit(p, delta)) return 1;
        p->reasoning = p->text ? p->text : strdup("");
        p->text = NULL;
        p->len = p->cap = 0;
        fputs(p->one_line ? "\\n</think>\\n" : "\n</think>\n", stdout);
        dk_textstream_reset(&p->ts);
    } else {
        if (dk_textstream_push(&p->ts, token, false, &delta) || emit(p, delta)) return 1;
    }
    fflush(stdout);
    return p->ts.stopped || (p->interrupted && *p->interrupted);
}

void dk_printer_finish(dk_printer *p)
{
    const char *delta;
    if (!p->ids && !dk_textstream_push(&p->ts, -1, true, &delta)) emit(p, delta);
    printf("\n");
    fflush(stdout);
}
