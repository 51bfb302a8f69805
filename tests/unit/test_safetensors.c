/* safetensors: round trips, dtype conversion, and every malformed file a
 * reader can meet gives an error naming the file, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/safetensors.h"
#include "testutil.h"

static void test_round_trip(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    char *path = dk_path_join(dir, "t.safetensors");
    float a[6] = {1, -2, 3.5f, 0, 1e-8f, 7};
    uint16_t bf[2] = {0x3f80, 0xc000}; /* 1.0, -2.0 */
    dk_tensor_out out[2] = {{.name = "a", .dtype = DK_F32, .ndim = 2, .shape = {2, 3}, .data = a},
                            {.name = "b", .dtype = DK_BF16, .ndim = 1, .shape = {2}, .data = bf}};
    assert_int_equal(dk_safetensors_write(path, out, 2), 0);
    dk_safetensors st;
    assert_int_equal(dk_safetensors_open(&st, path), 0);
    assert_int_equal(st.count, 2);
    float got[6], gb[2];
    assert_int_equal(dk_safetensors_read_f32(&st, "a", got, 2, (int64_t[]){2, 3}), 0);
    assert_memory_equal(got, a, sizeof a);
    assert_int_equal(dk_safetensors_read_f32(&st, "b", gb, 1, (int64_t[]){2}), 0);
    assert_float_equal(gb[0], 1.0f, 0);
    assert_float_equal(gb[1], -2.0f, 0);
    assert_int_equal(dk_safetensors_read_f32(&st, "a", got, 2, (int64_t[]){3, 2}), -1);
    tu_assert_error_has("shape [2,3], expected [3,2]");
    assert_int_equal(dk_safetensors_read_f32(&st, "missing", got, 1, (int64_t[]){1}), -1);
    tu_assert_error_has("missing tensor \"missing\"");
    dk_safetensors_close(&st);
    /* no temporary file is left behind */
    char *tmp = dk_strdupf("%s.tmp", path);
    assert_false(dk_path_exists(tmp));
    free(tmp), free(path);
    tu_rmdir(dir);
}

/* A file of an 8-byte length, the header text and `extra` data bytes. */
static char *make(const char *dir, const char *header, uint64_t hlen_override, size_t extra)
{
    size_t hlen = strlen(header), n = 8 + hlen + extra;
    unsigned char *buf = calloc(n, 1);
    uint64_t h = hlen_override ? hlen_override : hlen;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(h >> (8 * i));
    memcpy(buf + 8, header, hlen);
    char *path = tu_write(dir, "bad.safetensors", buf, n);
    free(buf);
    return path;
}

static void expect_bad(const char *dir, const char *header, uint64_t hlen, size_t extra, const char *why)
{
    char *path = make(dir, header, hlen, extra);
    dk_safetensors st;
    if (dk_safetensors_open(&st, path) == 0) fail_msg("accepted a bad file: %s", header);
    tu_assert_error_has("bad.safetensors");
    tu_assert_error_has(why);
    free(path);
}

static void test_malformed(void **s)
{
    (void)s;
    char *dir = tu_tempdir();
    char *empty = tu_write(dir, "bad.safetensors", "", 0);
    dk_safetensors st;
    assert_int_equal(dk_safetensors_open(&st, empty), -1);
    tu_assert_error_has("truncated");
    free(empty);
    expect_bad(dir, "{}", 1u << 30, 0, "truncated");
    expect_bad(dir, "{\"a\":", 0, 0, "not a JSON object");
    expect_bad(dir, "[1,2]", 0, 0, "not a JSON object");
    expect_bad(dir, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "dtype");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 4, "outside the file");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8, "bytes of data");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, 4, "invalid shape");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e15,1e15],\"data_offsets\":[0,4]}}", 0, 4, "shape");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 0, 4, "outside the file");
    expect_bad(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"x\"}}", 0, 4, "data_offsets");
    expect_bad(dir,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               0, 12, "overlap");
    expect_bad(dir, "{\"a\":7}", 0, 0, "expected an object");
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_malformed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
