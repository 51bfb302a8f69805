/* Checkpoints: a save loads back bit for bit; a damaged or partial one is
 * refused with the file named; unfinished temporary directories are ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dokja/io.h"
#include "dokja/train.h"
#include "testutil.h"

static void small_model(dk_model *m)
{
    dk_model_config c;
    dk_model_config_default(&c);
    c.hidden_size = 16, c.intermediate_size = 24, c.num_hidden_layers = 2, c.num_attention_heads = 2;
    c.num_key_value_heads = 1, c.vocab_size = 40, c.max_position_embeddings = 8, c.tie_word_embeddings = false;
    assert_int_equal(dk_model_create(m, &c), 0);
}

static void test_save_load(void **s)
{
    (void)s;
    char *run = tu_tempdir();
    dk_model m, back;
    dk_adamw o, ob;
    small_model(&m);
    small_model(&back);
    assert_int_equal(dk_model_init(&m, 99), 0);
    assert_int_equal(dk_adamw_create(&o, m.nparams), 0);
    assert_int_equal(dk_adamw_create(&ob, m.nparams), 0);
    for (size_t i = 0; i < m.nparams; i++) o.m[i] = (float)i * 1e-3f, o.v[i] = (float)i * 1e-6f;
    dk_train_state st = {.step = 7, .samples = 56, .loss = 2.5}, sb;
    assert_int_equal(dk_checkpoint_save(run, &m, &o, &st, NULL), 0);

    char *latest;
    assert_int_equal(dk_checkpoint_latest(run, &latest), 0);
    assert_non_null(strstr(latest, "ckpt/step-00000007"));
    assert_int_equal(dk_checkpoint_load(latest, &back, &ob, &sb), 0);
    assert_memory_equal(back.param_block, m.param_block, m.nparams * sizeof(float));
    assert_memory_equal(ob.m, o.m, m.nparams * sizeof(float));
    assert_memory_equal(ob.v, o.v, m.nparams * sizeof(float));
    assert_int_equal(sb.step, 7);
    assert_int_equal(sb.samples, 56);

    /* an interrupted later save leaves only a temporary directory: ignored */
    char *tmp = dk_path_join(run, "ckpt/.tmp-step-00000009");
    assert_int_equal(dk_mkdirs(tmp), 0);
    char *again;
    assert_int_equal(dk_checkpoint_latest(run, &again), 0);
    assert_string_equal(again, latest);

    /* one flipped byte in the weights is caught by the recorded sha256 */
    char *w = dk_path_join(latest, "model.safetensors");
    FILE *fp = fopen(w, "r+b");
    fseek(fp, -5, SEEK_END);
    fputc(0x7f, fp);
    fclose(fp);
    assert_int_equal(dk_checkpoint_load(latest, &back, &ob, &sb), -1);
    tu_assert_error_has("model.safetensors");
    tu_assert_error_has("sha256");

    /* a missing or truncated state.json is named */
    char *state = dk_path_join(latest, "state.json");
    free(tu_write(latest, "state.json", "{\"step\":", 8));
    assert_int_equal(dk_checkpoint_load(latest, &back, &ob, &sb), -1);
    tu_assert_error_has("state.json");
    unlink(state);
    assert_int_equal(dk_checkpoint_load(latest, &back, &ob, &sb), -1);
    tu_assert_error_has("state.json");

    free(state), free(w), free(again), free(tmp), free(latest);
    dk_adamw_free(&o), dk_adamw_free(&ob), dk_model_free(&m), dk_model_free(&back);
    tu_rmdir(run);
}

static void test_config_mismatch(void **s)
{
    (void)s;
    char *run = tu_tempdir();
    dk_model m, other;
    dk_adamw o;
    small_model(&m);
    dk_model_config c = m.cfg;
    c.num_hidden_layers = 1;
    assert_int_equal(dk_model_create(&other, &c), 0);
    assert_int_equal(dk_adamw_create(&o, m.nparams), 0);
    dk_train_state st = {.step = 1};
    assert_int_equal(dk_checkpoint_save(run, &m, &o, &st, NULL), 0);
    char *latest;
    assert_int_equal(dk_checkpoint_latest(run, &latest), 0);
    dk_adamw o2;
    assert_int_equal(dk_adamw_create(&o2, other.nparams), 0);
    assert_int_equal(dk_checkpoint_load(latest, &other, &o2, &st), -1);
    tu_assert_error_has("differs");
    free(latest);
    dk_adamw_free(&o), dk_adamw_free(&o2), dk_model_free(&m), dk_model_free(&other);
    tu_rmdir(run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_save_load), cmocka_unit_test(test_config_mismatch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
