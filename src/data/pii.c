/* Step 5: personal data replaced by typed placeholders. E-mail addresses;
 * Korean phone numbers (mobile 01X, Seoul 02, area codes 0[3-6][1-5], 070)
 * and international ones written with "+"; resident registration numbers
 * (주민등록번호: a valid date, a valid sex digit and the mod-11 check digit);
 * card numbers (13-19 digits in the usual groupings, an issuer's first
 * digit, the Luhn check). Numbers that fail a check (order numbers, dates,
 * prices, 1588 business lines, versions) stay as they are. */
#include <string.h>

#include "data_internal.h"

const char *const dk_pii_names[DK_PII_KINDS] = {"email", "phone", "rrn", "card"};
static const char *const placeholders[DK_PII_KINDS] = {"<|email|>", "<|phone|>", "<|rrn|>", "<|card|>"};

static bool digit(char c) { return c >= '0' && c <= '9'; }
static bool alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool alnum(char c) { return digit(c) || alpha(c); }
static bool starts(const char *s, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && !memcmp(s, prefix, m);
}

bool dk_rrn_valid(const char *d)
{
    static const int w[12] = {2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5};
    int month = (d[2] - '0') * 10 + d[3] - '0', day = (d[4] - '0') * 10 + d[5] - '0';
    if (month < 1 || month > 12 || day < 1 || day > 31 || d[6] < '1' || d[6] > '8') return false;
    int sum = 0;
    for (int i = 0; i < 12; i++) sum += (d[i] - '0') * w[i];
    return (11 - sum % 11) % 10 == d[12] - '0';
}

