/* The streaming document reader: every format and its .zst form, directory
 * walks in a fixed order, metadata, and each kind of bad input reported
 * with the file and line (or refused under strict) instead of a crash. */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "dokja/docs.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "testutil.h"

typedef struct {
    int count[DK_BAD_KINDS];
    int64_t line[DK_BAD_KINDS];
    char path[DK_BAD_KINDS][512];
    char msg[DK_BAD_KINDS][512];
} bad_log;

static void on_bad(void *ctx, dk_bad_kind kind, const char *path, int64_t line, const char *message)
{
    bad_log *b = ctx;
    b->count[kind]++;
    b->line[kind] = line;
    snprintf(b->path[kind], sizeof b->path[kind], "%s", path);
    snprintf(b->msg[kind], sizeof b->msg[kind], "%s", message);
}

static int total_bad(const bad_log *b)
{
    int n = 0;
    for (int k = 0; k < DK_BAD_KINDS; k++) n += b->count[k];
    return n;
}

/* Reads every document of the paths; texts joined with '|', lines in *lines. */
typedef struct {
    char text[8192];
    int64_t lines[64];
    int n;
    bad_log bad;
} readout;

static int read_all(char **paths, int npaths, dk_docs_options o, readout *r)
{
    memset(r, 0, sizeof *r);
    o.on_bad = on_bad;
    o.ctx = &r->bad;
    dk_docs *d;
    if (dk_docs_open(&d, paths, npaths, &o)) return -1;
    dk_doc doc;
    int rc;
    while ((rc = dk_docs_next(d, &doc)) == 1) {
        assert_int_equal(strlen(doc.text), doc.len);
        assert_int_equal(dk_utf8_valid(doc.text, doc.len), doc.len);
        if (r->n) strcat(r->text, "|");
        if (strlen(r->text) + doc.len < sizeof r->text) strncat(r->text, doc.text, doc.len);
        if (r->n < 64) r->lines[r->n] = doc.line;
        r->n++;
    }
    dk_docs_close(d);
    return rc;
}

static char *zst(const char *dir, const char *name, const char *data, size_t len, size_t cut)
{
    size_t cap = ZSTD_compressBound(len);
    char *c = malloc(cap);
    size_t n = ZSTD_compress(c, cap, data, len, 3);
    assert_false(ZSTD_isError(n));
    char *p = tu_write(dir, name, c, n - cut);
    free(c);
    return p;
}

static void test_utf8_repair_matches_python(void **s)
{
    (void)s;
    /* expected: Python's bytes.decode("utf-8", "replace"), Unicode's maximal-subpart practice */
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a\x80" "b", "a\xef\xbf\xbd" "b"},
        {"\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"},
        {"\xf0\x9f\x98", "\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xc3", "\xef\xbf\xbd"},
        {"\xe2\x82\xac\xff\xfe", "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf1\x80\x80\xe1\x80\xc2", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"plain ascii that is long enough for the fast path 한국어 ok", "plain ascii that is long enough for the fast path 한국어 ok"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[256];
        size_t n = dk_utf8_repair(cases[i].in, strlen(cases[i].in), out);
        out[n] = '\0';
        assert_string_equal(out, cases[i].out);
        assert_int_equal(dk_utf8_valid(out, n), n);
    }
    assert_int_equal(dk_utf8_valid("abcdefghij\xc3(", 12), 10);
}

