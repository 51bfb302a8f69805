/* The whole model against the PyTorch reference (tests/ref/make_fixtures.py):
 * logits, loss, every parameter's gradient, and the weights after three
 * AdamW steps with clipping and warmup, for a GQA untied and a tied config. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/safetensors.h"
#include "dokja/train.h"
#include "testutil.h"

typedef struct {
    dk_model m;
    dk_safetensors st;
    int B, T;
    cJSON *json;
} fixture;

static void load_fixture(fixture *f, const char *name)
{
    char *jpath = dk_strdupf("%s/%s.json", DK_FIXTURES, name), *spath = dk_strdupf("%s/%s.safetensors", DK_FIXTURES, name);
    if (dk_json_read_file(jpath, &f->json)) fail_msg("%s (run tests/ref/make_fixtures.py)", dk_error());
    dk_model_config c;
    dk_model_config_default(&c);
    assert_int_equal(dk_fields_from_json(dk_model_config_fields, &c, cJSON_GetObjectItem(f->json, "config"), jpath), 0);
    assert_int_equal(dk_model_config_validate(&c, jpath), 0);
    f->B = cJSON_GetObjectItem(f->json, "B")->valueint;
    f->T = cJSON_GetObjectItem(f->json, "T")->valueint;
    assert_int_equal(dk_model_create(&f->m, &c), 0);
    if (dk_safetensors_open(&f->st, spath)) fail_msg("%s", dk_error());
    free(jpath), free(spath);
}

static void free_fixture(fixture *f)
{
    dk_safetensors_close(&f->st);
    dk_model_free(&f->m);
    cJSON_Delete(f->json);
}

/* Reads "<prefix><hf name>" of every parameter into a block of the model's layout. */
static void read_params(fixture *f, const char *prefix, float *block)
{
    for (int i = 0; i < f->m.ntensors; i++) {
        const dk_param_tensor *t = &f->m.tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        if (dk_safetensors_read_f32(&f->st, name, block + t->offset, t->ndim, t->shape)) fail_msg("%s", dk_error());
    }
}

static void read_ints(fixture *f, const char *name, int *out, size_t n)
{
    const dk_tensor_view *v = dk_safetensors_find(&f->st, name);
    assert_non_null(v);
    assert_int_equal(v->dtype, DK_I32);
    assert_int_equal(v->nbytes, n * sizeof(int));
    memcpy(out, v->data, n * sizeof(int));
}

static float *read_floats(fixture *f, const char *name, int ndim, const int64_t *shape)
{
    float *x = malloc(sizeof(float) * (size_t)dk_shape_numel(ndim, shape));
    if (dk_safetensors_read_f32(&f->st, name, x, ndim, shape)) fail_msg("%s", dk_error());
    return x;
}

/* Compares each parameter tensor of `got` with "<prefix><name>". */
static void compare_params(fixture *f, const char *prefix, const float *got, double tol)
{
    float *want = malloc(sizeof(float) * f->m.nparams);
    read_params(f, prefix, want);
    for (int i = 0; i < f->m.ntensors; i++) {
        const dk_param_tensor *t = &f->m.tensors[i];
        char what[160];
        snprintf(what, sizeof what, "%s%s", prefix, t->name);
        tu_assert_close(what, got + t->offset, want + t->offset, t->numel, tol);
    }
    free(want);
}

/* Weights after AdamW. Where the reference gradient is essentially zero
 * (below 1e-5 of its tensor's largest), Adam divides float rounding by
 * sqrt(v) of the same size and takes a step of up to lr in a direction that
 * rounding decides; those elements may differ by the steps' total lr. The
 * rest must agree to `tol` of the tensor's scale. */
