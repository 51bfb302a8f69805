/* The byte-level vocabulary: token i < 256 is the byte i, 256 is <|bos|>
 * (the document separator). It needs no training, so the pipeline runs end
 * to end before a BPE vocabulary exists, and its tokenizer.json is an HF
 * byte-level BPE with no merges that HF tokenizers encode identically. */
#ifndef DK_BYTES_H
#define DK_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DK_BYTES_BOS 256
#define DK_BYTES_VOCAB 257

/* The tokenizer.json text (caller frees). */
char *dk_bytes_tokenizer_json(void);
/* True when the file at path is exactly the byte-level tokenizer.json. */
bool dk_bytes_tokenizer_is(const char *path);

/* Writes DIR/{train,val}-NNNNN.bin, tokenizer.json and meta.json from text
 * files: each file is a document, or each non-empty line with `lines`.
 * Every val_every-th document (0: none) goes to the validation split. */
int dk_bytes_tokenize(char *const *inputs, int ninputs, const char *out_dir, bool lines, int val_every, int64_t shard_tokens);

#endif