static void test_txt_and_lines(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    const char *text = "\xEF\xBB\xBFone\r\n\n  \ntwo\nthree";
    char *a = tu_write(dir, "a.txt", text, strlen(text));
    readout r;
    assert_int_equal(read_all(&a, 1, (dk_docs_options){.lines = true}, &r), 0);
    assert_string_equal(r.text, "one|two|three");
    assert_int_equal(r.lines[0], 1);
    assert_int_equal(r.lines[1], 4);
    assert_int_equal(r.lines[2], 5);
    assert_int_equal(total_bad(&r.bad), 0);
    /* a document per file: the whole text, as it is */
    assert_int_equal(read_all(&a, 1, (dk_docs_options){0}, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.text, "one\r\n\n  \ntwo\nthree");
    free(a);
    tu_rmdir(dir);
}

static void test_jsonl_meta_and_bad_lines(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    const char *text = "{\"id\":\"x1\",\"text\":\"hello\",\"n\":3}\n"
                       "{\"text\": \"bad json\"\n"
                       "[1,2]\n"
                       "{\"title\":\"no text\"}\n"
                       "{\"text\":5}\n"
                       "{\"text\":\"a\"} trailing\n"
                       "\n"
                       "{\"text\":\"caf\xC3\xA9 \xFF!\"}\n"
                       "{\"body\":\"other field\",\"text\":\"t\"}\n";
    char *p = tu_write(dir, "x.jsonl", text, strlen(text));
    dk_docs_options o = {0};
    bad_log bad = {0};
    o.on_bad = on_bad;
    o.ctx = &bad;
    dk_docs *d;
    assert_int_equal(dk_docs_open(&d, &p, 1, &o), 0);
    dk_doc doc;
    assert_int_equal(dk_docs_next(d, &doc), 1);
    assert_string_equal(doc.text, "hello");
    assert_int_equal(doc.format, DK_FORMAT_JSONL);
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "id")->valuestring, "x1");
    assert_int_equal(cJSON_GetObjectItem(doc.meta, "n")->valueint, 3);
    assert_null(cJSON_GetObjectItem(doc.meta, "text"));
    assert_int_equal(dk_docs_next(d, &doc), 1);
    assert_string_equal(doc.text, "caf\xC3\xA9 \xEF\xBF\xBD!");
    assert_int_equal(doc.line, 8);
    assert_int_equal(dk_docs_next(d, &doc), 1);
    assert_string_equal(doc.text, "t");
    assert_int_equal(dk_docs_next(d, &doc), 0);
    dk_docs_close(d);
    assert_int_equal(bad.count[DK_BAD_JSON], 3); /* lines 2, 3, 6 */
    assert_int_equal(bad.line[DK_BAD_JSON], 6);
    assert_int_equal(bad.count[DK_BAD_FIELD], 2); /* lines 4, 5 */
    assert_int_equal(bad.line[DK_BAD_FIELD], 5);
    assert_non_null(strstr(bad.path[DK_BAD_FIELD], "x.jsonl"));
    assert_int_equal(bad.count[DK_BAD_UTF8], 1);
    assert_int_equal(bad.line[DK_BAD_UTF8], 8);
    /* another text field */
    readout r;
    assert_int_equal(read_all(&p, 1, (dk_docs_options){.text_field = "body"}, &r), 0);
    assert_string_equal(r.text, "other field");
    assert_int_equal(r.bad.count[DK_BAD_FIELD], 4); /* lines 1, 4, 5, 8 */
    /* strict: the first bad line ends the reading, named */
    assert_int_equal(read_all(&p, 1, (dk_docs_options){.strict = true}, &r), -1);
    tu_assert_error_has("x.jsonl:2");
    free(p);
    tu_rmdir(dir);
}

