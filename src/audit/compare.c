/* dokja audit compare: do two models share weights?
 *
 * 1. Tokenizers: shared vocabulary and merges.
 * 2. The residual basis of B is aligned to A's on the embeddings of the
 *    tokens both vocabularies hold: a permutation (with signs) of B's hidden
 *    dimensions, solved as an assignment on |correlation| of embedding columns.
 * 3. Norm weights: cosine (reported, not evidence) and Pearson correlation
 *    with a shuffle-null p-value.
 * 4. MLP units, after Zhu, Ahmed, Kuditipudi & Liang, "Independence Tests for
 *    Language Models" (ICML 2025): per layer, B's hidden units are matched to
 *    A's twice, once on gate_proj rows and once on up_proj rows (each an
 *    assignment on cosine similarity), and Spearman's rho between the two
 *    matchings gives a p-value; Fisher's method combines the layers.
 *    Permuting B's units moves both matchings alike, and every input column
 *    is standardised first, so folding norm scales into the matrices (or any
 *    per-dimension rescaling) changes nothing. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/audit.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/progress.h"
#include "dokja/stats.h"

/* More shared tokens than this add little to a C x C correlation; keep every k-th. */
#define MAX_ALIGN_TOKENS 65536
/* A residual alignment is used when its matched dimensions correlate at
 * least this much on average (derived models: ~1; unrelated ones: the
 * largest of C x C noise correlations, ~0.3 for a few hundred tokens). */
#define MIN_ALIGN_R 0.5

typedef struct {
    dk_hf_model a, b;
    dk_vocab va, vb;
    bool have_va, have_vb;
    const dk_compare_opts *o;
    FILE *out;
    cJSON *report;
    int *perm;   /* B's hidden dimension matched to each of A's (NULL: as stored) */
    float *sign; /* and its sign */
} comparison;

static cJSON *describe(const dk_hf_model *m, FILE *out, const char *label)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dir", m->dir);
    cJSON_AddStringToObject(j, "model_type", m->model_type);
    cJSON_AddNumberToObject(j, "hidden_size", m->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", m->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", m->num_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", m->num_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", m->num_kv_heads);
    cJSON_AddNumberToObject(j, "vocab_size", m->vocab_size);
    fprintf(out, "%s: %s (%s, %d layers, hidden %d, MLP %d, %d/%d heads, vocabulary %d)\n", label, m->dir, m->model_type,
            m->num_layers, m->hidden_size, m->intermediate_size, m->num_heads, m->num_kv_heads, m->vocab_size);
    return j;
}

static cJSON *overlap(const dk_vocab *a, const dk_vocab *b, FILE *out)
{
    int *ia, *ib, shared = 0, merges = dk_vocab_shared_merges(a, b);
    if (dk_vocab_match(a, b, a->size, b->size, &ia, &ib, &shared)) return NULL;
    free(ia);
    free(ib);
    int smaller = a->count < b->count ? a->count : b->count;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "a_tokens", a->count);
    cJSON_AddNumberToObject(j, "b_tokens", b->count);
    cJSON_AddNumberToObject(j, "shared_tokens", shared);
    cJSON_AddNumberToObject(j, "shared_of_smaller", smaller ? (double)shared / smaller : 0);
    cJSON_AddNumberToObject(j, "a_merges", a->nmerges);
    cJSON_AddNumberToObject(j, "b_merges", b->nmerges);
    cJSON_AddNumberToObject(j, "shared_merges", merges);
    fprintf(out, "tokenizer: %d shared tokens of %d (A) and %d (B), %.1f%% of the smaller; %d shared merges of %d and %d\n",
            shared, a->count, b->count, smaller ? 100.0 * shared / smaller : 0.0, merges, a->nmerges, b->nmerges);
    return j;
}

