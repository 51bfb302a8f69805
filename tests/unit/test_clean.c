/* Steps 1-4 of data prepare, one document at a time: entities, NFC (the
 * fast path checked against utf8proc itself), white space, boilerplate
 * lines, language by script, and each quality rule with a document that
 * breaks it and one that does not. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/data.h"
#include "testutil.h"

static char *run(int (*step)(const char *, size_t, dk_buf *), const char *in)
{
    static dk_buf b;
    assert_int_equal(step(in, strlen(in), &b), 0);
    assert_int_equal(strlen(b.p), b.len);
    return b.p;
}

static void test_entities(void **s)
{
    (void)s;
    assert_string_equal(run(dk_decode_entities, "Tom&#x27;s &quot;x&quot; &#x3D; 1 &lt;b&gt; &amp;amp; &nbsp;|"),
                        "Tom's \"x\" = 1 <b> &amp; \xC2\xA0|");
    assert_string_equal(run(dk_decode_entities, "&#54620;&#xAD6D; &hellip; &copy;2024"), "한국 … ©2024");
    /* not references: no ';', unknown names, out of range, zero, surrogates, bare '&' at the end */
    const char *keep = "AT&T &amp &bogus; &#xD800; &#0; &#x110000; &#; &#x; a & b &";
    assert_string_equal(run(dk_decode_entities, keep), keep);
}

static void test_nfc(void **s)
{
    (void)s;
    /* decomposed -> composed: e + combining acute; Hangul jamo L V T -> one syllable */
    assert_string_equal(run(dk_nfc, "caf" "e\xCC\x81"), "caf\xC3\xA9");
    assert_string_equal(run(dk_nfc, "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB!"), "한!");
    /* a precomposed syllable followed by a trailing jamo composes too (the fast path must not skip it) */
    assert_string_equal(run(dk_nfc, "\xEA\xB0\x80\xE1\x86\xA8"), "각");
    /* singletons: Angstrom sign -> A with ring, Ohm -> Omega */
    assert_string_equal(run(dk_nfc, "\xE2\x84\xAB \xE2\x84\xA6"), "\xC3\x85 \xCE\xA9");
    /* every character of the fast path is one NFC leaves alone, after a starter and alone */
    int checked = 0;
    for (int32_t cp = 0x20; cp < 0x30000; cp++) {
        if (!dk_nfc_inert(cp)) continue;
        const utf8proc_property_t *pr = utf8proc_get_property(cp);
        if (pr->combining_class != 0) fail_msg("U+%04X has combining class %d", cp, pr->combining_class);
        utf8proc_uint8_t in[8];
        utf8proc_ssize_t n = utf8proc_encode_char(cp, in + 1);
        in[0] = 'a';
        in[n + 1] = '\0';
        utf8proc_uint8_t *out = utf8proc_NFC(in);
        if (strcmp((char *)out, (char *)in)) fail_msg("NFC changes U+%04X", cp);
        free(out);
        checked++;
    }
    assert_true(checked > 20000);
}

static void test_whitespace(void **s)
{
    (void)s;
    assert_string_equal(run(dk_normalize_space, "  a \t b\r\nc\rd\n\n\n\n e  \n"), "a b\nc\nd\n\ne");
    /* Unicode spaces, zero-width and control characters, BOM, line separator */
    assert_string_equal(run(dk_normalize_space, "x\xC2\xA0y\xE3\x80\x80z\xE2\x80\x8Bw\x01v\xEF\xBB\xBFu\xE2\x80\xA8t"),
                        "x y zwvu\nt");
    /* ZWJ stays (emoji sequences) */
    assert_string_equal(run(dk_normalize_space, "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"), "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9");
    assert_string_equal(run(dk_normalize_space, " \n\t "), "");
}

