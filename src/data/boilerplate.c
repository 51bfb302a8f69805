/* Step 2: boilerplate. Two kinds of line go: lines that repeat across many
 * documents (menus, bylines, "All rights reserved"), found by counting in
 * how many multi-line documents each line occurs during a first pass; and
 * crawler headers and footers, recognised by how they begin. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "data_internal.h"
#include "dokja/error.h"

/* White space inside a line does not make it another line. */
uint64_t dk_line_key(const char *s, size_t n)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    bool any = false;
    for (size_t i = 0; i < n;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++;
        size_t j = i;
        while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != '\r') j++;
        if (j > i) {
            XXH3_64bits_update(&st, s + i, j - i);
            XXH3_64bits_update(&st, " ", 1);
            any = true;
        }
        i = j;
    }
    if (!any) return 0;
    uint64_t h = XXH3_64bits_digest(&st);
    return h ? h : 1;
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t dk_doc_line_keys(const char *s, size_t n, uint64_t **keys, size_t *cap)
{
    if (!memchr(s, '\n', n)) return 0;
    size_t k = 0;
    for (size_t i = 0; i <= n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n;
        uint64_t key = dk_line_key(s + i, end - i);
        if (key) {
            if (k == *cap) {
                size_t c = *cap ? 2 * *cap : 64;
                uint64_t *g = realloc(*keys, c * sizeof *g);
                if (!g) return dk_fail("out of memory counting lines");
                *keys = g;
                *cap = c;
            }
            (*keys)[k++] = key;
        }
        i = end + 1;
    }
    return k > 1 ? (int64_t)k : 0;
}

static size_t slot_of(const dk_linecount *m, uint64_t key)
{
    size_t s = (size_t)(key * 0x9E3779B97F4A7C15ull >> 20) & (m->nslots - 1);
    while (m->keys[s] && m->keys[s] != key) s = (s + 1) & (m->nslots - 1);
    return s;
}

static int rebuild(dk_linecount *m, size_t nslots, uint32_t keep_above)
{
    dk_linecount n = *m;
    n.nslots = nslots;
    n.count = 0;
    n.keys = calloc(nslots, sizeof *n.keys);
    n.counts = calloc(nslots, sizeof *n.counts);
    if (!n.keys || !n.counts) {
        free(n.keys);
        free(n.counts);
        return dk_fail("out of memory counting lines (%zu slots)", nslots);
    }
    for (size_t i = 0; i < m->nslots; i++)
        if (m->keys[i] && m->counts[i] > keep_above) {
            size_t s = slot_of(&n, m->keys[i]);
            n.keys[s] = m->keys[i];
            n.counts[s] = m->counts[i];
            n.count++;
        }
    free(m->keys);
    free(m->counts);
    *m = n;
    return 0;
}

int dk_linecount_init(dk_linecount *m, size_t limit)
{
    memset(m, 0, sizeof *m);
    m->limit = limit < 1024 ? 1024 : limit;
    m->nslots = 1024;
    m->keys = calloc(m->nslots, sizeof *m->keys);
    m->counts = calloc(m->nslots, sizeof *m->counts);
    if (!m->keys || !m->counts) {
        dk_linecount_free(m);
        return dk_fail("out of memory counting lines");
    }
    return 0;
}

void dk_linecount_free(dk_linecount *m)
{
    free(m->keys);
    free(m->counts);
    memset(m, 0, sizeof *m);
}

int dk_linecount_add_doc(dk_linecount *m, uint64_t *keys, size_t n)
{
    qsort(keys, n, sizeof *keys, by_u64);
    for (size_t i = 0; i < n; i++) {
        if (i && keys[i] == keys[i - 1]) continue;
        if (m->count >= m->limit) {
            /* Drop the rarest keys until half the room is free again. */
            while (m->count > m->limit / 2) {
                m->floor++;
                if (rebuild(m, m->nslots, m->floor)) return -1;
            }
        }
        if (2 * (m->count + 1) > m->nslots && rebuild(m, 2 * m->nslots, 0)) return -1;
        size_t s = slot_of(m, keys[i]);
        if (!m->keys[s]) {
            m->keys[s] = keys[i];
            m->count++;
        }
        if (m->counts[s] < UINT32_MAX) m->counts[s]++;
    }
    return 0;
}

uint32_t dk_linecount_get(const dk_linecount *m, uint64_t key)
{
    if (!key) return 0;
    size_t s = slot_of(m, key);
    return m->keys[s] ? m->counts[s] : 0;
}

/* How crawler headers and footers begin (in lower case; ASCII is compared without case), after any
 * leading decoration (markdown marks, brackets, arrows, bullets). */
static const char *const crawler_prefixes[] = {
    "crawled at", "crawled on", "crawled:", "crawl date", "scraped at", "retrieved at", "retrieved on",
    "source:", "read more", "continue reading", "share this", "copyright", "all rights reserved",
    "수집 일시", "수집일시", "크롤링 일시", "크롤링 시각", "원문 보기", "원문보기", "원문:", "원문 링크", "기사 원문", "기사원문", "출처:",
    "무단전재", "무단 전재", "저작권자", "ⓒ", "©", "관련기사", "관련 기사", "기사 공유", "기자 구독", "구독하기",
};
/* ...and what they hold anywhere. */
static const char *const crawler_infixes[] = {"무단전재", "무단 전재", "재배포 금지", "all rights reserved"};

bool dk_crawler_line(const char *s, size_t n)
{
    if (n > 200) return false; /* a paragraph that mentions a source is text */
    static const char *const marks[] = {"▶", "■", "☞", "※", "→", "•", "·"};
    size_t i = 0;
    for (bool more = true; more && i < n;) {
        more = s[i] && strchr(" \t*_>#[]()|-=:", s[i]);
        if (more) {
            i++;
            continue;
        }
        for (size_t k = 0; !more && k < sizeof marks / sizeof *marks; k++) {
            size_t m = strlen(marks[k]);
            if (i + m <= n && !memcmp(s + i, marks[k], m)) i += m, more = true;
        }
    }
    /* compared in ASCII lower case, as a C string */
    char low[201];
    for (size_t k = 0; k < n; k++) low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] | 0x20 : s[k]);
    low[n] = '\0';
    for (size_t k = 0; k < sizeof crawler_prefixes / sizeof *crawler_prefixes; k++)
        if (low[i] == crawler_prefixes[k][0] && !strncmp(low + i, crawler_prefixes[k], strlen(crawler_prefixes[k]))) return true;
    for (size_t k = 0; k < sizeof crawler_infixes / sizeof *crawler_infixes; k++)
        if (strstr(low, crawler_infixes[k])) return true;
    return false;
}