/* A's id and B's id of each token both models embed. */
static int shared_ids(comparison *c, int rows_a, int rows_b, int **ia, int **ib, int *n, const char **how)
{
    if (c->have_va && c->have_vb) {
        *how = "token strings of tokenizer.json";
        return dk_vocab_match(&c->va, &c->vb, rows_a, rows_b, ia, ib, n);
    }
    *n = 0;
    *ia = *ib = NULL;
    *how = "none (a tokenizer.json is missing and the vocabulary sizes differ)";
    if (rows_a != rows_b) return 0;
    *how = "token ids (a tokenizer.json is missing; the vocabulary sizes agree)";
    *ia = dk_malloc(sizeof **ia * (size_t)rows_a);
    *ib = dk_malloc(sizeof **ib * (size_t)rows_a);
    if (!*ia || !*ib) return -1;
    for (int i = 0; i < rows_a; i++) (*ia)[i] = (*ib)[i] = i;
    *n = rows_a;
    return 0;
}

/* Centres every column of x (rows, C) and scales it to unit length (a
 * constant column becomes 0), so that no per-dimension scale matters. */
static int standardise_columns(float *x, int64_t rows, int64_t C)
{
    double *mean = dk_calloc((size_t)C, sizeof *mean), *ss = dk_calloc((size_t)C, sizeof *ss);
    bool ok = mean && ss;
    for (int64_t r = 0; ok && r < rows; r++)
        for (int64_t d = 0; d < C; d++) mean[d] += x[r * C + d];
    for (int64_t d = 0; ok && d < C; d++) mean[d] /= (double)rows;
    for (int64_t r = 0; ok && r < rows; r++)
        for (int64_t d = 0; d < C; d++) {
            double v = x[r * C + d] - mean[d];
            ss[d] += v * v;
        }
    for (int64_t r = 0; ok && r < rows; r++)
        for (int64_t d = 0; d < C; d++) x[r * C + d] = ss[d] > 0 ? (float)((x[r * C + d] - mean[d]) / sqrt(ss[d])) : 0.0f;
    free(mean);
    free(ss);
    return ok ? 0 : -1;
}

/* Rows `ids` (every stride-th) of an embedding (.., C), columns standardised. */
static float *standardised_rows(const float *e, int64_t C, const int *ids, int n, int stride)
{
    int m = (n + stride - 1) / stride;
    float *x = dk_malloc(sizeof *x * (size_t)m * (size_t)C);
    for (int r = 0; x && r < m; r++) memcpy(x + (size_t)r * C, e + (size_t)ids[r * stride] * C, sizeof *x * (size_t)C);
    if (x && standardise_columns(x, m, C)) {
        free(x);
        x = NULL;
    }
    return x;
}

