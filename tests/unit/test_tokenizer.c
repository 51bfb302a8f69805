/* The tokenizer on its own: training is the same for any thread count,
 * decode(encode(x)) gives back x (its NFC form) for random text of every
 * script, invalid UTF-8 is refused with its offset, partial tokens decode to
 * U+FFFD as Unicode's recommended practice says, and bad tokenizer.json
 * files are refused naming the field. tests/cli/test_tokenizer_hf.sh holds
 * the ids against HF tokenizers itself. */
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/rng.h"
#include "dokja/sha256.h"
#include "dokja/tokenizer.h"
#include "testutil.h"

static const char *corpus[] = {
    "오늘 날씨가 정말 좋네요. 내일도 좋았으면 좋겠습니다!",
    "이 영화 진짜 재밌어요 ㅋㅋㅋ 배우들 연기가 최고예요",
    "The quick brown fox jumps over the lazy dog. It's 2024, isn't it?",
    "def main():\n    return [x * 2 for x in range(10)]  # doubled\n",
    "한국어와 English가 섞인 문장도 있습니다: AI가 123,456원을 벌었다.",
    "<|user|>안녕하세요<|end|><|assistant|><think>인사</think>반갑습니다<|end|>",
};

/* A tokenizer trained on the corpus above, repeated, with `threads` threads. */
static char *train_json(int threads, int vocab)
{
    dk_bpe_trainer *tr;
    dk_bpe_train_options o = {.vocab_size = vocab, .threads = threads, .min_frequency = 1};
    assert_int_equal(dk_bpe_trainer_new(&tr, &o), 0);
    const char *texts[60];
    size_t lens[60];
    for (int i = 0; i < 60; i++) {
        texts[i] = corpus[i % 6];
        lens[i] = strlen(texts[i]);
    }
    assert_int_equal(dk_bpe_trainer_add(tr, texts, lens, 60), 0);
    char *json = dk_bpe_trainer_finish(tr, NULL, NULL);
    assert_non_null(json);
    dk_bpe_trainer_free(tr);
    return json;
}

static dk_tokenizer *load(const char *json)
{
    dk_tokenizer *t;
    if (dk_tokenizer_load_text(&t, json, strlen(json), "test.json")) fail_msg("%s", dk_error());
    return t;
}

static void test_train_deterministic(void **s)
{
    (void)s;
    char *a = train_json(1, 420), *b = train_json(3, 420);
    assert_string_equal(a, b);
    dk_tokenizer *t = load(a);
    assert_int_equal(dk_tokenizer_vocab_size(t), 420);
    assert_int_equal(dk_tokenizer_token_id(t, "<|bos|>"), 256);
    assert_int_equal(dk_tokenizer_token_id(t, "</think>"), 264);
    assert_true(dk_tokenizer_is_special(t, 256));
    assert_false(dk_tokenizer_is_special(t, 300));
    assert_int_equal(dk_tokenizer_token_id(t, "no such token"), -1);
    size_t len;
    const char *b256 = dk_tokenizer_token_bytes(t, 256, &len);
    assert_int_equal(len, 7);
    assert_memory_equal(b256, "<|bos|>", 7);
    assert_null(dk_tokenizer_token_bytes(t, 420, &len));
    char sha[DK_SHA256_HEX];
    dk_sha256_buf(a, strlen(a), sha);
    assert_string_equal(dk_tokenizer_sha256(t), sha);
    /* Specials in text become their ids and are never split; the corpus compresses. */
    int *ids, n;
    assert_int_equal(dk_tokenizer_encode(t, corpus[5], strlen(corpus[5]), false, &ids, &n), 0);
    assert_int_equal(ids[0], dk_tokenizer_token_id(t, "<|user|>"));
    assert_true(n < 20);
    char *back = dk_tokenizer_decode(t, ids, n, false);
    assert_string_equal(back, corpus[5]);
    free(back);
    back = dk_tokenizer_decode(t, ids, n, true);
    assert_string_equal(back, "안녕하세요인사반갑습니다");
    free(back);
    free(ids);
    dk_tokenizer_free(t);
    free(a);
    free(b);
}

/* Code points from every corner the pre-tokenizer and normalizer care about. */
static const unsigned pool[] = {
    'a', 'Z', '0', '9', ' ', ' ', '\n', '\r', '\t', '\'', 's', '.', ',', '<', '|', '>', '-', 0x00, 0x7F, 0x85, 0xA0, 0xAD,
    0xE9, 0x301, 0x3000, 0x2028, 0xAC00, 0xB098, 0xD7A3, 0x1100, 0x1161, 0x11A8, 0x3131, 0x4E2D, 0x0661, 0xFF10, 0x200D,
    0x1F469, 0x1F1F0, 0x1F1F7, 0xFFFD, 0x10FFFF, 0xFB01, 0x212B,
};

static size_t put_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) return o[0] = (char)cp, 1;
    if (cp < 0x800) return o[0] = (char)(0xC0 | cp >> 6), o[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return o[0] = (char)(0xE0 | cp >> 12), o[1] = (char)(0x80 | ((cp >> 6) & 63)), o[2] = (char)(0x80 | (cp & 63)), 3;
    o[0] = (char)(0xF0 | cp >> 18), o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)), o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Random text from the pool; when nfc_safe, without the characters NFC would change. */
