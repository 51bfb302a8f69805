/* Configuration: HF config.json keys in and out, validation messages that
 * name the file and the key, flags that parse or refuse. */
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/model.h"
#include "dokja/train.h"
#include "testutil.h"

static void expect_config_error(const char *dir, const char *json, const char *needle)
{
    char *path = tu_write(dir, "config.json", json, strlen(json));
    dk_model_config c;
    if (dk_model_config_load(&c, path) == 0) fail_msg("accepted %s", json);
    tu_assert_error_has("config.json");
    tu_assert_error_has(needle);
    free(path);
}

static void test_model_config(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    dk_model_config c, back;
    dk_model_config_default(&c);
    c.num_key_value_heads = 2, c.tie_word_embeddings = false, c.rope_theta = 500000;
    cJSON *j = dk_model_config_to_json(&c);
    assert_string_equal(cJSON_GetObjectItem(j, "model_type")->valuestring, "llama");
    assert_int_equal(cJSON_GetObjectItem(j, "head_dim")->valueint, c.hidden_size / c.num_attention_heads);
    char *path = dk_path_join(dir, "config.json");
    assert_int_equal(dk_json_write_file(path, j), 0);
    cJSON_Delete(j);
    assert_int_equal(dk_model_config_load(&back, path), 0);
    assert_true(dk_model_config_equal(&c, &back));
    free(path);

    /* an HF config with an eos list and keys we do not use loads */
    const char *hf = "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":96,\"num_hidden_layers\":1,"
                     "\"num_attention_heads\":4,\"num_key_value_heads\":1,\"vocab_size\":100,\"eos_token_id\":[2,3],"
                     "\"rope_scaling\":null,\"torch_dtype\":\"bfloat16\"}";
    path = tu_write(dir, "config.json", hf, strlen(hf));
    assert_int_equal(dk_model_config_load(&back, path), 0);
    assert_int_equal(back.eos_token_id, 2);
    assert_int_equal(back.num_key_value_heads, 1);
    free(path);

    expect_config_error(dir, "{\"model_type\":\"gpt2\"}", "model_type");
    expect_config_error(dir, "{\"hidden_size\":\"big\"}", "\"hidden_size\": expected a number");
    expect_config_error(dir, "{\"hidden_size\":10.5}", "expected an integer");
    expect_config_error(dir, "{\"hidden_size\":100,\"num_attention_heads\":3}", "divisible");
    expect_config_error(dir, "{\"num_key_value_heads\":3}", "multiple");
    expect_config_error(dir, "{\"num_hidden_layers\":0}", "num_hidden_layers");
    expect_config_error(dir, "{\"tie_word_embeddings\":1}", "true or false");
    expect_config_error(dir, "{\"vocab_size\":10,\"eos_token_id\":10}", "below vocab_size");
    expect_config_error(dir, "{\"hidden_size\":", "line 1: invalid JSON");
    expect_config_error(dir, "", "invalid JSON");
    tu_rmdir(dir);
}

static void test_train_config(void **s)
{
    (void)s;
    dk_model_config m;
    dk_model_config_default(&m);
    dk_train_config c;
    dk_train_config_default(&c);
    assert_int_equal(dk_train_config_validate(&c, &m, "t"), 0);
    c.seq_len = m.max_position_embeddings + 1;
    assert_int_equal(dk_train_config_validate(&c, &m, "t"), -1);
    tu_assert_error_has("max_position_embeddings");
    c.seq_len = 16;
    const dk_field *f = dk_field_find(dk_train_config_fields, "schedule");
    assert_int_equal(dk_field_parse(f, &c, "linear"), 0);
    assert_int_equal(dk_train_config_validate(&c, &m, "t"), -1);
    tu_assert_error_has("schedule");
    assert_int_equal(dk_field_parse(f, &c, "wsd"), 0);
    assert_int_equal(dk_train_config_validate(&c, &m, "t"), 0);
    f = dk_field_find(dk_train_config_fields, "steps");
    assert_int_equal(dk_field_parse(f, &c, "12x"), -1);
    tu_assert_error_has("--steps");
    assert_int_equal(dk_field_parse(f, &c, "1e3"), 0);
    assert_int_equal(c.steps, 1000);
    assert_int_equal(dk_field_parse(dk_field_find(dk_train_config_fields, "lr"), &c, "nan"), -1);
    dk_train_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_model_config), cmocka_unit_test(test_train_config)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
