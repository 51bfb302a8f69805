/* Packing against hand-built cases: where each sequence lands, its targets
 * (only trained tokens), positions, segments, padding, and the row order. */
#include <stdlib.h>
#include <string.h>

#include "dokja/pack.h"
#include "testutil.h"

static dk_seq seq(int n, const int *ids, const char *train)
{
    dk_seq s = {.ids = malloc(sizeof(int) * n), .train = malloc(sizeof(bool) * n), .n = n};
    memcpy(s.ids, ids, sizeof(int) * n);
    for (int k = 0; k < n; k++) s.train[k] = train[k] == '1';
    return s;
}

static void free_seqs(dk_seq *s, int n)
{
    for (int i = 0; i < n; i++) free(s[i].ids), free(s[i].train);
}

static void test_layout(void **st)
{
    (void)st;
    /* a prompt (untrained) then an answer (trained) */
    dk_seq s[4] = {seq(4, (int[]){1, 2, 3, 4}, "0011"), seq(3, (int[]){5, 6, 7}, "001"),
                   seq(5, (int[]){8, 9, 10, 11, 12}, "00000"), /* nothing trained: skipped */
                   seq(6, (int[]){13, 14, 15, 16, 17, 18}, "000111")};
    dk_rows r;
    dk_pack_stats ps;
    assert_int_equal(dk_pack_rows(&r, s, 4, 8, 99, 1, &ps), 0);
    assert_int_equal(ps.sequences, 3);
    assert_int_equal(ps.skipped, 1);
    assert_int_equal(ps.rows, 2); /* [s0 s1 pad] and [s3 pad pad] */
    assert_int_equal(ps.trained_tokens, 2 + 1 + 3);
    assert_int_equal(ps.pad_tokens, 1 + 2);
    assert_true(r.packed);
    int tok[8], tgt[8], pos[8], seg[8];
    /* find the row holding s0 (rows are shuffled per epoch) */
    int found = 0;
    for (int64_t i = 0; i < 2; i++) {
        r.get(&r, i, tok, tgt, pos, seg);
        if (tok[0] == 1) {
            found++;
            int want_tok[8] = {1, 2, 3, 4, 5, 6, 7, 99}, want_tgt[8] = {-1, 3, 4, -1, -1, 7, -1, -1};
            int want_pos[8] = {0, 1, 2, 3, 0, 1, 2, 0}, want_seg[8] = {0, 0, 0, 0, 4, 4, 4, 7};
            assert_memory_equal(tok, want_tok, sizeof tok);
            assert_memory_equal(tgt, want_tgt, sizeof tgt);
            assert_memory_equal(pos, want_pos, sizeof pos);
            assert_memory_equal(seg, want_seg, sizeof seg);
        } else {
            found += 10;
            int want_tok[8] = {13, 14, 15, 16, 17, 18, 99, 99}, want_tgt[8] = {-1, -1, 16, 17, 18, -1, -1, -1};
            int want_seg[8] = {0, 0, 0, 0, 0, 0, 6, 7};
            assert_memory_equal(tok, want_tok, sizeof tok);
            assert_memory_equal(tgt, want_tgt, sizeof tgt);
            assert_memory_equal(seg, want_seg, sizeof seg);
        }
    }
    assert_int_equal(found, 11);
    /* each epoch visits every row once, in an order fixed by the seed */
    int first_of_epoch[3];
    for (int e = 0; e < 3; e++) {
        int seen = 0;
        for (int k = 0; k < 2; k++) {
            r.get(&r, e * 2 + k, tok, tgt, pos, seg);
            seen |= tok[0] == 1 ? 1 : 2;
            if (k == 0) first_of_epoch[e] = tok[0];
        }
        assert_int_equal(seen, 3);
    }
    dk_rows again;
    assert_int_equal(dk_pack_rows(&again, s, 4, 8, 99, 1, &ps), 0);
    for (int e = 0; e < 3; e++) {
        again.get(&again, e * 2, tok, tgt, pos, seg);
        assert_int_equal(tok[0], first_of_epoch[e]);
    }
    dk_pack_rows_free(&again);
    dk_pack_rows_free(&r);
    free_seqs(s, 4);
}

static void test_truncate_and_empty(void **st)
{
    (void)st;
    dk_seq s[1] = {seq(6, (int[]){1, 2, 3, 4, 5, 6}, "011111")};
    dk_rows r;
    dk_pack_stats ps;
    assert_int_equal(dk_pack_rows(&r, s, 1, 4, 0, 1, &ps), 0);
    assert_int_equal(ps.truncated, 1);
    int tok[4], tgt[4];
    r.get(&r, 0, tok, tgt, NULL, NULL);
    int want_tgt[4] = {2, 3, 4, -1};
    assert_memory_equal(tgt, want_tgt, sizeof tgt);
    dk_pack_rows_free(&r);
    s[0].train[1] = s[0].train[2] = s[0].train[3] = false;
    assert_int_equal(dk_pack_rows(&r, s, 1, 4, 0, 1, &ps), -1); /* only a cut-off token was trained */
    tu_assert_error_has("no sequence");
    free_seqs(s, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_layout), cmocka_unit_test(test_truncate_and_empty)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
