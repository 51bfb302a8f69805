/* The Llama model: configuration, parameters in one block behind a struct of
 * pointers (as llm.c does), activations, forward and backward.
 *
 * Shapes: B batch, T tokens per row, S key positions held (S = T in training,
 * the context length in inference), C hidden size, I intermediate size,
 * V vocabulary, L layers, NH query heads, NKV key/value heads, HD head dim. */
#ifndef DK_MODEL_H
#define DK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "json.h"

typedef struct {
    int hidden_size;             /* C */
    int intermediate_size;       /* I */
    int num_hidden_layers;       /* L */
    int num_attention_heads;     /* NH */
    int num_key_value_heads;     /* NKV */
    int vocab_size;              /* V */
    int max_position_embeddings; /* longest context */
    double rope_theta;
    double rms_norm_eps;
    bool tie_word_embeddings;
    int bos_token_id;
    int eos_token_id;
} dk_model_config;

/* The HF config.json keys of dk_model_config. */
extern const dk_field dk_model_config_fields[];
void dk_model_config_default(dk_model_config *c);
/* Checks that sizes are positive and consistent; errors name `source` and the key. */
int dk_model_config_validate(const dk_model_config *c, const char *source);
int dk_model_config_load(dk_model_config *c, const char *path);
bool dk_model_config_equal(const dk_model_config *a, const dk_model_config *b);
/* A config.json object as HF writes it for LlamaForCausalLM. */
cJSON *dk_model_config_to_json(const dk_model_config *c);

/* One block's parameters. */
typedef struct {
    float *ln1;   /* (C) input_layernorm */
    float *wq;    /* (NH*HD, C) */
    float *wk;    /* (NKV*HD, C) */
    float *wv;    /* (NKV*HD, C) */
    float *wo;    /* (C, NH*HD) */
    float *ln2;   /* (C) post_attention_layernorm */
    float *wgate; /* (I, C) */
    float *wup;   /* (I, C) */
    float *wdown; /* (C, I) */
} dk_layer_params;

/* Parameters, gradients and optimizer moments share this layout, layer-major:
 * embed, layer 0 (its members in the order above), layer 1, ..., norm,
 * lm_head. Each layer is one contiguous range, so the backward pass finishes
 * the gradients of whole ranges from the top down (data-parallel training
 * sends each range as soon as it is done). */
typedef struct {
    float *embed;            /* (V, C) */
    dk_layer_params *layers; /* (L) */
    float *norm;             /* (C) */
    float *lm_head;          /* (V, C); the same memory as embed when tied */
} dk_params;

/* One named tensor of the block, as HF names it. */
typedef struct {
    char name[96];
    size_t offset; /* in floats from the block's start */
    int ndim;
    int64_t shape[2];
    size_t numel;
    bool decay;    /* weight decay applies (matrices, not norms) */
    bool residual; /* an output projection into the residual stream (o_proj, down_proj) */
} dk_param_tensor;

/* The integers of a call's rows (see dk_acts), in the backend's memory. */
typedef struct {
    const int *tokens, *targets, *pos, *seg, *slot, *start;
} dk_row_ints;

/* Activations kept for the backward pass. In inference mode (per_layer
 * false) the layers share one set of buffers, except k and v, which are the
 * KV cache. The float buffers are the backend's memory; the integers are
 * host memory, which callers fill, and each forward stages them into dev. */
