/* Token shards: the header of DESIGN.md, bad files named with the reason,
 * and a loader whose samples depend only on (seed, index). */
#include <stdlib.h>
#include <string.h>

#include "dokja/io.h"
#include "dokja/shards.h"
#include "testutil.h"

static uint32_t *ramp(int64_t n, uint32_t mod)
{
    uint32_t *t = malloc(sizeof *t * (size_t)n);
    for (int64_t i = 0; i < n; i++) t[i] = (uint32_t)(i % mod);
    return t;
}

static void test_header_and_tokens(void **s)
{
    (void)s;
    char *dir = tu_tempdir(), *path = dk_path_join(dir, "train-00000.bin");
    uint32_t *t = ramp(100, 70000);
    t[5] = 69999;
    assert_int_equal(dk_shard_write(path, t, 100, 4, 70000, 0, "ab12"), 0);
    dk_shard sh;
    assert_int_equal(dk_shard_open(&sh, path, 70000), 0);
    assert_int_equal(sh.ntokens, 100);
    assert_int_equal(sh.width, 4);
    assert_int_equal(dk_shard_token(&sh, 5), 69999);
    assert_int_equal(dk_shard_token(&sh, 99), 99);
    assert_memory_equal(sh.map.data, "DOKJTOK\0", 8);
    assert_int_equal(sh.map.size, 1024 + 400);
    assert_string_equal(sh.tokenizer_sha256, "ab12");
    dk_shard_close(&sh);
    /* a 2-byte shard cannot hold 69999 */
    assert_int_equal(dk_shard_write(path, t, 100, 2, 70000, 0, NULL), -1);
    tu_assert_error_has("does not fit");
    uint32_t v, sep;
    assert_int_equal(dk_shard_dir_vocab(dir, &v, &sep), 0);
    assert_int_equal(sep, 0);
    assert_int_equal(v, 70000);
    free(t), free(path);
    tu_rmdir(dir);
}

static void test_bad_shards(void **s)
{
    (void)s;
    char *dir = tu_tempdir(), *path = dk_path_join(dir, "train-00000.bin");
    uint32_t *t = ramp(64, 50);
    assert_int_equal(dk_shard_write(path, t, 64, 2, 50, 0, NULL), 0);
    char *bytes;
    size_t len;
    assert_int_equal(dk_read_file(path, &bytes, &len), 0);
    dk_shard sh;
    /* truncated: fewer bytes than the header says */
    free(tu_write(dir, "train-00000.bin", bytes, len - 3));
    assert_int_equal(dk_shard_open(&sh, path, 0), -1);
    tu_assert_error_has("truncated");
    tu_assert_error_has("train-00000.bin");
    /* shorter than the header */
    free(tu_write(dir, "train-00000.bin", bytes, 100));
    assert_int_equal(dk_shard_open(&sh, path, 0), -1);
    tu_assert_error_has("header");
    /* bad magic, bad version, bad width */
    bytes[0] = 'X';
    free(tu_write(dir, "train-00000.bin", bytes, len));
    assert_int_equal(dk_shard_open(&sh, path, 0), -1);
    tu_assert_error_has("magic");
    bytes[0] = 'D', bytes[8] = 2;
    free(tu_write(dir, "train-00000.bin", bytes, len));
    assert_int_equal(dk_shard_open(&sh, path, 0), -1);
    tu_assert_error_has("version");
    bytes[8] = 1, bytes[12] = 3;
    free(tu_write(dir, "train-00000.bin", bytes, len));
    assert_int_equal(dk_shard_open(&sh, path, 0), -1);
    tu_assert_error_has("width");
    /* a token outside the model's vocabulary, found with its position */
    bytes[12] = 2;
    free(tu_write(dir, "train-00000.bin", bytes, len));
    assert_int_equal(dk_shard_open(&sh, path, 40), -1);
    tu_assert_error_has("token 40 has id 40");
    /* an empty directory has no shards */
    char *empty = tu_tempdir();
    uint32_t v, sep;
    assert_int_equal(dk_shard_dir_vocab(empty, &v, &sep), -1);
    tu_assert_error_has("no train");
    tu_rmdir(empty);
    free(bytes), free(t), free(path);
    tu_rmdir(dir);
}

static void test_loader(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "train-%05d.bin", i);
        char *path = dk_path_join(dir, name);
        uint32_t *t = ramp(41 + 10 * i, 1000);
        for (int j = 0; j < 41 + 10 * i; j++) t[j] += 100 * (uint32_t)i;
        assert_int_equal(dk_shard_write(path, t, 41 + 10 * i, 2, 1000, 0, NULL), 0);
        free(t), free(path);
    }
    dk_loader a, b;
    int T = 8;
    assert_int_equal(dk_loader_open(&a, dir, "train", T, 1000, 5, true), 0);
    assert_int_equal(dk_loader_open(&b, dir, "train", T, 1000, 5, true), 0);
    assert_int_equal(a.nwindows, 5 + 6); /* (41-1)/8 + (51-1)/8 */
    int in[8], tg[8], in2[8], tg2[8], seen[11] = {0};
    for (int64_t i = 0; i < 11; i++) {
        dk_loader_sample(&a, i, in, tg);
        for (int t = 0; t < T - 1; t++) assert_int_equal(tg[t], in[t + 1]); /* targets are the next tokens */
        int w = in[0] >= 100 ? 5 + (in[0] - 100) / T : in[0] / T;
        seen[w]++;
    }
    for (int w = 0; w < 11; w++) assert_int_equal(seen[w], 1); /* an epoch visits each window once */
    /* sample i is a function of (seed, i) alone, in any order of asking */
    dk_loader_sample(&a, 17, in, tg);
    dk_loader_sample(&b, 3, in2, tg2);
    dk_loader_sample(&b, 17, in2, tg2);
    assert_memory_equal(in, in2, sizeof in);
    dk_loader_close(&a);
    dk_loader_close(&b);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_header_and_tokens), cmocka_unit_test(test_bad_shards),
                                       cmocka_unit_test(test_loader)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
