/* SHA-256 (OpenSSL) as 64 lowercase hex characters. */
#ifndef DK_SHA256_H
#define DK_SHA256_H

#include <stddef.h>

#define DK_SHA256_HEX 65 /* 64 hex chars + NUL */

typedef struct dk_sha256 dk_sha256;
dk_sha256 *dk_sha256_new(void);
void dk_sha256_update(dk_sha256 *h, const void *data, size_t len);
/* Writes the hex digest and frees h. */
void dk_sha256_final(dk_sha256 *h, char hex[DK_SHA256_HEX]);

void dk_sha256_buf(const void *data, size_t len, char hex[DK_SHA256_HEX]);
int dk_sha256_file(const char *path, char hex[DK_SHA256_HEX]);

#endif
