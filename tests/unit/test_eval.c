/* Benchmark plumbing against hand-worked cases: table readers (quoting,
 * line endings, bad rows named), templates and their filters, the metrics
 * (standard errors, F1, bits per byte), rendered items with few-shot
 * examples and subjects, and whole mc/bpb runs on a model whose weights are
 * all zero: its next-token distribution is uniform, so every log-likelihood
 * is -(tokens) ln V and acc / acc_norm follow from the choices' lengths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/bytes.h"
#include "dokja/error.h"
#include "dokja/eval.h"
#include "dokja/io.h"
#include "testutil.h"

static cJSON *read_table(const char *dir, const char *name, const char *text, const char *format, const char *key)
{
    char *p = tu_write(dir, name, text, strlen(text));
    cJSON *rows = NULL;
    int rc = dk_table_read(p, format, key, &rows);
    free(p);
    return rc ? NULL : rows;
}

static const char *field(const cJSON *rows, int i, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, i), name);
    return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void test_csv(void **st)
{
    (void)st;
    char *d = tu_tempdir();
    cJSON *r = read_table(d, "a.csv",
                          "\xef\xbb\xbfq,a,b\r\n\"x, \"\"y\"\"\",2,\"multi\nline\"\r\n\r\nplain,\"\",z\"q\n", "csv", NULL);
    assert_non_null(r);
    assert_int_equal(cJSON_GetArraySize(r), 2);
    assert_string_equal(field(r, 0, "q"), "x, \"y\"");
    assert_string_equal(field(r, 0, "b"), "multi\nline");
    assert_string_equal(field(r, 1, "a"), "");
    assert_string_equal(field(r, 1, "b"), "z\"q"); /* a quote inside a field is a plain character */
    cJSON_Delete(r);
    /* TSV as KoBEST writes it: literal quotes inside fields, quoted fields where one starts with a quote */
    r = read_table(d, "a.tsv", "ID\tText\n1\t이 \"현대화, \"서구화\" 등\n2\t\"누군가 \"\"빙고\"\"를\"\n", "tsv", NULL);
    assert_non_null(r);
    assert_string_equal(field(r, 0, "Text"), "이 \"현대화, \"서구화\" 등");
    assert_string_equal(field(r, 1, "Text"), "누군가 \"빙고\"를");
    cJSON_Delete(r);
    assert_null(read_table(d, "b.csv", "a,b\n1,2\n3\n", "csv", NULL));
    tu_assert_error_has("line 3: 1 fields where the header has 2");
    assert_null(read_table(d, "c.csv", "a,b\n1,\"2\n3,4\n", "csv", NULL));
    tu_assert_error_has("line 2: a quoted field is never closed");
    assert_null(read_table(d, "d.csv", "", "csv", NULL));
    tu_assert_error_has("empty file");
    assert_null(read_table(d, "e.csv", "a\n\xff\xfe\n", "csv", NULL));
    tu_assert_error_has("line 2: invalid UTF-8");
    r = read_table(d, "f.csv", "a,b\n", "csv", NULL); /* a header alone: no rows */
    assert_int_equal(cJSON_GetArraySize(r), 0);
    cJSON_Delete(r);
    tu_rmdir(d);
}