static void test_boilerplate(void **s)
{
    (void)s;
    const char *yes[] = {"Crawled at 2024-03-01 12:00", "*원문 보기*", "[원문보기](http://x.kr/1)", "▶ 관련기사",
                         "ⓒ 한겨레신문사 무단전재 및 재배포 금지", "Copyright © 2024 Foo. All Rights Reserved.",
                         "> 출처: 연합뉴스", "- 기사 원문: https://n.news/1", "저작권자 © 뉴스1, 무단 전재 재배포 금지"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!dk_crawler_line(yes[i], strlen(yes[i]))) fail_msg("not a crawler line: %s", yes[i]);
    const char *no[] = {"원문을 보기 전에 생각했던 것과 달랐다.", "The copyright holder agreed.", "오늘은 수집한 자료를 정리했다.",
                        "All the rights we reserve are listed below.", ""};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (dk_crawler_line(no[i], strlen(no[i]))) fail_msg("a crawler line: %s", no[i]);
    /* line keys: white space inside a line does not matter, blank lines have none, one-line texts none */
    assert_int_equal(dk_line_key("a  b", 4), dk_line_key(" a b\t", 5));
    assert_int_not_equal(dk_line_key("a b", 3), dk_line_key("ab", 2));
    assert_int_equal(dk_line_key(" \t", 2), 0);
    uint64_t *keys = NULL;
    size_t cap = 0;
    assert_int_equal(dk_doc_line_keys("one line", 8, &keys, &cap), 0);
    assert_int_equal(dk_doc_line_keys("a\n\n b \nc", 8, &keys, &cap), 3);
    /* document frequency: a line counts once per document */
    dk_linecount m;
    assert_int_equal(dk_linecount_init(&m, 1 << 12), 0);
    for (int d = 0; d < 12; d++) {
        char doc[64];
        int n = snprintf(doc, sizeof doc, "menu\nmenu\nstory %d\n", d);
        int64_t k = dk_doc_line_keys(doc, (size_t)n, &keys, &cap);
        assert_int_equal(k, 3);
        assert_int_equal(dk_linecount_add_doc(&m, keys, (size_t)k), 0);
    }
    assert_int_equal(dk_linecount_get(&m, dk_line_key("menu", 4)), 12);
    assert_int_equal(dk_linecount_get(&m, dk_line_key("story 3", 7)), 1);
    assert_int_equal(dk_linecount_get(&m, dk_line_key("never", 5)), 0);
    dk_linecount_free(&m);
    /* bounded: past the limit the rarest keys go, the frequent one stays counted */
    assert_int_equal(dk_linecount_init(&m, 1024), 0);
    for (int d = 0; d < 5000; d++) {
        char doc[64];
        int n = snprintf(doc, sizeof doc, "footer\nunique line %d\n", d);
        int64_t k = dk_doc_line_keys(doc, (size_t)n, &keys, &cap);
        assert_int_equal(dk_linecount_add_doc(&m, keys, (size_t)k), 0);
        assert_true(m.count <= 1024);
    }
    assert_true(dk_linecount_get(&m, dk_line_key("footer", 6)) > 4000);
    dk_linecount_free(&m);
    free(keys);
}

static void test_language(void **s)
{
    (void)s;
    static const struct {
        const char *text, *lang;
    } cases[] = {
        {"오늘 날씨가 정말 좋네요", "ko"},
        {"삼성 갤럭시 S24 울트라 리뷰: camera 성능이 좋다", "ko"}, /* Hangul at 30%+ of letters */
        {"The quick brown fox jumps over the lazy dog and runs to the river", "en"},
        {"Der schnelle braune Fuchs springt über den faulen Hund", "latn"},
        {"東京は日本の首都です", "ja"},
        {"北京是中国的首都", "zh"},
        {"Москва — столица России", "ru"},
        {"مرحبا بالعالم", "ar"},
        {"12345 !!! ...", "und"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *got = dk_language(cases[i].text, strlen(cases[i].text), 0.3);
        if (strcmp(got, cases[i].lang)) fail_msg("\"%s\": %s, not %s", cases[i].text, got, cases[i].lang);
    }
    dk_script_counts c;
    dk_script_count("가나 ab 漢", strlen("가나 ab 漢"), &c);
    assert_int_equal(c.hangul, 2);
    assert_int_equal(c.latin, 2);
    assert_int_equal(c.han, 1);
    assert_int_equal(c.letters, 5);
}

static void test_quality_rules(void **s)
{
    (void)s;
    dk_data_options o;
    dk_data_options_default(&o);
    const char *good = "오늘은 친구들과 함께 한강 공원에 가서 자전거를 탔습니다. 날씨가 맑아서 기분이 좋았어요.";
    assert_null(dk_quality_check(good, strlen(good), &o));
    char many_lines[1024] = "", long_words[1024] = "", rep[1024] = "";
    for (int i = 0; i < 6; i++) strcat(many_lines, i % 2 ? "같은 줄이 계속 반복됩니다\n" : "다른 내용의 줄입니다 정말로\n");
    for (int i = 0; i < 3; i++) strcat(long_words, "가나다라마바사아자차카타파하가나다라마바사아자차카타파하가나다라마 ");
    for (int i = 0; i < 8; i++) strcat(rep, "이 문장은 다섯 단어로 된 반복입니다 ");
    const struct {
        const char *text, *reason;
    } bad[] = {
        {"짧은 글", "too_short"},
        {"!!!!!!!!!!!!!!??????....... ......", "few_letters"},
        {"결제 금액은 1234567원이고 번호는 98765입니다", "many_digits"},
        {"정말 재미있게 잘 봤어요 ♥♥♥♥♥ ★★★", "many_symbols"},
        {many_lines, "repeated_lines"},
        {rep, "repeated_ngrams"},
        {long_words, "word_length"},
        {"가 나 다 라 마 바 사 아 자 차 카 타", "word_length"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = dk_quality_check(bad[i].text, strlen(bad[i].text), &o);
        if (!why || strcmp(why, bad[i].reason)) fail_msg("\"%.40s\": %s, not %s", bad[i].text, why ? why : "kept", bad[i].reason);
    }
    o.max_chars = 20;
    assert_string_equal(dk_quality_check(good, strlen(good), &o), "too_long");
    /* every reason above is in the list the data card reports */
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bool listed = false;
        for (int k = 0; dk_quality_reasons[k]; k++) listed |= !strcmp(dk_quality_reasons[k], bad[i].reason);
        assert_true(listed);
    }
    dk_data_options_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entities),   cmocka_unit_test(test_nfc),      cmocka_unit_test(test_whitespace),
        cmocka_unit_test(test_boilerplate), cmocka_unit_test(test_language), cmocka_unit_test(test_quality_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