typedef struct {
    int B, T, S;
    bool training;   /* the whole residual stream is kept, for the backward */
    bool per_layer;  /* training without recomputation: every layer's activations are kept */
    float *residual; /* (L+1, B, T, C) the stream entering each layer, then the last output */
    float *ln1;      /* (L, B, T, C) */
    float *ln1_rstd; /* (L, B, T) */
    float *q;        /* (L, B, T, NH*HD) after RoPE */
    float *k;        /* (L, B, S, NKV*HD) after RoPE */
    float *v;        /* (L, B, S, NKV*HD) */
    float *att;      /* (L, B, NH, T, S) softmax probabilities */
    float *atty;     /* (L, B, T, NH*HD) attention output before o_proj */
    float *res_mid;  /* (L, B, T, C) stream after attention */
    float *ln2;      /* (L, B, T, C) */
    float *ln2_rstd; /* (L, B, T) */
    float *gate;     /* (L, B, T, I); NULL where training keeps gate_lp */
    float *up;       /* (L, B, T, I); likewise */
    float *hmlp;     /* (L, B, T, I) silu(gate) * up */
    /* Training on a backend that rounds matmul inputs (round_operand): ln1,
     * atty, ln2 and hmlp in bf16 (two to a float's room), written by the
     * layers that produce them and read by every product that takes them,
     * forward and backward; and the parameter block rounded at the start of
     * each forward. ln1, ln2 and hmlp are then kept in bf16 alone (their fp32
     * buffers are NULL). NULL otherwise (the empty parts of the activation
     * block are NULL). */
    float *ln1_lp, *atty_lp, *ln2_lp, *hmlp_lp, *params_lp;
    /* Training on a backend with bf16_products: q and k after RoPE, v, gate
     * and up, kept in bf16 alone (read by attention and SwiGLU, forward and
     * backward); v, gate and up as their matmuls write them. q and k are
     * then one layer's fp32 room, and v, gate and up NULL. */
    float *q_lp, *k_lp, *v_lp, *gate_lp, *up_lp;
#define DK_HALVES(n) (((n) + 1) / 2) /* floats that hold n bf16 values */
    float *lnf;      /* (B, T, C) */
    float *lnf_rstd; /* (B, T) */
    float *logits;   /* (B, T, V); the gradient of the logits after backward */
    float *lse;      /* (B, T) log-sum-exp of each row of logits */
    float *losses;   /* (B, T) */
    int *tokens;     /* (B, T) */
    int *targets;    /* (B, T), -1 = no loss */
    /* Packed rows (several sequences in one row), training only: the position
     * of each token within its sequence and where its sequence starts in the
     * row. NULL (the default) means one sequence per row at positions 0..T-1. */
    int *pos;        /* (B, T) or NULL */
    int *seg;        /* (B, T) or NULL */
    /* Inference with sequences at different positions (dk_infer_batch sets
     * these for one call, pos too): row b continues the sequence in KV-cache
     * slot slot[b] from position start[b]. NULL: row b is slot b at pos0. */
    int *slot;       /* (B) */
    int *start;      /* (B) */
    float *knew;     /* (B, T, NKV*HD) inference: a call's keys and values before they enter the cache */
    float *vnew;
    int *ints;       /* inference: room for pos, slot and start */
    dk_row_ints dev; /* the integers above as the backend sees them (the same pointers on the CPU) */
    int *dev_ints;   /* the backend's room for them when it is not host memory */
    int *host_ints;  /* and their host staging, sent in one copy */
    float *host_out; /* host room for losses and last logits when the backend is not host memory */
    float *block;
} dk_acts;

/* Gradients of activations: one layer's worth, reused from the top down. */
typedef struct {
    float *dres;     /* (B, T, C) gradient of the residual stream */
    float *dln;      /* (B, T, C) */
    float *dq;       /* (B, T, NH*HD) */
    float *dk;       /* (B, T, NKV*HD) */
    float *dv;       /* (B, T, NKV*HD) */
    float *datty;    /* (B, T, NH*HD) */
    float *datt;     /* scratch of the attention backward (backend.h) */
    float *dgate;    /* (B, T, I) */
    float *dup;      /* (B, T, I) */
    float *dh;       /* (B, T, I) */
    /* The matmuls' output gradients rounded by the layers that produce them,
     * as ln1_lp in dk_acts; NULL where the backend rounds nothing. dgate,
     * dup and dv are then kept in bf16 alone (NULL), and dq and dk leave
     * RoPE in bf16 alone. */
    float *dres_lp, *dq_lp, *dk_lp, *dv_lp, *dgate_lp, *dup_lp;
    float *block;
} dk_grad_acts;