static void test_json_formats(void **st)
{
    (void)st;
    char *d = tu_tempdir();
    cJSON *r = read_table(d, "a.jsonl", "{\"q\":\"a\",\"n\":3}\n\n{\"q\":\"b\"}", "jsonl", NULL);
    assert_int_equal(cJSON_GetArraySize(r), 2);
    assert_string_equal(field(r, 1, "q"), "b");
    cJSON_Delete(r);
    assert_null(read_table(d, "b.jsonl", "{\"q\":1}\n{\"q\":\n", "jsonl", NULL));
    tu_assert_error_has("b.jsonl: line 2: not a JSON object");
    assert_null(read_table(d, "c.jsonl", "[1]\n", "jsonl", NULL));
    tu_assert_error_has("line 1");
    r = read_table(d, "d.json", "{\"data\":[{\"q\":\"x\"},{\"q\":\"y\"}]}", "json", "data");
    assert_int_equal(cJSON_GetArraySize(r), 2);
    assert_string_equal(field(r, 1, "q"), "y");
    cJSON_Delete(r);
    assert_null(read_table(d, "e.json", "[{\"q\":1}, 2]", "json", NULL));
    tu_assert_error_has("item 1 is not an object");
    assert_null(read_table(d, "f.json", "{\"rows\":[]}", "json", "data"));
    tu_assert_error_has("\"data\" is not an array");
    assert_null(read_table(d, "g.json", "[{\"q\":", "json", NULL));
    tu_assert_error_has("invalid JSON");
    r = read_table(d, "h.lst", "0\n1\r\n\n", "lines", NULL);
    assert_int_equal(cJSON_GetArraySize(r), 3);
    assert_string_equal(field(r, 1, "text"), "1");
    assert_string_equal(field(r, 2, "text"), "");
    cJSON_Delete(r);
    assert_null(read_table(d, "i.csv", "a\n1\n", "xml", NULL));
    tu_assert_error_has("unknown format");
    tu_rmdir(d);
}

static char *render(const char *tmpl, const char *row_json)
{
    cJSON *row = cJSON_Parse(row_json);
    char *out = NULL;
    int rc = dk_template_render(tmpl, row, "test", &out);
    cJSON_Delete(row);
    return rc ? NULL : out;
}

#define RENDERS(tmpl, row, want)                                                                                             \
    do {                                                                                                                     \
        char *got_ = render(tmpl, row);                                                                                      \
        if (!got_) fail_msg("%s: %s", tmpl, dk_error());                                                                     \
        assert_string_equal(got_, want);                                                                                     \
        free(got_);                                                                                                          \
    } while (0)

