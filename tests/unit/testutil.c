#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/rng.h"

char *tu_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = dk_strdupf("%s/dokja-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(tmpl);
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

void tu_rmdir(char *dir)
{
    assert_int_equal(dk_remove_tree(dir), 0);
    free(dir);
}

char *tu_write(const char *dir, const char *name, const void *data, size_t len)
{
    char *path = dk_path_join(dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
    return path;
}

double tu_rel_err(const float *a, const float *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        double s = b[i] > 0 ? b[i] : -b[i];
        if (d > diff || d != d) diff = d;
        if (s > scale) scale = s;
    }
    return scale > 0 ? diff / scale : diff;
}

void tu_assert_close(const char *what, const float *a, const float *b, size_t n, double tol)
{
    double e = tu_rel_err(a, b, n);
    if (!(e <= tol)) fail_msg("%s: relative error %.3g exceeds %.1g", what, e, tol);
}

void tu_assert_error_has(const char *needle)
{
    if (!strstr(dk_error(), needle)) fail_msg("error \"%s\" does not mention \"%s\"", dk_error(), needle);
}

void tu_random_weights(dk_model *m, uint64_t seed, double std)
{
    dk_rng r;
    dk_rng_seed(&r, seed);
    for (int ti = 0; ti < m->ntensors; ti++) {
        const dk_param_tensor *t = &m->tensors[ti];
        float *w = m->param_block + t->offset;
        for (size_t i = 0; i < t->numel; i++)
            w[i] = t->ndim == 1 ? (float)(1.0 + 0.1 * dk_rng_normal(&r)) : (float)(std * dk_rng_normal(&r));
    }
}