static void compare_adamw(fixture *f, const float *got, double lr_total, double tol)
{
    float *want = malloc(sizeof(float) * f->m.nparams), *grad = malloc(sizeof(float) * f->m.nparams);
    read_params(f, "adamw.", want);
    read_params(f, "grad.", grad);
    for (int i = 0; i < f->m.ntensors; i++) {
        const dk_param_tensor *t = &f->m.tensors[i];
        const float *a = got + t->offset, *b = want + t->offset, *g = grad + t->offset;
        double gmax = 0, scale = 0, err = 0;
        for (size_t j = 0; j < t->numel; j++) {
            gmax = fabs(g[j]) > gmax ? fabs(g[j]) : gmax;
            scale = fabs(b[j]) > scale ? fabs(b[j]) : scale;
        }
        for (size_t j = 0; j < t->numel; j++) {
            double d = fabs((double)a[j] - b[j]);
            if (fabs(g[j]) < 1e-5 * gmax) {
                if (!(d <= lr_total)) fail_msg("adamw.%s[%zu]: moved %.3g from the reference, more than lr allows", t->name, j, d);
            } else if (d / scale > err || d != d) {
                err = d / scale;
            }
        }
        if (!(err <= tol)) fail_msg("adamw.%s: relative error %.3g exceeds %.1g", t->name, err, tol);
    }
    free(want);
    free(grad);
}

/* The fixture's batch, for every micro-batch. */
static void fixture_batch(dk_model *m, void *user)
{
    fixture *f = user;
    size_t n = (size_t)f->B * f->T;
    read_ints(f, "tokens", m->acts.tokens, n);
    read_ints(f, "targets", m->acts.targets, n);
}

static void check_fixture(const char *name)
{
    fixture f;
    load_fixture(&f, name);
    dk_model *m = &f.m;
    int B = f.B, T = f.T, V = m->cfg.vocab_size;
    read_params(&f, "init.", m->param_block);
    assert_int_equal(dk_model_alloc_acts(m, B, T, T, true), 0);
    fixture_batch(m, &f);

    float loss = dk_model_forward(m, B, T);
    float *logits = read_floats(&f, "logits", 3, (int64_t[]){B, T, V});
    float *ref_loss = read_floats(&f, "loss", 1, (int64_t[]){1});
    tu_assert_close("logits", m->acts.logits, logits, (size_t)B * T * V, 1e-4);
    tu_assert_close("loss", &loss, ref_loss, 1, 1e-4);

    dk_model_zero_grad(m);
    float again = dk_model_forward_backward(m, B, T, 1.0f);
    assert_memory_equal(&again, &loss, sizeof loss);
    compare_params(&f, "grad.", m->grad_block, 1e-4);

    /* Three steps: lr warms up 1e-3, 2e-3, 3e-3 as the fixture's "lrs" list. */
    const cJSON *aw = cJSON_GetObjectItem(f.json, "adamw");
    dk_train_config tc;
    dk_train_config_default(&tc);
    free(tc.schedule);
    tc.schedule = strdup("constant");
    tc.batch_size = B, tc.seq_len = T, tc.steps = 3, tc.warmup_steps = 3;
    tc.lr = cJSON_GetArrayItem(cJSON_GetObjectItem(aw, "lrs"), 2)->valuedouble;
    tc.weight_decay = cJSON_GetObjectItem(aw, "weight_decay")->valuedouble;
    tc.beta1 = cJSON_GetObjectItem(aw, "beta1")->valuedouble;
    tc.beta2 = cJSON_GetObjectItem(aw, "beta2")->valuedouble;
    tc.adam_eps = cJSON_GetObjectItem(aw, "eps")->valuedouble;
    tc.grad_clip = cJSON_GetObjectItem(aw, "grad_clip")->valuedouble;
    for (int k = 0; k < 3; k++)
        assert_float_equal(dk_lr_at(&tc, k), cJSON_GetArrayItem(cJSON_GetObjectItem(aw, "lrs"), k)->valuedouble, 1e-12);
    dk_adamw o;
    assert_int_equal(dk_adamw_create(&o, m->nparams), 0);
    float *norms = read_floats(&f, "grad_norm", 1, (int64_t[]){3});
    for (int k = 0; k < 3; k++) {
        double l, norm;
        assert_int_equal(dk_train_step(m, &o, &tc, k, fixture_batch, &f, &l, &norm), 0);
        float fn = (float)norm;
        tu_assert_close("grad_norm", &fn, &norms[k], 1, 1e-4);
    }
    compare_adamw(&f, m->param_block, 2 * (1e-3 + 2e-3 + 3e-3), 1e-4);

    dk_adamw_free(&o);
    dk_train_config_free(&tc);
    free(norms), free(logits), free(ref_loss);
    free_fixture(&f);
}

static void test_gqa_untied(void **s) { (void)s, check_fixture("gqa_untied"); }
static void test_tied(void **s) { (void)s, check_fixture("tied"); }

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gqa_untied), cmocka_unit_test(test_tied)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
