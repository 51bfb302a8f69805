/* A model's reply as text, for generation tasks and the arena: decoding
 * until a stop token, a stop string, max_new tokens or the end of the
 * context, kept as whole UTF-8 characters before the first stop string
 * (the streaming text of infer.h, gathered). */
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "dokja/error.h"
#include "eval_internal.h"

typedef struct {
    dk_textstream ts;
    dk_buf text;
    int failed;
} gather;

static int on_token(int token, void *user)
{
    gather *g = user;
    const char *delta;
    if (dk_textstream_push(&g->ts, token, false, &delta) || dk_buf_put(&g->text, delta, strlen(delta))) g->failed = 1;
    return g->failed || g->ts.stopped;
}

int dk_eval_reply(dk_model *m, const dk_tokenizer *tok, const int *prompt, int n, int max_new, const int *stop_ids,
                  int nstop_ids, char *const *stop, int nstop, dk_sampler *s, char **text, int *made)
{
    gather g = {0};
    dk_textstream_init(&g.ts, tok, stop, nstop);
    dk_gen gen = {.sampler = s, .max_new = max_new, .stop_ids = stop_ids, .nstop_ids = nstop_ids, .fn = on_token, .user = &g};
    const char *delta;
    int rc = dk_buf_put(&g.text, "", 0) || dk_gen_run(m, &gen, prompt, n) < 0 ? -1 : 0;
    if (!rc && (g.failed || dk_textstream_push(&g.ts, -1, true, &delta) || dk_buf_put(&g.text, delta, strlen(delta))))
        rc = dk_fail("out of memory gathering a reply");
    dk_textstream_free(&g.ts);
    if (rc) {
        dk_buf_free(&g.text);
        return -1;
    }
    *text = g.text.p;
    *made = gen.made;
    return 0;
}
