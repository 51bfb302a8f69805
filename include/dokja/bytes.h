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

/* The tokenizer.json text (caller frees); dokja tokenize --bytes writes it and
 * then tokenizes with it like with any other tokenizer.json. */
char *dk_bytes_tokenizer_json(void);

#endif