typedef struct {
    dk_model_config cfg;
    int head_dim;
    dk_param_tensor *tensors;
    int ntensors;
    size_t nparams;     /* floats in the block */
    float *param_block; /* host memory: what is loaded, saved and quantized */
    dk_params params;
    /* Where forward and backward run (the CPU unless dk_model_use moved the
     * model), and the parameters they compute with: param_block itself on the
     * CPU, a copy in device memory on a GPU (dk_model_upload/download). */
    const dk_backend *be;
    float *dev_block;
    dk_params dev;
    float *grad_block;  /* the backend's memory; NULL until training allocates it */
    dk_params grads;
    float *rope_cos;    /* (max_position_embeddings, HD/2), the backend's memory */
    float *rope_sin;
    dk_acts acts;
    dk_grad_acts gacts;
    /* Int8 copies of the matrices (indexed like tensors; NULL for vectors),
     * or NULL for an fp32 model: decoding reads these (docs/inference.md). */
    struct dk_q8_matrix *q8;
    /* When set, dk_model_backward calls it as soon as the gradients of a
     * range [lo, hi) of the block are final: norm and lm_head, then each
     * layer from the top, then the embedding (data-parallel training starts
     * sending them while the rest is computed). */
    void (*grads_done)(void *user, size_t lo, size_t hi);
    /* Training keeps one layer's activations besides the residual stream and
     * recomputes each layer's in the backward pass (set before dk_model_alloc_acts). */
    bool recompute;
    void *grads_done_user;
} dk_model;

/* Allocates a model with zeroed parameters for a validated config, on the CPU. */
int dk_model_create(dk_model *m, const dk_model_config *cfg);
/* Moves the model onto a backend (before dk_model_alloc_acts): the device
 * copy of the parameters is made from param_block. Int8 models stay on the CPU. */
int dk_model_use(dk_model *m, const dk_backend *be);
/* param_block -> device copy, and back (no-ops on the CPU). Training on a
 * GPU updates the device copy: download before saving. */
void dk_model_upload(dk_model *m);
void dk_model_download(dk_model *m);
void dk_model_free(dk_model *m);
/* Points a dk_params struct at a block with this model's layout (allocating
 * p->layers; dk_model_free releases those of params and grads). */
int dk_model_bind(const dk_model *m, float *block, dk_params *p);
/* The range [*lo, *hi) of the block (in floats) that holds layer l. */
void dk_model_layer_range(const dk_model *m, int l, size_t *lo, size_t *hi);

/* Initialisation scheme "normal-0.02-scaled": matrices ~ N(0, 0.02), the
 * residual output projections ~ N(0, 0.02 / sqrt(2L)), norm weights 1.
 * Deterministic for a seed and independent of the thread count. */
int dk_model_init(dk_model *m, uint64_t seed);
#define DK_INIT_STD 0.02
double dk_model_init_std(const dk_model *m, const dk_param_tensor *t);

/* Model directories (HF Llama layout). */
int dk_model_load_dir(dk_model *m, const char *dir);
int dk_model_load_weights(dk_model *m, const char *safetensors_path);
int dk_model_save_weights(const dk_model *m, const char *safetensors_path);

/* Sizes the activations for B rows of T tokens. Training mode keeps every
 * layer's activations (or, with m->recompute, every layer's input only); inference mode keeps a KV cache of S positions for
 * each of B sequences (a call may also run fewer, longer rows: B*T tokens at most). */
int dk_model_alloc_acts(dk_model *m, int B, int T, int S, bool training);

/* Runs the layers on acts->tokens (B, T) at positions pos0.. and leaves the
 * final normed states in acts->lnf. pos0 > 0 only in inference mode, where
 * acts->slot/start (when set) place each row instead. */
void dk_model_forward_layers(dk_model *m, int B, int T, int pos0);
/* Inference, after dk_model_forward_layers: the logits (B, V) of each row's
 * last token, in host memory (acts->logits on the CPU). */
float *dk_model_logits_last(dk_model *m, int B, int T);
/* The mean loss over targets != -1 (0 when there are none). On the CPU the
 * logits of every position stay in acts->logits. */
float dk_model_forward(dk_model *m, int B, int T);
/* Training: the forward, then the backward, which accumulates parameter
 * gradients of the mean loss times loss_scale (1/grad_accum, times this
 * rank's share of the targets in data-parallel training). Returns the mean
 * loss. The classifier's backward follows its forward chunk by chunk, so no
 * (B, T, V) logits are kept on a GPU. */
float dk_model_forward_backward(dk_model *m, int B, int T, float loss_scale);
void dk_model_zero_grad(dk_model *m);

/* Floating-point operations of one training step (forward + backward) per token. */
double dk_model_flops_per_token(const dk_model_config *c, int T);

#endif
