/* Perplexity along the decoding path: one token at a time against the KV
 * cache, so int8 models are measured through the kernels that decode. */
#include <math.h>

#include "dokja/error.h"
#include "dokja/infer.h"
#include "dokja/progress.h"

int dk_perplexity(dk_model *m, const int *ids, int n, int window, double *ppl)
{
    if (window < 2 || window > m->cfg.max_position_embeddings) window = m->cfg.max_position_embeddings;
    if (n < 2) return dk_fail("perplexity needs at least 2 tokens");
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) return dk_fail("token %d (id %d) is outside the vocabulary", i, ids[i]);
    if (dk_infer_begin(m, 1, 1, window)) return -1;
    int V = m->cfg.vocab_size, slot = 0;
    double nll = 0;
    long scored = 0;
    dk_progress pr;
    dk_progress_start(&pr, "perplexity", n);
    /* windows of `window` tokens, each started afresh; every token after a window's first is scored */
    for (int w0 = 0; w0 + 1 < n; w0 += window) {
        int len = n - w0 < window ? n - w0 : window;
        for (int t = 0; t + 1 < len; t++) {
            float *logits = dk_infer_batch(m, 1, 1, ids + w0 + t, &slot, &t);
            double mx = logits[0], sum = 0;
            for (int v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < V; v++) sum += exp(logits[v] - mx);
            nll += mx + log(sum) - logits[ids[w0 + t + 1]];
            scored++;
        }
        dk_progress_update(&pr, w0 + len, NULL, NULL);
    }
    dk_progress_finish(&pr);
    *ppl = exp(nll / (double)scored);
    return 0;
}
