/* Packing short sequences (tokenized conversations) into training rows:
 * several to a row, each at positions 0.. of its own, none attending to
 * another (dk_acts.pos/seg), and loss only where the sequence says so. */
#ifndef DK_PACK_H
#define DK_PACK_H

#include <stdbool.h>
#include <stdint.h>

#include "train.h"

/* One tokenized sequence: ids (n) and, for each token, whether predicting it
 * is trained (true for the assistant's tokens of a conversation). */
typedef struct {
    int *ids;
    bool *train;
    int n;
} dk_seq;

typedef struct {
    int64_t sequences; /* packed */
    int64_t truncated; /* longer than a row: cut to its first T tokens */
    int64_t skipped;   /* nothing to train on */
    int64_t rows;
    int64_t trained_tokens;
    int64_t pad_tokens;
} dk_pack_stats;

/* Packs seqs in order into rows of T tokens (a sequence that does not fit the
 * rest of a row starts the next one; the rest is padding with pad_id and no
 * loss) and makes rows shuffled per epoch from the seed. r owns the rows. */
int dk_pack_rows(dk_rows *r, const dk_seq *seqs, int64_t nseqs, int T, int pad_id, uint64_t seed, dk_pack_stats *stats);
void dk_pack_rows_free(dk_rows *r);

#endif