static int align_residual(comparison *c, cJSON *j)
{
    int64_t C = c->a.hidden_size, ra, rb, ca, cb;
    float *ea = dk_hf_model_tensor(&c->a, DK_ROLE_EMBED, 0, 0, &ra, &ca);
    float *eb = ea ? dk_hf_model_tensor(&c->b, DK_ROLE_EMBED, 0, 0, &rb, &cb) : NULL;
    int *ia = NULL, *ib = NULL, n = 0, rc = eb ? 0 : -1;
    const char *how = "";
    if (!rc) rc = shared_ids(c, (int)ra, (int)rb, &ia, &ib, &n, &how);
    cJSON_AddStringToObject(j, "tokens_matched_by", how);
    cJSON_AddNumberToObject(j, "tokens", n);
    if (!rc && n < 2) {
        fprintf(c->out, "residual basis: not aligned (no shared tokens to align on); compared as stored\n");
        cJSON_AddStringToObject(j, "basis", "as stored");
    } else if (!rc) {
        int stride = n > MAX_ALIGN_TOKENS ? (n + MAX_ALIGN_TOKENS - 1) / MAX_ALIGN_TOKENS : 1, m = (n + stride - 1) / stride;
        float *x = standardised_rows(ea, C, ia, n, stride), *y = x ? standardised_rows(eb, C, ib, n, stride) : NULL;
        float *r = y ? dk_malloc(sizeof *r * (size_t)(C * C)) : NULL, *cost = r ? dk_malloc(sizeof *cost * (size_t)(C * C)) : NULL;
        c->perm = dk_malloc(sizeof *c->perm * (size_t)C);
        c->sign = dk_malloc(sizeof *c->sign * (size_t)C);
        rc = cost && c->perm && c->sign ? 0 : -1;
        if (!rc) {
            /* r[d][e]: correlation over the shared tokens of A's dimension d and B's e. */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C, (int)C, m, 1.0f, x, (int)C, y, (int)C, 0.0f, r, (int)C);
            for (int64_t k = 0; k < C * C; k++) cost[k] = -fabsf(r[k]);
            rc = dk_lap_solve(cost, (int)C, c->perm, NULL);
        }
        if (!rc) {
            int moved = 0, flips = 0;
            double sum = 0;
            for (int64_t d = 0; d < C; d++) {
                float v = r[d * C + c->perm[d]];
                c->sign[d] = v < 0 ? -1.0f : 1.0f;
                moved += c->perm[d] != d;
                flips += v < 0;
                sum += fabsf(v);
            }
            /* A permutation found among unrelated embeddings is noise that would
             * tie the two models' weights together; only a clear one is used. */
            bool clear = sum / (double)C >= MIN_ALIGN_R;
            const char *basis = !moved && !flips ? "identity" : clear ? "permuted" : "as stored";
            fprintf(c->out, "residual basis: aligned on %d shared tokens' embeddings (matched by %s): %s; mean |r| of matched "
                            "dimensions %.3f\n",
                    n, how,
                    !moved && !flips ? "the identity"
                    : clear          ? "B's dimensions are permuted or sign-flipped"
                                     : "no clear correspondence, so compared as stored",
                    sum / (double)C);
            if (clear && (moved || flips)) fprintf(c->out, "  %d of %lld dimensions moved, %d sign flips\n", moved, (long long)C, flips);
            if (!clear || (!moved && !flips)) {
                free(c->perm), free(c->sign);
                c->perm = NULL, c->sign = NULL;
            }
            cJSON_AddStringToObject(j, "basis", basis);
            cJSON_AddNumberToObject(j, "moved", moved);
            cJSON_AddNumberToObject(j, "sign_flips", flips);
            cJSON_AddNumberToObject(j, "mean_abs_r", sum / (double)C);
        }
        free(x), free(y), free(r), free(cost);
    }
    free(ea), free(eb), free(ia), free(ib);
    return rc;
}

/* B's vector in A's basis. */
static void to_a_basis(const comparison *c, float *v, int64_t n, float *tmp)
{
    if (!c->perm) return;
    for (int64_t d = 0; d < n; d++) tmp[d] = v[c->perm[d]];
    memcpy(v, tmp, sizeof *v * (size_t)n);
}

static int norm_row(comparison *c, cJSON *rows, dk_role role, int layer, int which, const char *name, int index)
{
    int64_t na, nb, one;
    float *a = dk_hf_model_tensor(&c->a, role, layer, which, &na, &one);
    float *b = a ? dk_hf_model_tensor(&c->b, role, layer, which, &nb, &one) : NULL;
    float *tmp = b ? dk_malloc(sizeof *tmp * (size_t)nb) : NULL;
    int rc = tmp ? 0 : -1;
    if (!rc) {
        to_a_basis(c, b, nb, tmp);
        double cos = dk_cosine(a, b, (size_t)na), r = dk_pearson(a, b, (size_t)na);
        double p = dk_pearson_shuffle_p(a, b, (size_t)na, c->o->shuffles, c->o->seed + (uint64_t)index);
        cJSON *j = cJSON_CreateObject();
        if (layer >= 0) cJSON_AddNumberToObject(j, "layer", layer);
        cJSON_AddStringToObject(j, "tensor", name);
        cJSON_AddNumberToObject(j, "cosine", cos);
        cJSON_AddNumberToObject(j, "pearson", r);
        cJSON_AddNumberToObject(j, "p_shuffle", p);
        cJSON_AddItemToArray(rows, j);
        char lay[16], ps[16];
        if (layer >= 0) snprintf(lay, sizeof lay, "%d", layer);
        else snprintf(lay, sizeof lay, "-");
        if (isnan(p)) snprintf(ps, sizeof ps, "constant");
        else snprintf(ps, sizeof ps, "%.2g", p);
        fprintf(c->out, "  %-5s %-28s %8.4f %9.4f %10s\n", lay, name, cos, r, ps);
    }
    free(a), free(b), free(tmp);
    return rc;
}

