/* One sequence through the model: prefill a prompt in one pass (GEMMs over
 * all its tokens), then one token at a time against the KV cache. */
#include <string.h>

#include "dokja/error.h"
#include "dokja/infer.h"
#include "dokja/layers.h"

int dk_infer_begin(dk_model *m, int max_prefill, int context)
{
    if (context > m->cfg.max_position_embeddings)
        return dk_fail("a context of %d tokens exceeds the model's max_position_embeddings (%d)", context,
                       m->cfg.max_position_embeddings);
    return dk_model_alloc_acts(m, 1, max_prefill, context, false);
}

float *dk_infer_step(dk_model *m, const int *tokens, int n, int pos0)
{
    dk_acts *a = &m->acts;
    int C = m->cfg.hidden_size;
    memcpy(a->tokens, tokens, sizeof *tokens * (size_t)n);
    dk_model_forward_layers(m, 1, n, pos0);
    /* Only the last position's logits are needed to continue. */
    dk_matmul_forward(a->logits, a->lnf + (size_t)(n - 1) * C, m->params.lm_head, 1, C, m->cfg.vocab_size);
    return a->logits;
}

int dk_generate(dk_model *m, const int *prompt, int n, int max_new, int stop_id, dk_sampler *s, dk_token_fn fn, void *user)
{
    int ctx = m->cfg.max_position_embeddings;
    if (n <= 0) return dk_fail("the prompt is empty");
    if (n >= ctx) return dk_fail("the prompt has %d tokens; the model's context is %d", n, ctx);
    for (int i = 0; i < n; i++)
        if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab_size)
            return dk_fail("prompt token %d (id %d) is outside the vocabulary of %d", i, prompt[i], m->cfg.vocab_size);
    /* Generation stops at the end of the context rather than sliding it. */
    if (max_new > ctx - n) max_new = ctx - n;
    if (dk_infer_begin(m, n, n + max_new)) return -1;
    float *logits = dk_infer_step(m, prompt, n, 0);
    int made = 0;
    while (made < max_new) {
        int tok = dk_sampler_sample(s, logits);
        made++;
        if ((fn && fn(tok, user)) || tok == stop_id || made == max_new) break;
        logits = dk_infer_step(m, &tok, 1, n + made - 1);
    }
    return made;
}
