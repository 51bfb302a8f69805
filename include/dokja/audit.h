/* dokja audit: verify a run's provenance ledger by replaying it, and test
 * whether two models share weights (docs/audit.md). */
#ifndef DK_AUDIT_H
#define DK_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "safetensors.h"

/* ---- Models of any project, read for comparison ---- */

/* What a tensor is, whatever an architecture calls it. */
typedef enum { DK_ROLE_EMBED, DK_ROLE_NORM, DK_ROLE_FINAL_NORM, DK_ROLE_GATE, DK_ROLE_UP } dk_role;

/* Tensor naming of one family of HF architectures. */
typedef struct {
    const char *model_types; /* space-separated config.json "model_type" values */
    const char *norms[4];    /* per-layer 1-D norm tensors after "model.layers.N.", NULL-terminated */
    bool fused_gate_up;      /* mlp.gate_up_proj holds gate rows, then up rows (Phi-3) */
    float norm_offset;       /* the scale is 1 + weight (Gemma) */
} dk_arch;

/* A model directory: HF config.json and model.safetensors, or shards listed
 * in model.safetensors.index.json; F32, F16 or BF16. */
typedef struct {
    char *dir;
    char model_type[32];
    const dk_arch *arch;
    int hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, vocab_size;
    dk_safetensors *files;
    int nfiles;
    cJSON *weight_map; /* name -> shard file, for sharded models */
} dk_hf_model;

int dk_hf_model_open(dk_hf_model *m, const char *dir);
void dk_hf_model_close(dk_hf_model *m);
/* The architectures dk_hf_model_open accepts, for help and errors. */
const char *dk_hf_model_types(void);
/* A tensor as fp32 (rows, cols; cols is 1 for vectors), newly allocated;
 * `which` picks among the norms of a layer (index into arch->norms). */
float *dk_hf_model_tensor(dk_hf_model *m, dk_role role, int layer, int which, int64_t *rows, int64_t *cols);

/* ---- Vocabularies of HF tokenizer.json files ---- */

typedef struct {
    char **token; /* by id; NULL where an id has no token */
    int size;     /* 1 + the largest id */
    int count;    /* ids that have a token */
    char **merges;
    int nmerges;
} dk_vocab;

/* model.vocab (an object, or Unigram's array of [token, score]), added_tokens and model.merges. */
int dk_vocab_load(dk_vocab *v, const char *path);
void dk_vocab_free(dk_vocab *v);
/* Pairs of ids with equal token strings, both below their limits; sorted by a's id. */
int dk_vocab_match(const dk_vocab *a, const dk_vocab *b, int limit_a, int limit_b, int **ids_a, int **ids_b, int *count);
int dk_vocab_shared_merges(const dk_vocab *a, const dk_vocab *b);

/* ---- audit compare / tokenizers ---- */

typedef struct {
    double alpha;  /* "derived" when the combined p-value is below it */
    int shuffles;  /* permutations of the shuffle null of the norm test */
    uint64_t seed; /* of the shuffles */
} dk_compare_opts;

/* Tests whether model directories a and b share weights; prints the human
 * report to out and returns the same findings as JSON in *report. */
int dk_audit_compare(const char *a, const char *b, const dk_compare_opts *o, FILE *out, cJSON **report);
/* Shared vocabulary and merges of two tokenizer.json files (or model directories). */
int dk_audit_tokenizers(const char *a, const char *b, FILE *out, cJSON **report);

/* ---- audit verify ---- */

typedef struct {
    int samples;          /* checkpoint intervals to replay */
    uint64_t seed;        /* which intervals */
    const char *data_dir; /* where the data is now, when it moved; NULL: as recorded */
    double alpha;         /* KS: a tensor fails below alpha / tensors */
} dk_verify_opts;

/* Checks a run's ledger, its files, replays intervals and tests the
 * initialisation. Returns 0 when verification ran (*passed says how it
 * went), -1 when it could not run at all. */
int dk_audit_verify(const char *run_dir, const dk_verify_opts *o, FILE *out, cJSON **report, bool *passed);

#endif
