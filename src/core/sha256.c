#include "dokja/sha256.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dokja/error.h"
#include "dokja/io.h"

struct dk_sha256 {
    EVP_MD_CTX *ctx;
};

dk_sha256 *dk_sha256_new(void)
{
    dk_sha256 *h = dk_malloc(sizeof *h);
    if (!h) return NULL;
    h->ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
    return h;
}

void dk_sha256_update(dk_sha256 *h, const void *data, size_t len) { EVP_DigestUpdate(h->ctx, data, len); }

void dk_sha256_final(dk_sha256 *h, char hex[DK_SHA256_HEX])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    hex[64] = '\0';
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void dk_sha256_buf(const void *data, size_t len, char hex[DK_SHA256_HEX])
{
    dk_sha256 *h = dk_sha256_new();
    dk_sha256_update(h, data, len);
    dk_sha256_final(h, hex);
}

int dk_sha256_file(const char *path, char hex[DK_SHA256_HEX])
{
    dk_mmap m;
    if (dk_mmap_open(&m, path)) return -1;
    dk_sha256_buf(m.data, m.size, hex);
    dk_mmap_close(&m);
    return 0;
}