static void test_templates(void **st)
{
    (void)st;
    const char *row = "{\"q\":\"  Hello, World.  \",\"n\":3,\"x\":2.5,\"b\":true,\"z\":null,\"c\":[\"a\",\"b\"],"
                      "\"ans\":\"work... #### 1,234\",\"k\":\"원인\",\"s\":\"real_estate\",\"h\":\"<a href='x'>&</a>\"}";
    RENDERS("Q: {{q}}!", row, "Q:   Hello, World.  !");
    RENDERS("{{ q | strip }}|{{q|lstrip}}|{{q|rstrip}}", row, "Hello, World.|Hello, World.  |  Hello, World.");
    RENDERS("{{q|strip|rstrip:.}}", row, "Hello, World");
    RENDERS("{{q|strip|lower}} {{q|strip|upper}}", row, "hello, world. HELLO, WORLD.");
    RENDERS("{{n}} {{x}} {{b}} [{{z}}] {{c.1}}", row, "3 2.5 true [] b");
    RENDERS("{{ans|after:####|strip}} / {{ans|before:.}}", row, "1,234 / work");
    RENDERS("{{ans|after:@@}}", row, "work... #### 1,234");
    RENDERS("{{k|map:원인=왜냐하면;결과=그래서}}", row, "왜냐하면");
    RENDERS("{{s|replace:_= }}", row, "real estate");
    RENDERS("{{h|html}}", row, "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
    RENDERS("no fields { single } braces", row, "no fields { single } braces");
    assert_null(render("{{missing}}", row));
    tu_assert_error_has("no field \"missing\"");
    assert_null(render("{{c.5}}", row));
    assert_null(render("{{c}}", row));
    tu_assert_error_has("not text or a number");
    assert_null(render("{{k|map:a=b}}", row));
    tu_assert_error_has("\"원인\" is not among map:a=b");
    assert_null(render("{{q|shout}}", row));
    tu_assert_error_has("unknown filter \"shout\"");
    assert_null(render("{{q|after}}", row));
    tu_assert_error_has("needs an argument");
    assert_null(render("x {{q", row));
    tu_assert_error_has("never closed");
    assert_null(render("{{ }}", row));
    /* syntax only: filters are checked, fields are not looked up */
    char *out = NULL;
    assert_int_equal(dk_template_render("{{anything|strip|map:a=b}}", NULL, "spec", &out), 0);
    free(out);
    assert_int_equal(dk_template_render("{{a|nope}}", NULL, "spec", &out), -1);
    tu_assert_error_has("spec: unknown filter");
}

static void test_metrics(void **st)
{
    (void)st;
    double x[] = {1, 0, 1, 1};
    assert_float_equal(dk_mean(x, 4), 0.75, 1e-12);
    /* sample sd: sqrt((3 * 0.25^2 + 0.75^2) / 3) = 0.5; / sqrt(4) */
    assert_float_equal(dk_mean_se(x, 4), 0.25, 1e-12);
    assert_float_equal(dk_mean_se(x, 1), 0, 0);
    double y[] = {-3, -1, -1, -2};
    assert_int_equal(dk_argmax(y, 4), 1); /* the first of equal maxima */
    assert_float_equal(dk_token_f1("The cat sat!", "cat sat on the mat"), 2 * 1.0 * 0.5 / 1.5, 1e-12);
    assert_float_equal(dk_token_f1("a an the", ""), 1.0, 0);
    assert_float_equal(dk_token_f1("x", ""), 0.0, 0);
    assert_float_equal(dk_token_f1("서울 is big", "서울"), 2 * (1.0 / 3) * 1 / (1.0 / 3 + 1), 1e-12);
    assert_float_equal(dk_token_f1("cat cat", "cat dog"), 0.5, 1e-12); /* each gold word counts once */
    double bpb, se;
    double nll[] = {8 * M_LN2, 4 * M_LN2}, by[] = {8, 4};
    dk_bits_per_byte(nll, by, 2, &bpb, &se);
    assert_float_equal(bpb, 1.0, 1e-12);
    assert_float_equal(se, 0.0, 1e-12);
    double nll2[] = {2, 1}, by2[] = {1, 1};
    dk_bits_per_byte(nll2, by2, 2, &bpb, &se);
    assert_float_equal(bpb, 1.5 / M_LN2, 1e-12);
    /* residuals 0.5, -0.5: sqrt(0.5 / (2 * 1)) / mean bytes 1, in bits */
    assert_float_equal(se, 0.5 / M_LN2, 1e-12);
}

/* A data directory and a tasks directory with one spec. */
typedef struct {
    char *root, *data, *tasks;
} fixture;

static void put(const char *dir, const char *name, const char *text)
{
    char *sub = dk_strdupf("%s/%s", dir, name), *slash = strrchr(sub, '/');
    *slash = '\0';
    assert_int_equal(dk_mkdirs(sub), 0);
    free(sub);
    free(tu_write(dir, name, text, strlen(text)));
}

static fixture make_fixture(void)
{
    fixture f;
    f.root = tu_tempdir();
    f.data = dk_path_join(f.root, "data");
    f.tasks = dk_path_join(f.root, "tasks");
    put(f.data, "t/rows.csv", "q,a,b,ans\nhi,xx,y,1\nlong,a,bbbb,0\nsame,cc,dd,1\n");
    put(f.data, "t/labels.lst", "y\nq\ndd\n");
    put(f.data, "s/Real-Estate-test.jsonl", "{\"q\":\"r1\",\"g\":\"Y\"}\n{\"q\":\"r2\",\"g\":\"N\"}\n");
    put(f.data, "s/math-test.jsonl", "{\"q\":\"m1\",\"g\":\"N\"}\n");
    put(f.tasks, "toy.json",
        "{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"fewshot\":{\"path\":\"t/rows.csv\",\"k\":0,\"sampler\":\"first\"},"
        "\"prompt\":\"Q: {{q}}\",\"choices\":[\"{{a}}\",\"{{b}}\"],\"gold\":\"{{ans}}\",\"gold_base\":0}");
    put(f.tasks, "bylabel.json",
        "{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\",\"columns\":{\"lab\":\"t/labels.lst\"}},"
        "\"prompt\":\"{{q}}\",\"choices\":[\"{{a}}\",\"{{b}}\",\"q\"],\"gold\":\"{{lab}}\"}");
    put(f.tasks, "subj.json",
        "{\"kind\":\"mc\",\"rows\":{\"path\":\"s/{subject}-test.jsonl\"},\"header\":\"[{{_subject|replace:-= }}]\\n\","
        "\"prompt\":\"{{q}}?\",\"choices\":[\"N\",\"Y\"],\"gold\":\"{{g}}\"}");
    put(f.tasks, "doc.json", "{\"kind\":\"bpb\",\"rows\":{\"path\":\"t/rows.csv\"},\"text\":\"{{q}} {{a}}\"}");
    put(f.tasks, "group.json", "{\"group\":[\"toy\",\"subj\",\"toy\"]}");
    return f;
}

static void free_fixture(fixture *f)
{
    free(f->data);
    free(f->tasks);
    tu_rmdir(f->root);
}

/* Loads a spec of the fixture and renders its rows, both asserted to work. */
static void load_set(const fixture *f, const char *name, int fewshot, int limit, dk_task *t, dk_eval_set *s)
{
    if (dk_task_load(t, f->tasks, name) || dk_eval_set_build(t, f->data, fewshot, limit, 1, s)) fail_msg("%s: %s", name, dk_error());
}

static void test_items(void **st)
{
    (void)st;
    fixture f = make_fixture();
    dk_task t;
    dk_eval_set s;
    load_set(&f, "toy", 1, 0, &t, &s);
    assert_int_equal(s.n, 3);
    /* one example, the first row that is not the row itself, answered with its gold choice */
    assert_string_equal(s.items[0].context, "Q: long a\n\nQ: hi");
    assert_string_equal(s.items[1].context, "Q: hi y\n\nQ: long");
    assert_int_equal(s.items[0].gold, 1);
    assert_string_equal(s.items[0].choices[1], "y");
    dk_eval_set_free(&s);
    assert_int_equal(dk_eval_set_build(&t, f.data, -1, 2, 1, &s), 0); /* the spec's k = 0; --limit 2 */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.items[1].context, "Q: long");
    dk_eval_set_free(&s);
    dk_task_free(&t);

    /* gold as the text of a choice; a side column joined by line */
    load_set(&f, "bylabel", -1, 0, &t, &s);
    assert_int_equal(s.items[0].gold, 1);
    assert_int_equal(s.items[1].gold, 2);
    dk_eval_set_free(&s);
    dk_task_free(&t);

    /* subjects from the file names, sorted; one picked by <spec>_<subject> */
    load_set(&f, "subj", -1, 0, &t, &s);
    assert_int_equal(s.nsubjects, 2);
    assert_string_equal(s.subjects[0], "Real-Estate");
    assert_int_equal(s.n, 3);
    assert_string_equal(s.items[2].context, "[math]\nm1?");
    assert_int_equal(s.items[0].gold, 1);
    dk_eval_set_free(&s);
    dk_task_free(&t);
    load_set(&f, "subj_real_estate", -1, 0, &t, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.items[0].context, "[Real Estate]\nr1?");
    dk_eval_set_free(&s);
    dk_task_free(&t);
    assert_int_equal(dk_task_load(&t, f.tasks, "subj_history"), 0);
    assert_int_equal(dk_eval_set_build(&t, f.data, -1, 0, 1, &s), -1);
    tu_assert_error_has("no subject \"history\"");
    dk_task_free(&t);
    assert_int_equal(dk_task_load(&t, f.tasks, "toy_x"), -1);
    tu_assert_error_has("no subjects");

    char **names;
    int n;
    assert_int_equal(dk_task_names(f.tasks, "group,doc", &names, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "toy");
    assert_string_equal(names[1], "subj");
    assert_string_equal(names[2], "doc");
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    assert_int_equal(dk_task_names(f.tasks, "nope", &names, &n), -1);
    tu_assert_error_has("no task \"nope\"");
    free_fixture(&f);
}

/* Specs with mistakes are refused with the file and the field. */
static void test_bad_specs(void **st)
{
    (void)st;
    fixture f = make_fixture();
    const struct {
        const char *spec, *error;
    } cases[] = {
        {"[1]", "a task spec is a JSON object"},
        {"{\"kind\":\"mc\"", "invalid JSON"},
        {"{\"rows\":{\"path\":\"t/rows.csv\"}}", "\"kind\" is missing"},
        {"{\"kind\":\"mcq\"}", "\"kind\": \"mcq\" is not"},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"choices\":[\"a\"],\"gold\":\"a\",\"promt\":1}",
         "unknown key \"promt\""},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"gold\":\"a\"}", "\"choices\" is missing"},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"{{x|bad}}\",\"choices\":[\"a\"],\"gold\":\"a\"}",
         "\"prompt\": unknown filter \"bad\""},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\",\"format\":\"xls\"},\"prompt\":\"x\",\"choices\":[\"a\"],\"gold\":\"a\"}",
         "unknown format \"xls\""},
        {"{\"kind\":\"mc\",\"rows\":{},\"prompt\":\"x\",\"choices\":[\"a\"],\"gold\":\"a\"}", "needs a \"path\""},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"choices\":[],\"gold\":\"a\"}",
         "non-empty array"},
        {"{\"kind\":\"gen\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"gold\":\"a\",\"max_tokens\":0}",
         "\"max_tokens\" must be >= 1"},
        {"{\"kind\":\"gen\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"gold\":\"a\",\"metrics\":[\"acc\"]}",
         "\"acc\" is not one of"},
        {"{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"choices\":[\"a\"],\"gold\":\"{{q}}\",\"gold_base\":0.5}",
         "\"gold_base\" must be an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        put(f.tasks, "bad.json", cases[i].spec);
        dk_task t;
        if (dk_task_load(&t, f.tasks, "bad") != -1) fail_msg("spec %zu loaded", i);
        tu_assert_error_has(cases[i].error);
        tu_assert_error_has("bad.json");
    }
    /* rows that do not fit the spec are named with their file and index */
    put(f.tasks, "bad.json", "{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\"},\"prompt\":\"x\",\"choices\":[\"a\",\"b\"],"
                             "\"gold\":\"{{ans}}\",\"gold_base\":1}");
    dk_task t;
    dk_eval_set s;
    assert_int_equal(dk_task_load(&t, f.tasks, "bad"), 0);
    assert_int_equal(dk_eval_set_build(&t, f.data, -1, 0, 1, &s), -1);
    tu_assert_error_has("rows.csv: row index 1: gold \"0\" is not an index from 1 to 2");
    assert_int_equal(dk_eval_set_build(&t, f.data, 3, 0, 1, &s), -1);
    tu_assert_error_has("no \"fewshot\" source");
    assert_int_equal(dk_eval_set_build(&t, "/nonexistent", -1, 0, 1, &s), -1);
    tu_assert_error_has("/nonexistent/t/rows.csv");
    dk_task_free(&t);
    put(f.tasks, "bad.json", "{\"kind\":\"mc\",\"rows\":{\"path\":\"t/rows.csv\",\"columns\":{\"x\":\"s/math-test.jsonl\"}},"
                             "\"prompt\":\"x\",\"choices\":[\"a\"],\"gold\":\"a\"}");
    assert_int_equal(dk_task_load(&t, f.tasks, "bad"), 0);
    assert_int_equal(dk_eval_set_build(&t, f.data, -1, 0, 1, &s), -1);
    tu_assert_error_has("1 lines for the 3 rows");
    dk_task_free(&t);
    free_fixture(&f);
}