static void test_zst_same_as_plain_and_truncated(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    /* more than one read block, so decompression runs across buffer refills */
    size_t n = 0, cap = 3 << 20;
    char *big = malloc(cap);
    int lines = 0;
    while (n + 100 < cap) n += (size_t)sprintf(big + n, "{\"text\":\"문서 %d 번째 줄입니다\"}\n", lines++);
    char *plain = tu_write(dir, "big.jsonl", big, n);
    char *z = zst(dir, "big.jsonl.zst", big, n, 0);
    char *paths[2] = {plain, z};
    bad_log whole = {0};
    dk_docs_options o = {.on_bad = on_bad, .ctx = &whole};
    dk_docs *d;
    assert_int_equal(dk_docs_open(&d, paths, 2, &o), 0);
    dk_doc doc;
    int count[2] = {0}, rc;
    while ((rc = dk_docs_next(d, &doc)) == 1) {
        char want[64];
        snprintf(want, sizeof want, "문서 %d 번째 줄입니다", count[doc.input]);
        assert_string_equal(doc.text, want);
        assert_int_equal(doc.line, count[doc.input] + 1);
        count[doc.input]++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(count[0], lines);
    assert_int_equal(count[1], lines);
    int64_t done, total;
    dk_docs_progress(d, &done, &total);
    assert_int_equal(done, total);
    assert_int_equal(total_bad(&whole), 0);
    dk_docs_close(d);
    /* two frames one after the other are one stream */
    size_t cap1 = ZSTD_compressBound(n), c1;
    char *zz = malloc(2 * cap1);
    c1 = ZSTD_compress(zz, cap1, big, n, 1);
    memcpy(zz + c1, zz, c1);
    char *zp = tu_write(dir, "two.jsonl.zst", zz, 2 * c1);
    bad_log twice = {0};
    assert_int_equal(dk_docs_open(&d, &zp, 1, &(dk_docs_options){.on_bad = on_bad, .ctx = &twice}), 0);
    int got2 = 0;
    while ((rc = dk_docs_next(d, &doc)) == 1) got2++;
    dk_docs_close(d);
    assert_int_equal(rc, 0);
    assert_int_equal(got2, 2 * lines);
    assert_int_equal(total_bad(&twice), 0);
    free(zz), free(zp);
    /* cut short: the whole lines before the cut come out, the cut is reported */
    free(zst(dir, "big.jsonl.zst", big, n, 1000));
    readout r;
    memset(&r, 0, sizeof r);
    o.on_bad = on_bad;
    o.ctx = &r.bad;
    assert_int_equal(dk_docs_open(&d, &z, 1, &o), 0);
    int got = 0;
    while ((rc = dk_docs_next(d, &doc)) == 1) {
        char want[64];
        snprintf(want, sizeof want, "문서 %d 번째 줄입니다", got++);
        assert_string_equal(doc.text, want);
    }
    dk_docs_close(d);
    assert_int_equal(rc, 0);
    assert_true(got > lines / 2 && got < lines);
    assert_int_equal(r.bad.count[DK_BAD_TRUNCATED], 1);
    assert_int_equal(r.bad.line[DK_BAD_TRUNCATED], got + 1);
    assert_int_equal(r.bad.count[DK_BAD_JSON], 0);
    /* garbage that is not zstd at all */
    char *g = tu_write(dir, "junk.txt.zst", "this is not a zstd frame at all", 31);
    assert_int_equal(read_all(&g, 1, (dk_docs_options){0}, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad.count[DK_BAD_TRUNCATED], 1);
    assert_non_null(strstr(r.bad.msg[DK_BAD_TRUNCATED], "corrupt zstd"));
    free(g), free(big), free(plain), free(z);
    tu_rmdir(dir);
}

static void test_csv_tsv(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    const char *csv = "id,text,label\r\n"
                      "1,\"multi\nline, with \"\"quotes\"\"\",pos\r\n"
                      "2,plain,neg\n"
                      "3,too,many,fields\n"
                      "4,\"last\",x\n"
                      "5,\"never closed,y\n";
    char *c = tu_write(dir, "q.csv", csv, strlen(csv));
    readout r;
    assert_int_equal(read_all(&c, 1, (dk_docs_options){0}, &r), 0);
    assert_string_equal(r.text, "multi\nline, with \"quotes\"|plain|last");
    assert_int_equal(r.lines[0], 2);
    assert_int_equal(r.lines[1], 4);
    assert_int_equal(r.lines[2], 6);
    assert_int_equal(r.bad.count[DK_BAD_FIELD], 1);
    assert_int_equal(r.bad.line[DK_BAD_FIELD], 5);
    assert_int_equal(r.bad.count[DK_BAD_CSV], 1);
    assert_int_equal(r.bad.line[DK_BAD_CSV], 7);
    /* metadata from the other columns */
    dk_docs *d;
    dk_docs_options o = {0};
    assert_int_equal(dk_docs_open(&d, &c, 1, &o), 0);
    dk_doc doc;
    assert_int_equal(dk_docs_next(d, &doc), 1);
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "label")->valuestring, "pos");
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "id")->valuestring, "1");
    dk_docs_close(d);
    /* no such column: the file is skipped, named */
    assert_int_equal(read_all(&c, 1, (dk_docs_options){.text_field = "body"}, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad.count[DK_BAD_FIELD], 1);
    assert_int_equal(r.bad.count[DK_BAD_EMPTY], 0);
    const char *tsv = "question\tanswer\n what is it?\t\"it, is\"\n";
    char *t = tu_write(dir, "k.tsv", tsv, strlen(tsv));
    assert_int_equal(read_all(&t, 1, (dk_docs_options){.text_field = "answer"}, &r), 0);
    assert_string_equal(r.text, "it, is");
    free(c), free(t);
    tu_rmdir(dir);
}