static size_t random_text(dk_rng *r, char *buf, int chars, bool nfc_safe)
{
    size_t n = 0;
    for (int i = 0; i < chars; i++) {
        unsigned cp = pool[dk_rng_below(r, sizeof pool / sizeof *pool)];
        if (nfc_safe && (cp == 0x301 || cp == 0x1161 || cp == 0x11A8 || cp == 0x212B)) cp = 'x';
        n += put_utf8(cp, buf + n);
    }
    return n;
}

static void test_roundtrip_fuzz(void **s)
{
    (void)s;
    char *json = train_json(2, 400);
    dk_tokenizer *t = load(json);
    dk_rng r;
    dk_rng_seed(&r, 7);
    char buf[4 * 400 + 1];
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = random_text(&r, buf, (int)dk_rng_below(&r, 400), true);
        int *ids, n;
        assert_int_equal(dk_tokenizer_encode(t, buf, len, false, &ids, &n), 0);
        for (int i = 0; i < n; i++) assert_true(ids[i] >= 0 && ids[i] < 400);
        char *back = dk_tokenizer_decode(t, ids, n, false);
        assert_memory_equal(back, buf, len); /* NUL bytes too: compare len bytes */
        free(back);
        free(ids);
    }
    dk_tokenizer_free(t);
    free(json);
}

static void test_nfc(void **s)
{
    (void)s;
    char *json = train_json(1, 300);
    dk_tokenizer *t = load(json);
    /* conjoining jamo compose into syllables; e + combining acute into é; the Angstrom sign into Å */
    const char *in = "\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8 e\xCC\x81 \xE2\x84\xAB", *want = "각 é Å";
    int *ids, n;
    assert_int_equal(dk_tokenizer_encode(t, in, strlen(in), false, &ids, &n), 0);
    char *back = dk_tokenizer_decode(t, ids, n, false);
    assert_string_equal(back, want);
    free(back);
    free(ids);
    dk_tokenizer_free(t);
    free(json);
}

static void test_invalid_utf8(void **s)
{
    (void)s;
    char *json = train_json(1, 300);
    dk_tokenizer *t = load(json);
    static const struct {
        const char *text;
        size_t len, at;
    } bad[] = {
        {"\xFF", 1, 0}, {"ab\xC3", 3, 2}, {"\xED\xA0\x80", 3, 0}, {"ok \xC0\xAF", 5, 3}, {"\xF4\x90\x80\x80", 4, 0},
        {"가\x80", 4, 3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int *ids = (int *)1, n = 5;
        assert_int_equal(dk_tokenizer_encode(t, bad[i].text, bad[i].len, false, &ids, &n), -1);
        assert_null(ids);
        char want[64];
        snprintf(want, sizeof want, "not valid UTF-8 at byte %zu", bad[i].at);
        tu_assert_error_has(want);
    }
    /* random bytes never crash: either refused or given back */
    dk_rng r;
    dk_rng_seed(&r, 3);
    for (int iter = 0; iter < 2000; iter++) {
        unsigned char buf[64];
        size_t len = dk_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)dk_rng_next(&r);
        int *ids, n;
        if (dk_tokenizer_encode(t, (char *)buf, len, false, &ids, &n)) continue;
        char *back = dk_tokenizer_decode(t, ids, n, false);
        assert_memory_equal(back, buf, len);
        free(back);
        free(ids);
    }
    dk_tokenizer_free(t);
    free(json);
}

/* Bytes that are not whole characters decode to U+FFFD, one per maximal
 * invalid subsequence (Unicode 15, section 3.9, as Rust's from_utf8_lossy). */