static int compare_norms(comparison *c, cJSON *j)
{
    fprintf(c->out,
            "\nnorm weights: cosine similarity is near 1 for ANY two models, related or not, because RMSNorm/LayerNorm\n"
            "weights all sit near 1.0 (two vectors of ~1s point the same way), so it is not evidence. What carries\n"
            "information is whether the deviations agree: Pearson's r, with a p-value from %d random shuffles.\n"
            "  %-5s %-28s %8s %9s %10s\n",
            c->o->shuffles, "layer", "tensor", "cosine", "pearson", "p(shuffle)");
    cJSON_AddStringToObject(j, "note", "cosine of norm weights is near 1 for any two models because the weights sit near 1.0; "
                                       "Pearson correlation with a shuffle null is the evidence");
    cJSON *rows = cJSON_AddArrayToObject(j, "tensors");
    int layers = c->a.num_layers < c->b.num_layers ? c->a.num_layers : c->b.num_layers, index = 0;
    for (int l = 0; l < layers; l++)
        for (int k = 0; c->a.arch->norms[k]; k++)
            if (c->b.arch->norms[k] && !strcmp(c->a.arch->norms[k], c->b.arch->norms[k]) &&
                norm_row(c, rows, DK_ROLE_NORM, l, k, c->a.arch->norms[k], index++))
                return -1;
    return norm_row(c, rows, DK_ROLE_FINAL_NORM, -1, 0, "norm (final)", index);
}

/* Rows of an MLP matrix (nu, C) as unit vectors, after every input column is
 * taken through the residual alignment (B only) and standardised over the rows. */
static int unit_features(const comparison *c, float *w, int64_t nu, int64_t C, bool is_b)
{
    float *tmp = dk_malloc(sizeof *tmp * (size_t)C);
    if (!tmp) return -1;
    for (int64_t i = 0; is_b && i < nu; i++) {
        float *row = w + i * C;
        to_a_basis(c, row, C, tmp);
        for (int64_t d = 0; c->sign && d < C; d++) row[d] *= c->sign[d];
    }
    free(tmp);
    if (standardise_columns(w, nu, C)) return -1;
    for (int64_t i = 0; i < nu; i++) {
        float *row = w + i * C;
        double len = 0;
        for (int64_t d = 0; d < C; d++) len += (double)row[d] * row[d];
        for (int64_t d = 0; d < C && len > 0; d++) row[d] = (float)(row[d] / sqrt(len));
    }
    return 0;
}

/* -cos(A's unit i, B's unit k) for one of gate or up: the assignment's cost. */
static float *unit_cost(comparison *c, dk_role role, int layer, int64_t *nu)
{
    int64_t C = c->a.hidden_size, ia, ib, cols;
    float *a = dk_hf_model_tensor(&c->a, role, layer, 0, &ia, &cols);
    float *b = a ? dk_hf_model_tensor(&c->b, role, layer, 0, &ib, &cols) : NULL;
    float *cost = b ? dk_malloc(sizeof *cost * (size_t)(ia * ib)) : NULL;
    if (cost && !unit_features(c, a, ia, C, false) && !unit_features(c, b, ib, C, true))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ia, (int)ib, (int)C, -1.0f, a, (int)C, b, (int)C, 0.0f, cost,
                    (int)ib);
    else {
        free(cost);
        cost = NULL;
    }
    if (cost) *nu = ia;
    free(a), free(b);
    return cost;
}

