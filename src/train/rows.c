/* Training rows over token shards. */
#include "dokja/train.h"

static void loader_get(dk_rows *r, int64_t i, int *tokens, int *targets, int *pos, int *seg)
{
    (void)pos, (void)seg;
    dk_loader_sample(r->impl, i, tokens, targets);
}

void dk_rows_from_loader(dk_rows *r, dk_loader *l)
{
    *r = (dk_rows){.count = l->nwindows, .packed = false, .get = loader_get, .impl = l};
}