static void test_partial_tokens(void **s)
{
    (void)s;
    char *json = train_json(1, 300);
    dk_tokenizer *t = load(json);
    static const struct {
        int ids[5];
        int n;
        const char *want;
    } cases[] = {
        {{0xEA, 0xB0}, 2, "\xEF\xBF\xBD"},                        /* first two bytes of 가 */
        {{0xEA, 0xB0, 0x80}, 3, "가"},                             /* whole again */
        {{0xF0, 0x9F, 0x98, 'a'}, 4, "\xEF\xBF\xBD" "a"},          /* a cut emoji, then a */
        {{0xC0, 0x80}, 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},            /* never valid: one each */
        {{0xED, 0xA0, 0x80}, 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate */
        {{0xE1, 0x80, 0x41, 0x80}, 4, "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = dk_tokenizer_decode(t, cases[i].ids, cases[i].n, false);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    /* ids outside the vocabulary are skipped, as HF does */
    int ids[] = {'a', 99999, -1, 'b'};
    char *got = dk_tokenizer_decode(t, ids, 4, false);
    assert_string_equal(got, "ab");
    free(got);
    dk_tokenizer_free(t);
    free(json);
}

static void test_long_words(void **s)
{
    (void)s;
    char *json = train_json(1, 400);
    dk_tokenizer *t = load(json);
    dk_encoder *e = dk_encoder_new(t);
    size_t len = 300000;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i += 3) memcpy(text + i, "가", 3); /* one pre-token of 100k syllables */
    int *ids = NULL, n = 0, cap = 0;
    for (int round = 0; round < 2; round++) {
        n = 0;
        assert_int_equal(dk_encoder_encode(e, text, len, false, &ids, &n, &cap), 0);
        char *back = dk_tokenizer_decode(t, ids, n, false);
        assert_int_equal(strlen(back), len);
        assert_memory_equal(back, text, len);
        free(back);
    }
    /* the encoder's cache gives what a fresh encode gives */
    const char *short_text = "오늘 날씨가 정말 좋네요 오늘 날씨가";
    int *a = NULL, na = 0, cap_a = 0, *b, nb;
    for (int round = 0; round < 2; round++) {
        na = 0;
        assert_int_equal(dk_encoder_encode(e, short_text, strlen(short_text), false, &a, &na, &cap_a), 0);
    }
    assert_int_equal(dk_tokenizer_encode(t, short_text, strlen(short_text), false, &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, sizeof *a * (size_t)na);
    /* empty text: no ids, a valid pointer */
    free(b);
    assert_int_equal(dk_tokenizer_encode(t, "", 0, false, &b, &nb), 0);
    assert_int_equal(nb, 0);
    assert_non_null(b);
    free(b);
    free(a);
    free(ids);
    free(text);
    dk_encoder_free(e);
    dk_tokenizer_free(t);
    free(json);
}

/* A copy of the trained file with one piece replaced: every bad file is refused naming what is wrong. */
static void expect_refused(const char *json, const char *from, const char *to, const char *needle)
{
    const char *at = strstr(json, from);
    if (!at) fail_msg("the trained file lacks %s", from);
    char *bad = dk_strdupf("%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    dk_tokenizer *t = (dk_tokenizer *)1;
    assert_int_equal(dk_tokenizer_load_text(&t, bad, strlen(bad), "bad.json"), -1);
    assert_null(t);
    tu_assert_error_has("bad.json");
    tu_assert_error_has(needle);
    free(bad);
}

static void test_bad_files(void **s)
{
    (void)s;
    char *json = train_json(1, 300);
    expect_refused(json, "\"NFC\"", "\"Lowercase\"", "normalizer: type \"Lowercase\" is not supported");
    expect_refused(json, "\"Split\"", "\"Digits\"", "pre_tokenizer: type \"Digits\"");
    expect_refused(json, "\"BPE\"", "\"WordPiece\"", "model: type \"WordPiece\"");
    expect_refused(json, "\"truncation\":\tnull", "\"truncation\": {\"max_length\": 5}", "\"truncation\" is set");
    expect_refused(json, "\"lstrip\":\tfalse", "\"lstrip\": true", "\"lstrip\": true is not supported");
    expect_refused(json, "\"Isolated\"", "\"Sideways\"", "\"behavior\"");
    expect_refused(json, "\"Regex\":\t\"", "\"Regex\":\t\"(", "is not supported");
    expect_refused(json, "\"type\":\t\"ByteLevel\",", "\"type\":\t\"Metaspace\",", "type \"Metaspace\"");
    expect_refused(json, "\"merges\":\t[", "\"merges\":\t[\"zz qq\", ", "merges[0]");
    expect_refused(json, "\"decoder\":\t{\n\t\t\"type\":\t\"ByteLevel\"", "\"decoder\":\t{\n\t\t\"type\":\t\"WordPiece\"",
                   "decoder: type \"WordPiece\"");
    /* not JSON, cut short, empty, the wrong shape */
    dk_tokenizer *t;
    assert_int_equal(dk_tokenizer_load_text(&t, json, strlen(json) / 2, "cut.json"), -1);
    tu_assert_error_has("cut.json: line");
    tu_assert_error_has("invalid JSON");
    assert_int_equal(dk_tokenizer_load_text(&t, "", 0, "empty.json"), -1);
    tu_assert_error_has("empty.json");
    assert_int_equal(dk_tokenizer_load_text(&t, "[1,2]", 5, "list.json"), -1);
    tu_assert_error_has("not a tokenizer.json");
    assert_int_equal(dk_tokenizer_load_text(&t, "{}", 2, "obj.json"), -1);
    tu_assert_error_has("\"model\" is missing");
    assert_int_equal(dk_tokenizer_load(&t, "/nonexistent/tokenizer.json"), -1);
    tu_assert_error_has("/nonexistent/tokenizer.json");
    /* a trainer asked for fewer tokens than the bytes and specials */
    dk_bpe_trainer *tr;
    dk_bpe_train_options o = {.vocab_size = 260};
    assert_int_equal(dk_bpe_trainer_new(&tr, &o), -1);
    tu_assert_error_has("too small");
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_deterministic), cmocka_unit_test(test_roundtrip_fuzz), cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_invalid_utf8),        cmocka_unit_test(test_partial_tokens), cmocka_unit_test(test_long_words),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
