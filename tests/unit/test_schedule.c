/* Learning-rate schedules: warmup, cosine and warmup-stable-decay. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/train.h"
#include "testutil.h"

static void test_cosine(void **s)
{
    (void)s;
    dk_train_config c;
    dk_train_config_default(&c);
    c.steps = 110, c.warmup_steps = 10, c.lr = 1.0, c.min_lr = 0.1;
    assert_float_equal(dk_lr_at(&c, 0), 0.1, 1e-12);
    assert_float_equal(dk_lr_at(&c, 9), 1.0, 1e-12);
    assert_float_equal(dk_lr_at(&c, 10), 1.0, 1e-12);
    assert_float_equal(dk_lr_at(&c, 109), 0.1, 1e-12);
    for (int64_t t = 10; t < 109; t++) assert_true(dk_lr_at(&c, t + 1) <= dk_lr_at(&c, t));
    dk_train_config_free(&c);
}

static void test_wsd(void **s)
{
    (void)s;
    dk_train_config c;
    dk_train_config_default(&c);
    free(c.schedule);
    c.schedule = strdup("wsd");
    c.steps = 100, c.warmup_steps = 5, c.lr = 2.0, c.min_lr = 0.0, c.decay_frac = 0.2;
    assert_float_equal(dk_lr_at(&c, 4), 2.0, 1e-12);
    assert_float_equal(dk_lr_at(&c, 79), 2.0, 1e-12); /* stable until the last 20 steps */
    assert_float_equal(dk_lr_at(&c, 80), 1.9, 1e-12);
    assert_float_equal(dk_lr_at(&c, 99), 0.0, 1e-12);
    dk_train_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cosine), cmocka_unit_test(test_wsd)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
