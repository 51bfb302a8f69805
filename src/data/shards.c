#include "dokja/shards.h"

#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"

static const char shard_magic[8] = "DOKJTOK";

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

uint32_t dk_shard_token(const dk_shard *s, int64_t i)
{
    const uint8_t *p = s->map.data + DK_SHARD_HEADER + (size_t)i * (size_t)s->width;
    return s->width == 2 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : rd32(p);
}

int dk_shard_open(dk_shard *s, const char *path, int model_vocab)
{
    memset(s, 0, sizeof *s);
    if (dk_mmap_open(&s->map, path)) return -1;
    const uint8_t *h = s->map.data;
    const char *why = NULL;
    if (s->map.size < DK_SHARD_HEADER) why = "shorter than its 1024-byte header (truncated?)";
    else if (memcmp(h, shard_magic, 8)) why = "not a dokja token shard (bad magic)";
    else if (rd32(h + 8) != 1) why = "unsupported shard version";
    else if (rd32(h + 12) != 2 && rd32(h + 12) != 4) why = "token width must be 2 or 4";
    if (why) {
        dk_mmap_close(&s->map);
        return dk_fail("%s: %s", path, why);
    }
    s->width = (int)rd32(h + 12);
    s->ntokens = (int64_t)rd64(h + 16);
    s->vocab_size = rd32(h + 24);
    s->separator = rd32(h + 28);
    memcpy(s->tokenizer_sha256, h + 32, 64);
    s->tokenizer_sha256[64] = '\0';
    uint64_t want = DK_SHARD_HEADER + (uint64_t)s->ntokens * (uint64_t)s->width;
    if (s->ntokens < 0 || want != s->map.size) {
        dk_fail("%s: header says %lld tokens (%llu bytes) but the file has %zu bytes (truncated or corrupt)", path,
                (long long)s->ntokens, (unsigned long long)want, s->map.size);
        dk_mmap_close(&s->map);
        return -1;
    }
    if (model_vocab > 0) {
        for (int64_t i = 0; i < s->ntokens; i++) {
            uint32_t t = dk_shard_token(s, i);
            if (t >= (uint32_t)model_vocab) {
                dk_fail("%s: token %lld has id %u, outside the model's vocabulary of %d", path, (long long)i, t, model_vocab);
                dk_mmap_close(&s->map);
                return -1;
            }
        }
    }
    s->path = strdup(path);
    return 0;
}

void dk_shard_close(dk_shard *s)
{
    dk_mmap_close(&s->map);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int dk_shard_write(const char *path, const uint32_t *tokens, int64_t n, int width, uint32_t vocab_size, uint32_t separator,
                   const char *tokenizer_sha256)
{
    if (width != 2 && width != 4) return dk_fail("%s: token width must be 2 or 4", path);
    uint8_t header[DK_SHARD_HEADER] = {0};
    memcpy(header, shard_magic, 8);
    wr32(header + 8, 1);
    wr32(header + 12, (uint32_t)width);
    wr64(header + 16, (uint64_t)n);
    wr32(header + 24, vocab_size);
    wr32(header + 28, separator);
    if (tokenizer_sha256) memcpy(header + 32, tokenizer_sha256, strnlen(tokenizer_sha256, 64));
    dk_afile f;
    if (dk_afile_open(&f, path)) return -1;
    int rc = dk_afile_write(&f, header, sizeof header);
    uint8_t buf[4096];
    size_t fill = 0;
    for (int64_t i = 0; !rc && i < n; i++) {
        if (width == 2 && tokens[i] > 0xffff) {
            rc = dk_fail("%s: token %u does not fit in 2 bytes", path, tokens[i]);
            break;
        }
        for (int b = 0; b < width; b++) buf[fill++] = (uint8_t)(tokens[i] >> (8 * b));
        if (fill == sizeof buf) {
            rc = dk_afile_write(&f, buf, fill);
            fill = 0;
        }
    }
    if (!rc) rc = dk_afile_write(&f, buf, fill);
    if (rc) {
        dk_afile_abort(&f);
        return -1;
    }
    return dk_afile_commit(&f);
}
