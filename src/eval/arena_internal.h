/* Inside src/eval: the arena's database as JSON rows, for its summaries. */
#ifndef DK_ARENA_INTERNAL_H
#define DK_ARENA_INTERNAL_H

#include "dokja/arena.h"

/* Every row of a query (no parameters) as a JSON object of its columns. */
int dk_arena_query(dk_arena *a, const char *sql, cJSON **rows);

#endif
