/* Supervised fine-tuning: a base model directory and chat JSONL -> a chat
 * model whose dokja.json names its parent. Conversations are rendered in the
 * chat format (chat.h), learnt only on the assistant's tokens, and packed
 * several to a training row without attending to each other (pack.h). */
#ifndef DK_SFT_H
#define DK_SFT_H

#include <stdbool.h>

#include "train.h"

typedef struct {
    const char *base_dir;    /* the model to fine-tune (with its tokenizer.json) */
    char *const *data;       /* chat JSONL files */
    int ndata;
    const char *out_dir;     /* the run directory; the chat model goes to out_dir/model */
    double epochs;           /* passes over the training rows (sets train.steps; 0: train.steps as given) */
    int val_every;           /* every N-th conversation is held out for validation (0: none) */
    bool think;              /* keep <think> reasoning in the assistant turns */
    bool resume;
    int threads;
    const dk_backend *be; /* where to train; NULL: the CPU */
    const dk_dist *dist;
    dk_train_config train;   /* seq_len, batch_size, lr, ...; steps is derived from epochs */
} dk_sft_job;

/* Sets SFT's defaults in a training configuration (lr 3e-4, no weight decay, ...). */
void dk_sft_config_default(dk_train_config *c);
int dk_sft(dk_sft_job *job);
/* Prints the first conversation as it is learnt: learnt tokens between ⟦ and ⟧,
 * then the packing figures; trains nothing. */
int dk_sft_dry_run(const dk_sft_job *job);

#endif
