/* dokja's chat format: how a conversation becomes token ids, for fine-tuning
 * (which tokens are learnt) and for generation (the prompt to continue).
 *
 *   <|bos|> <|system|>…<|end|> <|user|>…<|end|> <|assistant|>…<|end|> …
 *
 * An assistant turn may open with <think>…</think> (its reasoning). A prompt
 * for generation ends with <|assistant|>, followed by <think> when thinking
 * is on. The same format, as the Jinja template HF uses, is written into
 * tokenizer_config.json. docs/chat.md. */
#ifndef DK_CHAT_H
#define DK_CHAT_H

#include <stdbool.h>

#include "chat_data.h"
#include "tokenizer.h"

typedef struct {
    int bos, system, user, assistant, end, think, think_end;
} dk_chat_tokens;

/* Finds the special tokens of the format; a tokenizer without them (e.g. the
 * byte-level vocabulary) is an error naming the first missing one. */
int dk_chat_tokens_find(const dk_tokenizer *t, dk_chat_tokens *ct);

/* Renders msgs (n) to *ids (*len). train (when not NULL) gets, per token,
 * whether it is learnt: the assistant's content and its <|end|>. With
 * add_prompt, an assistant header for the reply is appended (and <think>
 * when think). Without think, <think>…</think> parts of assistant turns are
 * dropped, so a model is taught to answer directly. */
int dk_chat_render(const dk_tokenizer *t, const dk_chat_tokens *ct, const dk_chat_msg *msgs, int n, bool add_prompt,
                   bool think, int **ids, bool **train, int *len);

/* The format as a Jinja chat_template for tokenizer_config.json. */
extern const char *const dk_chat_template_jinja;

#endif