static int mlp_layer(comparison *c, int l, cJSON *rows, double *log_p)
{
    double t0 = dk_now();
    int64_t nu = 0;
    float *cg = unit_cost(c, DK_ROLE_GATE, l, &nu), *cu = cg ? unit_cost(c, DK_ROLE_UP, l, &nu) : NULL;
    int *pg = cu ? dk_malloc(sizeof *pg * (size_t)nu) : NULL, *pu = cu ? dk_malloc(sizeof *pu * (size_t)nu) : NULL;
    int rc = cu && pg && pu ? 0 : -1, rg = 0, ru = 0;
    if (!rc) {
        /* The two assignments are independent: one core each. */
#pragma omp parallel sections num_threads(2)
        {
#pragma omp section
            rg = dk_lap_solve(cg, (int)nu, pg, NULL);
#pragma omp section
            ru = dk_lap_solve(cu, (int)nu, pu, NULL);
        }
        if (rg || ru) rc = dk_fail("layer %d: the unit assignment failed (out of memory, or non-finite weights)", l);
    }
    if (!rc) {
        double rho = dk_spearman_perm(pg, pu, (int)nu);
        *log_p = dk_spearman_log_p(rho, (int)nu);
        int agree = 0, kept = 0;
        for (int64_t i = 0; i < nu; i++) agree += pg[i] == pu[i], kept += pg[i] == i;
        double secs = dk_now() - t0;
        char p[32];
        dk_format_log_p(*log_p, p, sizeof p);
        fprintf(c->out, "  %-5d %9.4f %10s %9d/%-6lld %9d/%-6lld %7.2f\n", l, rho, p, agree, (long long)nu, kept, (long long)nu, secs);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "layer", l);
        cJSON_AddNumberToObject(j, "units", (double)nu);
        cJSON_AddNumberToObject(j, "rho", rho);
        cJSON_AddNumberToObject(j, "log10_p", *log_p / M_LN10);
        cJSON_AddNumberToObject(j, "gate_up_agree", agree);
        cJSON_AddNumberToObject(j, "unit_order_kept", kept);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddItemToArray(rows, j);
    }
    free(cg), free(cu), free(pg), free(pu);
    return rc;
}

/* Returns the combined ln p over layers in *log_p (0 when the test cannot run). */
static int compare_mlp(comparison *c, cJSON *j, double *log_p, const char **why_not)
{
    *log_p = 0;
    *why_not = NULL;
    if (c->a.intermediate_size != c->b.intermediate_size) *why_not = "the MLP widths differ";
    if (c->a.hidden_size != c->b.hidden_size) *why_not = "the hidden sizes differ";
    if (*why_not) {
        fprintf(c->out, "\nMLP units: not compared: %s\n", *why_not);
        cJSON_AddStringToObject(j, "skipped", *why_not);
        return 0;
    }
    int layers = c->a.num_layers < c->b.num_layers ? c->a.num_layers : c->b.num_layers;
    fprintf(c->out,
            "\nMLP units (Zhu et al., ICML 2025): B's units matched to A's on gate_proj rows and, separately, on up_proj rows\n"
            "(linear assignment, Jonker-Volgenant); Spearman's rho between the two matchings -> p per layer. A shared origin\n"
            "makes both matchings the same permutation, whatever order B's units were put in.\n"
            "  %-5s %9s %10s %16s %16s %7s\n",
            "layer", "rho", "p", "gate=up match", "unit order kept", "seconds");
    if (layers != c->a.num_layers || layers != c->b.num_layers) fprintf(c->out, "  (the first %d layers of each)\n", layers);
    cJSON *rows = cJSON_AddArrayToObject(j, "layers");
    double *lp = dk_calloc((size_t)layers, sizeof *lp);
    if (!lp) return -1;
    dk_progress prog;
    dk_progress_start(&prog, "compare", layers);
    int rc = 0;
    for (int l = 0; !rc && l < layers; l++) {
        rc = mlp_layer(c, l, rows, &lp[l]);
        dk_progress_update(&prog, l + 1, NULL, NULL);
    }
    dk_progress_finish(&prog);
    if (!rc) {
        *log_p = dk_fisher_log_p(lp, layers);
        char p[32];
        dk_format_log_p(*log_p, p, sizeof p);
        fprintf(c->out, "Fisher's combination of %d layers: p = %s (log10 p = %.1f)\n", layers, p, *log_p / M_LN10);
        cJSON_AddNumberToObject(j, "fisher_log10_p", *log_p / M_LN10);
    }
    free(lp);
    return rc;
}