static void test_markdown_front_matter(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    const char *md = "---\n"
                     "title: \"서울 &quot;뉴스&quot;: 오늘\"\n"
                     "publisher: '한겨레'\n"
                     "author:\n"
                     "  - 김기자\n"
                     "  - Lee\n"
                     "url: https://example.com/a?b=1\n"
                     "summary: a long\n"
                     "  folded line\n"
                     "# a comment\n"
                     "---\n"
                     "본문 첫 줄 &#x27;인용&#x27;\n\n원문 보기\n";
    char *p = tu_write(dir, "n.md", md, strlen(md));
    dk_docs *d;
    dk_docs_options o = {0};
    assert_int_equal(dk_docs_open(&d, &p, 1, &o), 0);
    dk_doc doc;
    assert_int_equal(dk_docs_next(d, &doc), 1);
    assert_int_equal(doc.format, DK_FORMAT_MARKDOWN);
    assert_string_equal(doc.text, "본문 첫 줄 &#x27;인용&#x27;\n\n원문 보기\n");
    assert_int_equal(doc.line, 12);
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "title")->valuestring, "서울 &quot;뉴스&quot;: 오늘");
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "publisher")->valuestring, "한겨레");
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "url")->valuestring, "https://example.com/a?b=1");
    assert_string_equal(cJSON_GetObjectItem(doc.meta, "summary")->valuestring, "a long folded line");
    cJSON *authors = cJSON_GetObjectItem(doc.meta, "author");
    assert_true(cJSON_IsArray(authors));
    assert_int_equal(cJSON_GetArraySize(authors), 2);
    assert_string_equal(cJSON_GetArrayItem(authors, 1)->valuestring, "Lee");
    assert_int_equal(dk_docs_next(d, &doc), 0);
    dk_docs_close(d);
    /* no front matter: all of it is the body; an unclosed one is bad input */
    char *plain = tu_write(dir, "plain.md", "# Title\nbody\n", 13);
    char *open = tu_write(dir, "open.md", "---\ntitle: x\nbody\n", 18);
    char *both[2] = {plain, open};
    readout r;
    assert_int_equal(read_all(both, 2, o, &r), 0);
    assert_string_equal(r.text, "# Title\nbody\n");
    assert_int_equal(r.bad.count[DK_BAD_FRONT_MATTER], 1);
    assert_non_null(strstr(r.bad.path[DK_BAD_FRONT_MATTER], "open.md"));
    free(p), free(plain), free(open);
    tu_rmdir(dir);
}

