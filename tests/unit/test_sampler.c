/* Sampling: greedy is argmax, a seed fixes the draw, top-k, top-p and min-p
 * keep only their candidates, the repetition penalty acts as HF's, and
 * frequencies follow the softmax. */
#include <math.h>
#include <string.h>

#include "dokja/infer.h"
#include "testutil.h"

static const float base[6] = {1.0f, 3.0f, 0.5f, 2.9f, -1.0f, 2.0f};

static int draw(dk_sampler *s)
{
    float l[6];
    memcpy(l, base, sizeof l);
    return dk_sampler_sample(s, l);
}

static void test_greedy(void **st)
{
    (void)st;
    dk_sampler s;
    dk_sampler_config c = {.temperature = 0, .top_p = 1};
    assert_int_equal(dk_sampler_init(&s, &c, 6), 0);
    assert_int_equal(draw(&s), 1);
    dk_sampler_free(&s);
}

static void test_top_k_and_p(void **st)
{
    (void)st;
    dk_sampler s;
    dk_sampler_config c = {.temperature = 1, .top_k = 2, .top_p = 1, .seed = 3};
    assert_int_equal(dk_sampler_init(&s, &c, 6), 0);
    for (int i = 0; i < 200; i++) {
        int t = draw(&s);
        assert_true(t == 1 || t == 3);
    }
    dk_sampler_free(&s);
    /* p = 0.3 of the mass: token 1 alone holds about 0.39 */
    c = (dk_sampler_config){.temperature = 1, .top_p = 0.3, .seed = 3};
    assert_int_equal(dk_sampler_init(&s, &c, 6), 0);
    for (int i = 0; i < 50; i++) assert_int_equal(draw(&s), 1);
    dk_sampler_free(&s);
}

static void test_seeded_frequencies(void **st)
{
    (void)st;
    dk_sampler a, b;
    dk_sampler_config c = {.temperature = 1, .top_p = 1, .seed = 11};
    assert_int_equal(dk_sampler_init(&a, &c, 6), 0);
    assert_int_equal(dk_sampler_init(&b, &c, 6), 0);
    int counts[6] = {0}, n = 20000;
    for (int i = 0; i < n; i++) {
        int t = draw(&a);
        assert_int_equal(t, draw(&b)); /* same seed, same stream */
        counts[t]++;
    }
    double z = 0;
    for (int i = 0; i < 6; i++) z += exp(base[i]);
    for (int i = 0; i < 6; i++) {
        double p = exp(base[i]) / z, sd = sqrt(p * (1 - p) / n);
        if (fabs((double)counts[i] / n - p) > 5 * sd + 1e-4) fail_msg("token %d drawn %d/%d times, p = %.4f", i, counts[i], n, p);
    }
    dk_sampler_free(&a);
    dk_sampler_free(&b);
}

static void test_min_p_and_repetition(void **st)
{
    (void)st;
    dk_sampler s;
    /* relative to the likeliest, the probabilities are exp(l - 3): 0.14 1 0.08 0.90 0.02 0.37 */
    dk_sampler_config c = {.temperature = 1, .top_p = 1, .min_p = 0.3, .seed = 1};
    assert_int_equal(dk_sampler_init(&s, &c, 6), 0);
    int seen[6] = {0};
    for (int i = 0; i < 3000; i++) seen[draw(&s)]++;
    assert_true(seen[1] > 0 && seen[3] > 0 && seen[5] > 0);
    assert_int_equal(seen[0] + seen[2] + seen[4], 0);
    dk_sampler_free(&s);

    /* HF: a seen token's positive logit is divided by the penalty, a negative one multiplied */
    c = (dk_sampler_config){.temperature = 0, .top_p = 1, .repetition_penalty = 2};
    assert_int_equal(dk_sampler_init(&s, &c, 6), 0);
    assert_int_equal(draw(&s), 1);
    dk_sampler_observe(&s, 1);
    assert_int_equal(draw(&s), 3); /* 3 / 2 = 1.5 < 2.9 */
    float l[6] = {-1.0f, -0.5f, -3.0f, -4.0f, -2.0f, -0.6f};
    dk_sampler_observe(&s, 5);
    assert_int_equal(dk_sampler_sample(&s, l), 0); /* -0.5 and -0.6 were seen: -1 and -1.2; -1 is first */
    dk_sampler_free(&s);

    dk_sampler_config bad = {.temperature = 1, .top_p = 1, .min_p = 1.5};
    assert_int_equal(dk_sampler_config_check(&bad), -1);
    tu_assert_error_has("min_p");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_greedy), cmocka_unit_test(test_min_p_and_repetition), cmocka_unit_test(test_top_k_and_p),
                                       cmocka_unit_test(test_seeded_frequencies)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
