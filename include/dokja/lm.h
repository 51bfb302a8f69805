/* A model directory opened for use by generate, chat and serve: its weights
 * (fp32 or q8), its tokenizer when it has one, and its chat format when the
 * tokenizer holds dokja's chat tokens. docs/inference.md. */
#ifndef DK_LM_H
#define DK_LM_H

#include <stdbool.h>

#include "chat.h"
#include "infer.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    dk_model model;
    dk_tokenizer *tok;   /* NULL: the directory has no tokenizer.json (token ids only) */
    bool chat;           /* the tokenizer has the chat tokens and no foreign chat_template is set */
    dk_chat_tokens ct;
    char chat_problem[256]; /* why chat is off */
    char *name;          /* the directory's last component: the API's model id */
    int stop_ids[2];     /* what ends a reply: eos, and <|end|> in chat */
} dk_lm;

int dk_lm_open(dk_lm *lm, const char *dir);
void dk_lm_close(dk_lm *lm);
/* The prompt of a text continuation: <|bos|> (the model's bos_token_id) then the text's ids. */
int dk_lm_text_prompt(const dk_lm *lm, const char *text, int **ids, int *n);
/* The prompt of a conversation, ending with the assistant's header (and <think> when think). */
int dk_lm_chat_prompt(const dk_lm *lm, const dk_chat_msg *msgs, int n, bool think, int **ids, int *len);

#endif