static void test_directory_walk_and_bad_files(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    char *sub = dk_path_join(dir, "b"), *deep = dk_path_join(dir, "b/c");
    assert_int_equal(dk_mkdirs(deep), 0);
    free(tu_write(dir, "z.txt", "last", 4));
    free(tu_write(dir, "B.txt", "upper first", 11)); /* byte order: 'B' < 'a' */
    free(tu_write(dir, "a.txt", "first", 5));
    free(tu_write(dir, ".hidden.txt", "hidden", 6));
    free(tu_write(sub, "x.txt", "in b", 4));
    free(tu_write(deep, "y.jsonl", "{\"text\":\"in c\"}\n", 16));
    free(tu_write(dir, "empty.txt", "", 0));
    free(tu_write(dir, "blank.txt", " \n\t\n", 4));
    free(tu_write(dir, "bin.txt", "PK\x03\x04\0\0binary", 12));
    char *missing = dk_path_join(dir, "missing.txt");
    char *paths[2] = {dir, missing};
    readout r;
    assert_int_equal(read_all(paths, 2, (dk_docs_options){0}, &r), 0);
    assert_string_equal(r.text, "upper first|first|in c|in b|last"); /* "b/c" < "b/x.txt" */
    assert_int_equal(r.bad.count[DK_BAD_EMPTY], 2);
    assert_int_equal(r.bad.count[DK_BAD_BINARY], 1);
    assert_non_null(strstr(r.bad.path[DK_BAD_BINARY], "bin.txt"));
    assert_int_equal(r.bad.count[DK_BAD_UNREADABLE], 1);
    assert_non_null(strstr(r.bad.path[DK_BAD_UNREADABLE], "missing.txt"));
    dk_docs *d;
    assert_int_equal(dk_docs_open(&d, paths, 2, &(dk_docs_options){0}), 0);
    assert_int_equal(dk_docs_nfiles(d), 9);
    int input;
    assert_non_null(strstr(dk_docs_file(d, 8, &input), "missing.txt"));
    assert_int_equal(input, 1);
    dk_docs_close(d);
    /* strict refuses a missing path at once */
    assert_int_equal(dk_docs_open(&d, paths, 2, &(dk_docs_options){.strict = true}), -1);
    tu_assert_error_has("missing.txt");
    free(sub), free(deep), free(missing);
    tu_rmdir(dir);
}

static void test_too_long_and_nul_lines(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    size_t n = 0;
    char *text = malloc(5 << 20);
    n += (size_t)sprintf(text + n, "short\n");
    memset(text + n, 'x', 3 << 20); /* a 3 MiB line: longer than the limit and than one read block */
    n += 3 << 20;
    text[n++] = '\n';
    n += (size_t)sprintf(text + n, "after\nnul");
    text[n++] = '\0';
    n += (size_t)sprintf(text + n, "inside\nend");
    char *p = tu_write(dir, "long.txt", text, n);
    readout r;
    assert_int_equal(read_all(&p, 1, (dk_docs_options){.lines = true, .max_doc_bytes = 1 << 20}, &r), 0);
    assert_string_equal(r.text, "short|after|end");
    assert_int_equal(r.lines[1], 3);
    assert_int_equal(r.lines[2], 5);
    assert_int_equal(r.bad.count[DK_BAD_TOO_LONG], 1);
    assert_int_equal(r.bad.line[DK_BAD_TOO_LONG], 2);
    assert_int_equal(r.bad.count[DK_BAD_BINARY], 1);
    assert_int_equal(r.bad.line[DK_BAD_BINARY], 4);
    /* a line over the limit that is whole in the first read */
    char *small = tu_write(dir, "small.txt", "ok line\n0123456789abcdef0123456789\nnext\n", 39);
    assert_int_equal(read_all(&small, 1, (dk_docs_options){.lines = true, .max_doc_bytes = 16}, &r), 0);
    assert_string_equal(r.text, "ok line|next");
    assert_int_equal(r.bad.count[DK_BAD_TOO_LONG], 1);
    assert_int_equal(r.bad.line[DK_BAD_TOO_LONG], 2);
    free(small);
    /* a whole file over the limit */
    assert_int_equal(read_all(&p, 1, (dk_docs_options){.max_doc_bytes = 1 << 20}, &r), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.bad.count[DK_BAD_TOO_LONG], 1);
    free(text), free(p);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_repair_matches_python),
        cmocka_unit_test(test_txt_and_lines),
        cmocka_unit_test(test_jsonl_meta_and_bad_lines),
        cmocka_unit_test(test_zst_same_as_plain_and_truncated),
        cmocka_unit_test(test_csv_tsv),
        cmocka_unit_test(test_markdown_front_matter),
        cmocka_unit_test(test_directory_walk_and_bad_files),
        cmocka_unit_test(test_too_long_and_nul_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