static int load_vocab(const char *dir, dk_vocab *v, bool *have)
{
    char *path = dk_path_join(dir, "tokenizer.json");
    *have = path && dk_path_exists(path);
    int rc = !path ? -1 : *have ? dk_vocab_load(v, path) : 0;
    free(path);
    return rc;
}

int dk_audit_compare(const char *a, const char *b, const dk_compare_opts *o, FILE *out, cJSON **report)
{
    comparison c = {.o = o, .out = out};
    *report = NULL;
    if (dk_hf_model_open(&c.a, a)) return -1;
    if (dk_hf_model_open(&c.b, b)) {
        dk_hf_model_close(&c.a);
        return -1;
    }
    cJSON *r = c.report = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "kind", "compare");
    cJSON_AddItemToObject(r, "a", describe(&c.a, out, "A"));
    cJSON_AddItemToObject(r, "b", describe(&c.b, out, "B"));
    int rc = load_vocab(a, &c.va, &c.have_va);
    if (!rc) rc = load_vocab(b, &c.vb, &c.have_vb);
    if (!rc && c.have_va && c.have_vb) {
        cJSON *t = overlap(&c.va, &c.vb, out);
        rc = t ? 0 : -1;
        cJSON_AddItemToObject(r, "tokenizer", t);
    } else if (!rc)
        fprintf(out, "tokenizer: not compared (%s has no tokenizer.json)\n", c.have_va ? b : a);
    if (!rc && c.a.hidden_size == c.b.hidden_size) rc = align_residual(&c, cJSON_AddObjectToObject(r, "residual_alignment"));
    if (!rc && c.a.hidden_size == c.b.hidden_size) rc = compare_norms(&c, cJSON_AddObjectToObject(r, "norms"));
    double log_p = 0;
    const char *why_not = NULL;
    if (!rc) rc = compare_mlp(&c, cJSON_AddObjectToObject(r, "mlp"), &log_p, &why_not);
    if (!rc) {
        bool derived = !why_not && log_p < log(o->alpha);
        char p[32];
        dk_format_log_p(log_p, p, sizeof p);
        cJSON_AddStringToObject(r, "verdict", derived ? "derived" : "no evidence of shared weights");
        cJSON_AddNumberToObject(r, "log10_p", why_not ? 1.0 : log_p / M_LN10);
        cJSON_AddNumberToObject(r, "alpha", o->alpha);
        if (why_not) fprintf(out, "\nverdict: no evidence of shared weights (not comparable: %s)\n", why_not);
        else
            fprintf(out, "\nverdict: %s (p = %s %s threshold %g)\n", derived ? "derived" : "no evidence of shared weights", p,
                    derived ? "<" : ">=", o->alpha);
    }
    if (c.have_va) dk_vocab_free(&c.va);
    if (c.have_vb) dk_vocab_free(&c.vb);
    dk_hf_model_close(&c.a);
    dk_hf_model_close(&c.b);
    free(c.perm);
    free(c.sign);
    if (rc) cJSON_Delete(r);
    else *report = r;
    return rc;
}

static int vocab_of(const char *path, dk_vocab *v)
{
    char *file = dk_is_dir(path) ? dk_path_join(path, "tokenizer.json") : dk_strdupf("%s", path);
    int rc = file ? dk_vocab_load(v, file) : -1;
    free(file);
    return rc;
}

int dk_audit_tokenizers(const char *a, const char *b, FILE *out, cJSON **report)
{
    dk_vocab va, vb;
    *report = NULL;
    if (vocab_of(a, &va)) return -1;
    if (vocab_of(b, &vb)) {
        dk_vocab_free(&va);
        return -1;
    }
    cJSON *t = overlap(&va, &vb, out);
    dk_vocab_free(&va);
    dk_vocab_free(&vb);
    if (!t) return -1;
    *report = cJSON_CreateObject();
    cJSON_AddStringToObject(*report, "kind", "tokenizers");
    cJSON_AddItemToObject(*report, "tokenizer", t);
    return 0;
}
