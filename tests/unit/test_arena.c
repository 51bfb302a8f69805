/* Bradley-Terry against closed forms and the optimality condition, bootstrap
 * intervals, and the arena database's rules: one vote per comparison, a
 * review stored whole or not at all, everything still there after reopening. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/arena.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "testutil.h"

#define ELO (400.0 / M_LN10)

static void test_two_models(void **st)
{
    (void)st;
    /* 30 wins to 10: the maximum-likelihood gap is ln 3 (the prior moves it by under 0.1%) */
    double w[4] = {0, 30, 10, 0}, th[2];
    assert_int_equal(dk_bt_fit(2, w, th), 0);
    assert_float_equal(th[0] - th[1], log(3.0), 1e-3);
    assert_true(fabs(th[0] + th[1]) < 1e-12); /* (cmocka's float comparison is relative) */
    /* equal records: equal strengths */
    double e[9] = {0, 5, 5, 5, 0, 5, 5, 5, 0}, t3[3];
    assert_int_equal(dk_bt_fit(3, e, t3), 0);
    for (int i = 0; i < 3; i++) assert_true(fabs(t3[i]) < 1e-9);
}

/* At the optimum the gradient of the penalised log-likelihood is zero:
 * sum_j (w_ij - n_ij p_ij) = prior * theta_i, checked here from scratch. */
static void test_optimality(void **st)
{
    (void)st;
    enum { M = 4 };
    double w[M * M] = {0, 12, 7, 3, 4, 0, 9, 2, 5, 6, 0, 1, 0, 3, 8, 0}, th[M];
    w[3 * M + 0] = 0; /* model 3 never beat model 0 */
    assert_int_equal(dk_bt_fit(M, w, th), 0);
    for (int i = 0; i < M; i++) {
        double g = -DK_BT_PRIOR * th[i];
        for (int j = 0; j < M; j++)
            if (j != i) g += w[i * M + j] - (w[i * M + j] + w[j * M + i]) / (1 + exp(th[j] - th[i]));
        assert_true(fabs(g) < 1e-8);
    }
    /* a model that never wins stays finite, below the rest */
    double z[9] = {0, 4, 3, 2, 0, 2, 0, 0, 0}, tz[3];
    assert_int_equal(dk_bt_fit(3, z, tz), 0);
    assert_true(isfinite(tz[2]) && tz[2] < tz[1] && tz[1] < tz[0]);
}

static void test_ratings(void **st)
{
    (void)st;
    /* 3 models: 0 beats 1 two times in three, 1 beats 2 likewise, plus ties */
    dk_battle b[400];
    int n = 0;
    for (int k = 0; k < 60; k++) {
        b[n++] = (dk_battle){0, 1, k % 3 ? 1 : 0};
        b[n++] = (dk_battle){1, 2, k % 3 ? 1 : 0};
        b[n++] = (dk_battle){2, 0, k % 5 ? 0 : 0.5};
    }
    double r[3], lo[3], hi[3], r2[3], lo2[3], hi2[3];
    assert_int_equal(dk_bt_ratings(3, b, n, 200, 7, r, lo, hi), 0);
    assert_float_equal((r[0] + r[1] + r[2]) / 3, 1000, 1e-9);
    assert_true(r[0] > r[1] && r[1] > r[2]);
    for (int i = 0; i < 3; i++) assert_true(lo[i] < r[i] && r[i] < hi[i]);
    /* reproducible for a seed; a tenth of the data gives wider intervals */
    assert_int_equal(dk_bt_ratings(3, b, n, 200, 7, r2, lo2, hi2), 0);
    assert_memory_equal(lo, lo2, sizeof lo);
    assert_int_equal(dk_bt_ratings(3, b, n / 10, 200, 7, r2, lo2, hi2), 0);
    for (int i = 0; i < 3; i++) assert_true(hi2[i] - lo2[i] > hi[i] - lo[i]);
    /* the ratings scale: gaps are 400 log10 of the odds */
    dk_battle two[400];
    for (int k = 0; k < 400; k++) two[k] = k % 4 ? (dk_battle){0, 1, 1} : (dk_battle){1, 0, 1};
    assert_int_equal(dk_bt_ratings(2, two, 400, 0, 0, r, NULL, NULL), 0);
    assert_true(fabs(r[0] - r[1] - ELO * log(3.0)) < 0.05);
    dk_battle bad = {1, 1, 1};
    assert_int_equal(dk_bt_ratings(2, &bad, 1, 0, 0, r, NULL, NULL), -1);
    bad = (dk_battle){0, 2, 1};
    assert_int_equal(dk_bt_ratings(2, &bad, 1, 0, 0, r, NULL, NULL), -1);
}

