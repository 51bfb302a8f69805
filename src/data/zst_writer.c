/* The output shards of data prepare: JSON lines through one zstd stream per
 * shard, each file written under a temporary name and renamed when whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "dokja/error.h"

static int drain(dk_zst_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer out = {w->zbuf, w->zcap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, in, mode);
        if (ZSTD_isError(left)) return dk_fail("%s: zstd: %s", w->f.path, ZSTD_getErrorName(left));
        if (dk_afile_write(&w->f, w->zbuf, out.pos)) return -1;
        if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size) return 0;
    }
}

static int open_shard(dk_zst_writer *w)
{
    if (!w->cctx) {
        w->zcap = ZSTD_CStreamOutSize();
        w->zbuf = malloc(w->zcap);
        w->cctx = ZSTD_createCCtx();
        if (!w->zbuf || !w->cctx) return dk_fail("out of memory for zstd");
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->level);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, w->workers < 1 ? 1 : w->workers);
    }
    ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
    dk_shard_info *s = realloc(w->shards, sizeof *s * (size_t)(w->nshards + 1));
    if (!s) return dk_fail("out of memory listing shards");
    w->shards = s;
    s += w->nshards;
    memset(s, 0, sizeof *s);
    s->name = dk_strdupf("data-%05d.jsonl.zst", w->nshards);
    char *path = s->name ? dk_path_join(w->dir, s->name) : NULL;
    int rc = path ? dk_afile_open(&w->f, path) : -1;
    free(path);
    if (rc) {
        free(s->name);
        return -1;
    }
    w->nshards++;
    w->open = true;
    return 0;
}

enum { GATHER = 1 << 20 };

int dk_zst_writer_close(dk_zst_writer *w)
{
    if (!w->open) return 0;
    w->open = false;
    ZSTD_inBuffer in = {w->lines.p, w->lines.len, 0};
    w->lines.len = 0;
    if (drain(w, &in, ZSTD_e_end)) {
        dk_afile_abort(&w->f);
        return -1;
    }
    return dk_afile_commit(&w->f);
}

int dk_zst_writer_line(dk_zst_writer *w, const char *line, size_t n)
{
    if (w->open && w->shards[w->nshards - 1].bytes + (int64_t)n > w->max_bytes && dk_zst_writer_close(w)) return -1;
    if (!w->open && open_shard(w)) return -1;
    dk_shard_info *s = &w->shards[w->nshards - 1];
    s->docs++;
    s->bytes += (int64_t)n;
    if (dk_buf_put(&w->lines, line, n)) return -1;
    if (w->lines.len < GATHER) return 0;
    ZSTD_inBuffer in = {w->lines.p, w->lines.len, 0};
    w->lines.len = 0;
    return drain(w, &in, ZSTD_e_continue);
}

void dk_zst_writer_free(dk_zst_writer *w)
{
    if (w->open) dk_afile_abort(&w->f);
    w->open = false;
    ZSTD_freeCCtx(w->cctx);
    free(w->zbuf);
    dk_buf_free(&w->lines);
    for (int i = 0; i < w->nshards; i++) free(w->shards[i].name);
    free(w->shards);
    w->cctx = NULL;
    w->zbuf = NULL;
    w->shards = NULL;
    w->nshards = 0;
}