bool dk_luhn_valid(const char *d, int len)
{
    int sum = 0;
    for (int i = 0; i < len; i++) {
        int v = d[len - 1 - i] - '0';
        if (i % 2) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return sum % 10 == 0;
}

/* An address around the '@' at s[at], not reaching back before lo: [*start, *end). */
static bool match_email(const char *s, size_t n, size_t at, size_t lo, size_t *start, size_t *end)
{
    size_t i = at;
    while (i > lo && (alnum(s[i - 1]) || strchr("._%+-", s[i - 1]))) i--;
    while (i < at && (s[i] == '.' || s[i] == '-')) i++;
    if (i == at || s[at - 1] == '.') return false;
    size_t j = at + 1, labels = 0, last = j;
    for (;;) {
        size_t k = j;
        while (j < n && (alnum(s[j]) || s[j] == '-')) j++;
        if (j == k) return false;
        labels++;
        last = k;
        if (j + 1 < n && s[j] == '.' && alnum(s[j + 1])) {
            j++;
            continue;
        }
        break;
    }
    if (labels < 2 || j - last < 2) return false;
    for (size_t k = last; k < j; k++)
        if (!alpha(s[k])) return false;
    *start = i;
    *end = j;
    return true;
}

/* Groups of digits from s[i]: "(02) 1234-5678", "010-1234-5678", "+82 10 1234 5678", "1234 5678 9012 3456". */
enum { MAX_GROUPS = 6 };
typedef struct {
    size_t start[MAX_GROUPS], end[MAX_GROUPS];
    char sep[MAX_GROUPS]; /* the separator after group k ('\0' at the end) */
    int n;
    bool plus;
} groups;

static void parse_groups(const char *s, size_t n, size_t i, groups *g)
{
    g->n = 0;
    g->plus = s[i] == '+';
    i += g->plus;
    bool paren = !g->plus && s[i] == '(';
    i += paren;
    while (g->n < MAX_GROUPS && i < n && digit(s[i])) {
        int k = g->n++;
        g->start[k] = i;
        while (i < n && digit(s[i])) i++;
        g->end[k] = i;
        g->sep[k] = '\0';
        if (paren) { /* "(02)" then an optional space or dash */
            if (i >= n || s[i] != ')') {
                g->n = 0;
                return;
            }
            paren = false;
            i++;
            g->sep[k] = ')';
            if (i < n && (s[i] == ' ' || s[i] == '-')) i++;
            continue;
        }
        if (i + 1 < n && (s[i] == '-' || s[i] == ' ' || s[i] == '.') && digit(s[i + 1])) g->sep[k] = s[i++];
        else break;
    }
}

static int glen(const groups *g, int k) { return (int)(g->end[k] - g->start[k]); }

/* The digits of the first k groups into d (NUL-terminated); returns how many. */
static int gdigits(const char *s, const groups *g, int k, char *d)
{
    int m = 0;
    for (int i = 0; i < k; i++)
        for (size_t j = g->start[i]; j < g->end[i] && m < 31; j++) d[m++] = s[j];
    d[m] = '\0';
    return m;
}

/* Whether the first k groups end a number: what follows is not more of it. */
static bool ends_number(const char *s, size_t n, const groups *g, int k)
{
    size_t e = g->end[k - 1];
    if (e < n && alnum(s[e])) return false;
    return k == g->n || g->sep[k - 1] == ' ';
}

static bool same_seps(const groups *g, int k)
{
    for (int i = 1; i + 1 < k; i++)
        if (g->sep[i] != g->sep[0]) return false;
    return true;
}

static int match_rrn(const char *s, size_t n, const groups *g)
{
    char d[32];
    if (g->plus) return 0;
    if (glen(g, 0) == 13 && ends_number(s, n, g, 1)) return gdigits(s, g, 1, d), dk_rrn_valid(d) ? 1 : 0;
    if (g->n >= 2 && glen(g, 0) == 6 && glen(g, 1) == 7 && g->sep[0] == '-' && ends_number(s, n, g, 2))
        return gdigits(s, g, 2, d), dk_rrn_valid(d) ? 2 : 0;
    return 0;
}

static int match_card(const char *s, size_t n, const groups *g)
{
    static const int shapes[][5] = {{4, 4, 4, 4, 0}, {4, 6, 5, 0, 0}, {4, 6, 4, 0, 0}, {4, 4, 4, 4, 3}};
    if (g->plus || g->sep[0] == ')') return 0;
    int k = 0;
    if (glen(g, 0) >= 13 && glen(g, 0) <= 19) k = 1;
    for (size_t sh = 0; !k && sh < sizeof shapes / sizeof *shapes; sh++) {
        int m = 0;
        while (m < 5 && shapes[sh][m]) m++;
        bool fits = g->n >= m && same_seps(g, m);
        for (int i = 0; fits && i < m; i++) fits = glen(g, i) == shapes[sh][i];
        if (fits && ends_number(s, n, g, m)) k = m;
    }
    if (!k || !ends_number(s, n, g, k)) return 0;
    char d[32];
    int len = gdigits(s, g, k, d);
    return d[0] >= '2' && d[0] <= '6' && dk_luhn_valid(d, len) ? k : 0;
}

/* Whether d (len digits) is a Korean phone number: a known prefix and its length. */
static bool korean_prefix(const char *d, int len)
{
    if (d[0] != '0') return false;
    if (d[1] == '2') return len == 9 || len == 10;                                        /* Seoul */
    if (d[1] == '1') return strchr("016789", d[2]) && (len == 10 || len == 11);          /* mobile */
    if (d[1] >= '3' && d[1] <= '6') return d[2] >= '1' && d[2] <= '5' && (len == 10 || len == 11); /* areas */
    return d[1] == '7' && d[2] == '0' && len == 11;                                       /* 070 */
}

static int match_phone(const char *s, size_t n, const groups *g)
{
    char d[32];
    if (g->plus) { /* the most groups that still make 8-15 digits */
        int best = 0, total = 0;
        for (int k = 1; k <= g->n; k++) {
            total += glen(g, k - 1);
            if (total > 15) break;
            if (total >= 8 && glen(g, 0) <= (k == 1 ? 15 : 3) && ends_number(s, n, g, k)) best = k;
        }
        return best;
    }
    if (ends_number(s, n, g, 1) && korean_prefix(d, gdigits(s, g, 1, d))) return 1;
    if (g->n >= 3 && glen(g, 1) >= 3 && glen(g, 1) <= 4 && glen(g, 2) == 4 && ends_number(s, n, g, 3) &&
        (g->sep[0] == ')' || g->sep[0] == g->sep[1]))
        return korean_prefix(d, gdigits(s, g, 3, d)) && glen(g, 0) <= 3 ? 3 : 0;
    return 0;
}

int dk_pii_scrub(const char *s, size_t n, dk_buf *out, int64_t counts[DK_PII_KINDS])
{
    out->len = 0;
    if (dk_buf_reserve(out, n + 1)) return -1;
    size_t copied = 0, i = 0;
    while (i < n) {
        char c = s[i];
        size_t start = i, end = 0;
        int kind = -1;
        if ((c == 'h' || c == 'w') &&
            (starts(s + i, n - i, "http://") || starts(s + i, n - i, "https://") || starts(s + i, n - i, "www."))) {
            /* numbers in a URL are ids, not personal data: the URL is passed over whole */
            while (i < n && s[i] != ' ' && s[i] != '\n' && s[i] != '"' && s[i] != ')' && s[i] != ']') i++;
            continue;
        }
        if (c == '@') {
            if (match_email(s, n, i, copied, &start, &end)) kind = DK_PII_EMAIL;
        } else if ((digit(c) || ((c == '+' || c == '(') && i + 1 < n && digit(s[i + 1]))) &&
                   (i == 0 || (!alnum(s[i - 1]) && s[i - 1] != '+' && s[i - 1] != '-' && s[i - 1] != '.'))) {
            groups g;
            parse_groups(s, n, i, &g);
            int k = 0;
            if (g.n && (k = match_rrn(s, n, &g))) kind = DK_PII_RRN;
            else if (g.n && (k = match_card(s, n, &g))) kind = DK_PII_CARD;
            else if (g.n && (k = match_phone(s, n, &g))) kind = DK_PII_PHONE;
            if (kind >= 0) {
                end = g.end[k - 1];
                if (kind == DK_PII_RRN || kind == DK_PII_CARD) start = g.start[0]; /* a bracket around it stays */
            } else if (g.n) { /* not personal: step over the first group so no match starts inside it */
                i = g.end[0];
                continue;
            }
        }
        if (kind < 0) {
            i++;
            continue;
        }
        if (dk_buf_put(out, s + copied, start - copied) || dk_buf_put(out, placeholders[kind], strlen(placeholders[kind])))
            return -1;
        counts[kind]++;
        copied = i = end;
    }
    if (dk_buf_put(out, s + copied, n - copied)) return -1;
    return 0;
}
