/* Step 5: personal data becomes typed placeholders, and what only looks
 * like it stays. Resident registration numbers were made valid by an
 * independent implementation of the mod-11 rule (Python); card numbers are
 * the issuers' published test numbers. */
#include <stdlib.h>
#include <string.h>

#include "dokja/data.h"
#include "testutil.h"

static const char *scrub(const char *in, int64_t counts[DK_PII_KINDS])
{
    static dk_buf b;
    memset(counts, 0, sizeof(int64_t) * DK_PII_KINDS);
    assert_int_equal(dk_pii_scrub(in, strlen(in), &b, counts), 0);
    return b.p;
}

typedef struct {
    const char *in, *out;
    int kind; /* -1: nothing replaced */
} pii_case;

static void check(const pii_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t c[DK_PII_KINDS];
        const char *got = scrub(cases[i].in, c);
        if (strcmp(got, cases[i].out)) fail_msg("\"%s\" -> \"%s\", not \"%s\"", cases[i].in, got, cases[i].out);
        for (int k = 0; k < DK_PII_KINDS; k++) {
            int64_t want = cases[i].kind == k ? 1 : 0;
            if (c[k] != want) fail_msg("\"%s\": %lld %s found, not %lld", cases[i].in, (long long)c[k], dk_pii_names[k], (long long)want);
        }
    }
}

static void test_email(void **s)
{
    (void)s;
    static const pii_case cases[] = {
        {"메일: hong.gildong+news@example.co.kr 로 주세요", "메일: <|email|> 로 주세요", DK_PII_EMAIL},
        {"이메일(kim_1984@naver.com)로", "이메일(<|email|>)로", DK_PII_EMAIL},
        {"문의=E-mail:abc@x.org.", "문의=E-mail:<|email|>.", DK_PII_EMAIL},
        /* look-alikes */
        {"@멘션 @user 와 a@b 그리고 x@y.1 과 me@localhost", "@멘션 @user 와 a@b 그리고 x@y.1 과 me@localhost", -1},
    };
    check(cases, sizeof cases / sizeof *cases);
}

static void test_phone(void **s)
{
    (void)s;
    static const pii_case cases[] = {
        {"연락처 010-1234-5678 입니다", "연락처 <|phone|> 입니다", DK_PII_PHONE},
        {"HP:01012345678", "HP:<|phone|>", DK_PII_PHONE},
        {"(02) 312-4567 로", "<|phone|> 로", DK_PII_PHONE},
        {"서울 02-3146-1316/", "서울 <|phone|>/", DK_PII_PHONE},
        {"감사관044-201-3129 씨", "감사관<|phone|> 씨", DK_PII_PHONE},
        {"070.1234.5678", "<|phone|>", DK_PII_PHONE},
        {"call +82 10 9876 5432 now", "call <|phone|> now", DK_PII_PHONE},
        {"US: +1 415-555-2671.", "US: <|phone|>.", DK_PII_PHONE},
        /* look-alikes: a business line, a date, a short number, a price, a version, a bad prefix, a URL id, +1 */
        {"대표번호 1588-1234", "대표번호 1588-1234", -1},
        {"2024-01-15 에", "2024-01-15 에", -1},
        {"010-1234-567 은 짧다", "010-1234-567 은 짧다", -1},
        {"가격 1,234,567원", "가격 1,234,567원", -1},
        {"v1.0.2 버전", "v1.0.2 버전", -1},
        {"012-3456-7890", "012-3456-7890", -1},
        {"https://news.v.daum.net/v/01012345678 기사", "https://news.v.daum.net/v/01012345678 기사", -1},
        {"점수 +1 점", "점수 +1 점", -1},
    };
    check(cases, sizeof cases / sizeof *cases);
}

static void test_rrn(void **s)
{
    (void)s;
    static const pii_case cases[] = {
        {"주민번호 900101-1234568 입니다", "주민번호 <|rrn|> 입니다", DK_PII_RRN},
        {"851231-2345673", "<|rrn|>", DK_PII_RRN},
        {"(0203043456784)", "(<|rrn|>)", DK_PII_RRN},
        {"외국인 991111-8123454.", "외국인 <|rrn|>.", DK_PII_RRN},
        /* a wrong check digit, an impossible month, a sex digit 0, a 6-6 split */
        {"900101-1234569", "900101-1234569", -1},
        {"901301-1234568", "901301-1234568", -1},
        {"900101-0234568", "900101-0234568", -1},
        {"900101-123456", "900101-123456", -1},
    };
    check(cases, sizeof cases / sizeof *cases);
    assert_true(dk_rrn_valid("9001011234568"));
    assert_false(dk_rrn_valid("9001011234569"));
}

static void test_card(void **s)
{
    (void)s;
    static const pii_case cases[] = {
        {"카드 4111-1111-1111-1111 결제", "카드 <|card|> 결제", DK_PII_CARD},
        {"5555 5555 5555 4444", "<|card|>", DK_PII_CARD},
        {"amex 3782-822463-10005.", "amex <|card|>.", DK_PII_CARD},
        {"6011111111111117", "<|card|>", DK_PII_CARD},
        /* Luhn fails; an issuer digit no card has; mixed separators; an order number of 12 digits */
        {"4111-1111-1111-1112", "4111-1111-1111-1112", -1},
        {"9111-1111-1111-1119", "9111-1111-1111-1119", -1},
        {"4111-1111 1111-1111", "4111-1111 1111-1111", -1},
        {"주문 411111111111", "주문 411111111111", -1},
    };
    check(cases, sizeof cases / sizeof *cases);
    assert_true(dk_luhn_valid("378282246310005", 15));
    assert_false(dk_luhn_valid("378282246310006", 15));
}

static void test_several_and_adversarial(void **s)
{
    (void)s;
    int64_t c[DK_PII_KINDS];
    const char *got = scrub("a@b.com, 010-1111-2222, 900101-1234568, 4111111111111111 끝", c);
    assert_string_equal(got, "<|email|>, <|phone|>, <|rrn|>, <|card|> 끝");
    for (int k = 0; k < DK_PII_KINDS; k++) assert_int_equal(c[k], 1);
    /* long runs of digits, separators, '@' and '+' end without a match and without reading past the end */
    char big[20001];
    for (int i = 0; i < 20000; i++) big[i] = "0-1 +@(."[i % 8];
    big[20000] = '\0';
    scrub(big, c);
    memset(big, '7', 20000);
    assert_string_equal(scrub(big, c), big);
    assert_string_equal(scrub("", c), "");
    assert_string_equal(scrub("@", c), "@");
    assert_string_equal(scrub("+", c), "+");
    assert_string_equal(scrub("(0", c), "(0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email), cmocka_unit_test(test_phone), cmocka_unit_test(test_rrn),
        cmocka_unit_test(test_card),  cmocka_unit_test(test_several_and_adversarial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