static void test_database(void **st)
{
    (void)st;
    char *dir = tu_tempdir(), *path = dk_path_join(dir, "a.sqlite");
    dk_arena *a;
    assert_int_equal(dk_arena_open(&a, path), 0);
    int64_t m1, m2, m1b, p, p2, x1, x2, x3;
    assert_int_equal(dk_arena_add_model(a, "one", "d1", "aaaa", &m1), 0);
    assert_int_equal(dk_arena_add_model(a, "two", "d2", "bbbb", &m2), 0);
    assert_int_equal(dk_arena_add_model(a, "renamed", "d1", "aaaa", &m1b), 0); /* the same weights */
    assert_true(m1 == m1b && m1 != m2);
    assert_int_equal(dk_arena_add_prompt(a, "안녕?", &p), 0);
    assert_int_equal(dk_arena_add_prompt(a, "안녕?", &p2), 0);
    assert_true(p == p2);
    char *text = NULL;
    assert_int_equal(dk_arena_get_answer(a, m1, p, &x1, &text), 0);
    assert_int_equal(dk_arena_put_answer(a, m1, p, "네, 안녕하세요.", "{}", &x1), 0);
    assert_int_equal(dk_arena_put_answer(a, m2, p, "hi", "{}", &x2), 0);
    assert_int_equal(dk_arena_get_answer(a, m1, p, &x3, &text), 1);
    assert_string_equal(text, "네, 안녕하세요.");
    assert_true(x3 == x1);
    free(text);

    char t[33], r[33];
    assert_int_equal(dk_arena_new_battle(a, "kim", p, x1, x2, t), 0);
    assert_int_equal(dk_arena_new_battle(a, "kim", p, x2, 0, r), 0);
    assert_int_equal(strlen(t), 32);
    assert_int_equal(dk_arena_vote(a, t, "kim", "maybe"), 1);
    tu_assert_error_has("a, b, tie or both_bad");
    assert_int_equal(dk_arena_vote(a, "0123", "kim", "a"), 1);
    tu_assert_error_has("unknown comparison");
    assert_int_equal(dk_arena_vote(a, r, "kim", "a"), 1); /* a review's token is not a comparison */
    assert_int_equal(dk_arena_vote(a, t, "kim", "b"), 0);
    assert_int_equal(dk_arena_vote(a, t, "lee", "a"), 1);
    tu_assert_error_has("already has a vote");
    char *crit[] = {"accuracy", "safety"};
    int bad[] = {4, 6}, good[] = {4, 2};
    assert_int_equal(dk_arena_review(a, r, "lee", crit, bad, 2, ""), 1);
    tu_assert_error_has("\"safety\" needs a score from 1 to 5");
    assert_int_equal(dk_arena_review(a, t, "lee", crit, good, 2, ""), 1);
    tu_assert_error_has("unknown review");
    assert_int_equal(dk_arena_review(a, r, "lee", crit, good, 2, "짧다"), 0);
    assert_int_equal(dk_arena_review(a, r, "lee", crit, good, 2, "again"), 1);
    char *ma, *mb, *v;
    assert_int_equal(dk_arena_reveal(a, t, &ma, &mb, &v), 1);
    assert_string_equal(ma, "renamed");
    assert_string_equal(mb, "two");
    assert_string_equal(v, "b");
    free(ma), free(mb), free(v);
    dk_arena_close(a);

    /* reopened: still there */
    assert_int_equal(dk_arena_open(&a, path), 0);
    int64_t votes, kim, reviews, lee;
    assert_int_equal(dk_arena_counts(a, "kim", &votes, &kim, &reviews, &lee), 0);
    assert_true(votes == 1 && kim == 1 && reviews == 1 && lee == 0);
    cJSON *s;
    assert_int_equal(dk_arena_summary(a, 50, 1, &s), 0);
    const cJSON *best = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "models"), 0);
    assert_string_equal(cJSON_GetObjectItem(best, "name")->valuestring, "two");
    assert_int_equal(cJSON_GetObjectItem(best, "wins")->valueint, 1);
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "expert"), "models"), 0);
    assert_string_equal(cJSON_GetObjectItem(e, "name")->valuestring, "two");
    assert_float_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "overall"), "mean")->valuedouble, 3.0, 1e-12);
    cJSON_Delete(s);
    dk_arena_close(a);

    /* not a database */
    char *junk = tu_write(dir, "junk.sqlite", "not sqlite at all, just text that is long enough", 48);
    assert_int_equal(dk_arena_open(&a, junk), -1);
    tu_assert_error_has("junk.sqlite");
    free(junk);
    free(path);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_models),
        cmocka_unit_test(test_optimality),
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_database),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