static const cJSON *metric(const cJSON *r, const char *name, const char *what)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "metrics"), name);
    assert_non_null(m);
    return cJSON_GetObjectItemCaseSensitive(m, what);
}

static void run_zero_model(bool reuse, int batch)
{
    fixture f = make_fixture();
    dk_model_config c;
    dk_model_config_default(&c);
    c.hidden_size = 16, c.intermediate_size = 32, c.num_hidden_layers = 1, c.num_attention_heads = 2;
    c.num_key_value_heads = 1, c.vocab_size = DK_BYTES_VOCAB, c.max_position_embeddings = 32;
    c.bos_token_id = c.eos_token_id = DK_BYTES_BOS;
    dk_model m;
    assert_int_equal(dk_model_create(&m, &c), 0); /* all weights zero: uniform predictions */
    dk_tokenizer *tok;
    char *json = dk_bytes_tokenizer_json();
    assert_int_equal(dk_tokenizer_load_text(&tok, json, strlen(json), "bytes"), 0);
    free(json);
    dk_task t;
    dk_eval_set s;
    cJSON *r;
    dk_eval_options o = {.batch = batch, .prefix_reuse = reuse, .records = true};
    load_set(&f, "toy", -1, 0, &t, &s);
    assert_int_equal(dk_eval_run(&m, tok, &t, &s, &o, &r), 0);
    /* continuations " xx"/" y", " a"/" bbbb", " cc"/" dd": ln p = -(1 + bytes) ln 257 each.
     * acc picks the fewest bytes (y, a, cc on a tie): right, right, wrong -> 2/3, se 1/3;
     * acc_norm the most per byte (xx, bbbb, cc): all wrong. */
    assert_float_equal(metric(r, "acc", "value")->valuedouble, 2.0 / 3, 1e-12);
    assert_float_equal(metric(r, "acc", "stderr")->valuedouble, 1.0 / 3, 1e-12);
    assert_float_equal(metric(r, "acc_norm", "value")->valuedouble, 0, 0);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "random_baseline")->valuedouble, 0.5, 1e-12);
    const cJSON *rec = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "records"), 1);
    const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rec, "choices"), 1);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(ch, "ll")->valuedouble, -5 * log(257.0), 1e-4);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(ch, "bytes")->valuedouble, 4, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "pred")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "pred_norm")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(rec, "gold")->valueint, 0);
    cJSON_Delete(r);
    dk_eval_set_free(&s);
    dk_task_free(&t);

    /* uniform over 257 tokens of one byte each: log2(257) bits per byte, the random baseline itself */
    load_set(&f, "doc", -1, 0, &t, &s);
    assert_int_equal(dk_eval_run(&m, tok, &t, &s, &o, &r), 0);
    assert_float_equal(metric(r, "bpb", "value")->valuedouble, log2(257.0), 1e-5);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "random_baseline")->valuedouble, log2(257.0), 1e-9);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble, strlen("hi xx") + strlen("long a") + strlen("same cc"), 0);
    cJSON_Delete(r);
    dk_eval_set_free(&s);
    dk_task_free(&t);

    /* a document longer than the context is scored in windows: still every byte once */
    char *text = malloc(1001);
    for (int i = 0; i < 1000; i++) text[i] = (char)('a' + i % 26);
    text[1000] = '\0';
    char *p = tu_write(f.root, "long.txt", text, 1000);
    free(text);
    assert_int_equal(dk_eval_set_text(p, &s), 0);
    memset(&t, 0, sizeof t);
    t.kind = DK_TASK_BPB, t.name = "bpb", t.file = p, t.baseline = -1;
    assert_int_equal(dk_eval_run(&m, tok, &t, &s, &o, &r), 0);
    assert_float_equal(cJSON_GetObjectItemCaseSensitive(r, "bytes")->valuedouble, 1000, 0);
    assert_float_equal(metric(r, "bpb", "value")->valuedouble, log2(257.0), 1e-5);
    cJSON_Delete(r);
    dk_eval_set_free(&s);
    free(p);

    dk_tokenizer_free(tok);
    dk_model_free(&m);
    free_fixture(&f);
}

static void test_zero_model_reuse(void **st) { (void)st, run_zero_model(true, 2); }
static void test_zero_model_full(void **st) { (void)st, run_zero_model(false, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),         cmocka_unit_test(test_json_formats),    cmocka_unit_test(test_templates),
        cmocka_unit_test(test_metrics),     cmocka_unit_test(test_items),           cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_zero_model_reuse), cmocka_unit_test(test_zero_model_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
