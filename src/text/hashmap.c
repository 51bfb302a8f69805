/* Open-addressing hash maps for the tokenizer: byte strings -> int64 (the
 * vocabulary, pre-token counts, the encode cache) and u64 -> u64 (id pairs).
 * Entries of the string map stay in insertion order, so iterating them is
 * deterministic. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "dokja/error.h"
#include "text.h"

static int strmap_grow_slots(dk_strmap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    int32_t *slots = dk_calloc(n, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->count; i++) {
        size_t s = m->entries[i].hash & (n - 1);
        while (slots[s]) s = (s + 1) & (n - 1);
        slots[s] = (int32_t)i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t strmap_find(const dk_strmap *m, const void *key, size_t len, uint64_t h)
{
    size_t s = h & (m->nslots - 1);
    for (;;) {
        int32_t e = m->slots[s];
        if (!e) return s;
        const dk_strmap_entry *en = &m->entries[e - 1];
        if (en->hash == h && en->len == len && !memcmp(m->keys + en->key, key, len)) return s;
        s = (s + 1) & (m->nslots - 1);
    }
}

int64_t *dk_strmap_get(const dk_strmap *m, const void *key, size_t len)
{
    if (!m->count) return NULL;
    int32_t e = m->slots[strmap_find(m, key, len, XXH3_64bits(key, len))];
    return e ? &m->entries[e - 1].value : NULL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return dk_fail("out of memory growing a table to %zu entries", n);
    *p = q;
    *cap = n;
    return 0;
}

int64_t *dk_strmap_put(dk_strmap *m, const void *key, size_t len, bool *added)
{
    if (len > UINT32_MAX || m->count >= INT32_MAX - 1) {
        dk_fail("a key of %zu bytes or more than 2^31 keys: too large for the tokenizer's tables", len);
        return NULL;
    }
    if ((m->count + 1) * 2 > m->nslots && strmap_grow_slots(m)) return NULL;
    uint64_t h = XXH3_64bits(key, len);
    size_t s = strmap_find(m, key, len, h);
    if (added) *added = !m->slots[s];
    if (m->slots[s]) return &m->entries[m->slots[s] - 1].value;
    if (grow((void **)&m->entries, &m->cap, m->count + 1, sizeof *m->entries) ||
        grow((void **)&m->keys, &m->keys_cap, m->keys_len + len + 1, 1))
        return NULL;
    memcpy(m->keys + m->keys_len, key, len);
    m->keys[m->keys_len + len] = '\0';
    m->entries[m->count] = (dk_strmap_entry){h, m->keys_len, (uint32_t)len, 0};
    m->keys_len += len + 1;
    m->slots[s] = (int32_t)++m->count;
    return &m->entries[m->count - 1].value;
}

void dk_strmap_clear(dk_strmap *m)
{
    if (m->slots) memset(m->slots, 0, m->nslots * sizeof *m->slots);
    m->count = 0;
    m->keys_len = 0;
}

void dk_strmap_free(dk_strmap *m)
{
    free(m->slots);
    free(m->entries);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static inline size_t u64_slot(uint64_t key, size_t nslots)
{
    /* Pairs of small ids: a multiplicative hash spreads them over the table. */
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (nslots - 1);
}

uint64_t *dk_u64map_get(const dk_u64map *m, uint64_t key)
{
    if (!m->nslots) return NULL;
    for (size_t s = u64_slot(key, m->nslots);; s = (s + 1) & (m->nslots - 1)) {
        if (m->slots[s].key == key) return &m->slots[s].value;
        if (m->slots[s].key == UINT64_MAX) return NULL;
    }
}

static int u64map_grow(dk_u64map *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    dk_u64slot *slots = dk_malloc(n * sizeof *slots);
    if (!slots) return -1;
    memset(slots, 0xff, n * sizeof *slots);
    for (size_t i = 0; i < m->nslots; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        size_t s = u64_slot(m->slots[i].key, n);
        while (slots[s].key != UINT64_MAX) s = (s + 1) & (n - 1);
        slots[s] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
    return 0;
}

uint64_t *dk_u64map_put(dk_u64map *m, uint64_t key, bool *added)
{
    if ((m->count + 1) * 2 > m->nslots && u64map_grow(m)) return NULL;
    size_t s = u64_slot(key, m->nslots);
    while (m->slots[s].key != key && m->slots[s].key != UINT64_MAX) s = (s + 1) & (m->nslots - 1);
    if (added) *added = m->slots[s].key == UINT64_MAX;
    if (m->slots[s].key == UINT64_MAX) {
        m->slots[s] = (dk_u64slot){key, 0};
        m->count++;
    }
    return &m->slots[s].value;
}

void dk_u64map_free(dk_u64map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}
