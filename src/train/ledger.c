/* The provenance ledger: a hash-chained, append-only JSON-lines file. */
#include "dokja/ledger.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dk_build_info.h" /* DK_GIT_COMMIT, generated at build time by cmake/build_info.cmake */
#include "dokja/error.h"
#include "dokja/io.h"

static const char genesis[DK_SHA256_HEX] = "0000000000000000000000000000000000000000000000000000000000000000";

/* The whole file through an open descriptor. */
static int read_fd(int fd, const char *path, char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return dk_fail("%s: %s", path, strerror(errno));
    char *buf = dk_malloc((size_t)st.st_size + 1);
    if (!buf) return -1;
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t got = pread(fd, buf + n, (size_t)st.st_size - n, (off_t)n);
        if (got <= 0) {
            free(buf);
            return dk_fail("%s: read error: %s", path, got < 0 ? strerror(errno) : "file shrank");
        }
        n += (size_t)got;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t put = write(fd, data, len);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return -1;
        data += put;
        len -= (size_t)put;
    }
    return 0;
}

/* Cuts a torn last line; sets *seq and prev from the last complete line. */
static int tail_of(int fd, const char *path, int64_t *seq, char prev[DK_SHA256_HEX])
{
    char *buf = NULL;
    size_t len = 0;
    if (read_fd(fd, path, &buf, &len)) return -1;
    size_t end = len;
    while (end > 0 && buf[end - 1] != '\n') end--;
    int rc = 0;
    if (end < len) {
        fprintf(stderr, "note: %s: removed an incomplete last line (%zu bytes) left by an interrupted append\n", path, len - end);
        if (ftruncate(fd, (off_t)end) != 0 || fsync(fd) != 0) rc = dk_fail("%s: cannot cut the torn line: %s", path, strerror(errno));
    }
    long lines = 0;
    for (size_t i = 0; i < end; i++) lines += buf[i] == '\n';
    *seq = 0;
    memcpy(prev, genesis, DK_SHA256_HEX);
    if (!rc && end > 0) {
        size_t start = end - 1;
        while (start > 0 && buf[start - 1] != '\n') start--;
        cJSON *last = cJSON_ParseWithLength(buf + start, end - 1 - start);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(last, "seq");
        if (!cJSON_IsNumber(s) || s->valuedouble != (double)(lines - 1))
            rc = dk_fail("%s: line %ld: not a ledger record with \"seq\": %ld; the ledger is damaged, so nothing is chained to it",
                         path, lines, lines - 1);
        cJSON_Delete(last);
        *seq = lines;
        dk_sha256_buf(buf + start, end - 1 - start, prev);
    }
    free(buf);
    return rc;
}

static cJSON *make_record(int64_t seq, const char *prev, const char *kind, cJSON *fields, const char *path)
{
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "seq", (double)seq);
    cJSON_AddStringToObject(rec, "prev", prev);
    cJSON_AddStringToObject(rec, "kind", kind);
    while (fields && fields->child) {
        cJSON *item = cJSON_DetachItemViaPointer(fields, fields->child);
        if (cJSON_GetObjectItemCaseSensitive(rec, item->string)) {
            dk_fail("%s: a %s record may not set \"%s\"", path, kind, item->string);
            cJSON_Delete(item);
            cJSON_Delete(rec);
            return NULL;
        }
        cJSON_AddItemToObject(rec, item->string, item);
    }
    return rec;
}

int dk_ledger_append(const char *run_dir, const char *kind, cJSON *fields, char head[DK_SHA256_HEX])
{
    char *path = dk_path_join(run_dir, DK_LEDGER_FILE);
    if (!path) {
        cJSON_Delete(fields);
        return -1;
    }
    bool existed = dk_path_exists(path);
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int rc = fd < 0 ? dk_fail("%s: %s", path, strerror(errno)) : 0;
    /* One writer at a time: the tail we chain to must stay the tail. */
    if (!rc && flock(fd, LOCK_EX) != 0) rc = dk_fail("%s: cannot lock: %s", path, strerror(errno));
    int64_t seq = 0;
    char prev[DK_SHA256_HEX];
    if (!rc) rc = tail_of(fd, path, &seq, prev);
    cJSON *rec = rc ? NULL : make_record(seq, prev, kind, fields, path);
    char *text = rec ? cJSON_PrintUnformatted(rec) : NULL;
    if (!rc && !text) rc = rec ? dk_fail("%s: cannot serialise a %s record", path, kind) : -1;
    if (!rc) {
        size_t n = strlen(text);
        if (head) dk_sha256_buf(text, n, head);
        text[n] = '\n'; /* cJSON's buffer has room for its NUL, replaced by the newline */
        struct stat st;
        off_t before = fstat(fd, &st) == 0 ? st.st_size : 0;
        if (write_all(fd, text, n + 1) != 0 || fsync(fd) != 0) {
            rc = dk_fail("%s: cannot append: %s", path, strerror(errno));
            /* Best effort: should this fail too, the next append cuts the torn line. */
            (void)!ftruncate(fd, before);
        }
    }
    if (!rc && !existed) rc = dk_fsync_dir(run_dir);
    if (fd >= 0) close(fd);
    free(text);
    cJSON_Delete(rec);
    cJSON_Delete(fields);
    free(path);
    return rc;
}

int dk_ledger_read(const char *run_dir, dk_ledger *l)
{
    memset(l, 0, sizeof *l);
    l->path = dk_path_join(run_dir, DK_LEDGER_FILE);
    if (!l->path) return -1;
    if (!dk_path_exists(l->path)) return 0;
    char *buf;
    size_t len;
    if (dk_read_file(l->path, &buf, &len)) return -1;
    long lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    l->lines = dk_calloc((size_t)lines + 1, sizeof *l->lines);
    int rc = l->lines ? 0 : -1;
    for (size_t start = 0, i = 0; !rc && i < len; i++) {
        if (buf[i] != '\n') continue;
        dk_ledger_line *line = &l->lines[l->count++];
        line->record = cJSON_ParseWithLength(buf + start, i - start);
        if (line->record && !cJSON_IsObject(line->record)) cJSON_Delete(line->record), line->record = NULL;
        dk_sha256_buf(buf + start, i - start, line->sha256);
        start = i + 1;
    }
    l->torn = len > 0 && buf[len - 1] != '\n';
    free(buf);
    if (rc) dk_ledger_free(l);
    return rc;
}

void dk_ledger_free(dk_ledger *l)
{
    for (int i = 0; i < l->count; i++) cJSON_Delete(l->lines[i].record);
    free(l->lines);
    free(l->path);
    memset(l, 0, sizeof *l);
}

void dk_ledger_describe(const dk_ledger *l, int i, char *buf, size_t size)
{
    const cJSON *r = i >= 0 && i < l->count ? l->lines[i].record : NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(r, "kind"), *step = cJSON_GetObjectItemCaseSensitive(r, "step");
    int n = snprintf(buf, size, "line %d (seq %d", i + 1, i);
    if (cJSON_IsString(kind) && n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - (size_t)n, ", %s", kind->valuestring);
    if (cJSON_IsNumber(step) && n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - (size_t)n, " step %.0f", step->valuedouble);
    if (n >= 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, ")");
}

int dk_ledger_check(const dk_ledger *l)
{
    char what[128], before[128];
    for (int i = 0; i < l->count; i++) {
        const cJSON *r = l->lines[i].record;
        dk_ledger_describe(l, i, what, sizeof what);
        if (!r) return dk_fail("%s: %s is not a JSON object", l->path, what);
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(r, "seq"), *prev = cJSON_GetObjectItemCaseSensitive(r, "prev"),
                    *kind = cJSON_GetObjectItemCaseSensitive(r, "kind");
        if (!cJSON_IsNumber(seq) || seq->valuedouble != i)
            return dk_fail("%s: %s: \"seq\" should be %d: a record was removed, inserted or altered here", l->path, what, i);
        if (!cJSON_IsString(kind) || !*kind->valuestring) return dk_fail("%s: %s: no \"kind\"", l->path, what);
        const char *want = i ? l->lines[i - 1].sha256 : genesis;
        if (!cJSON_IsString(prev) || strcmp(prev->valuestring, want)) {
            if (!i) return dk_fail("%s: %s: \"prev\" of the first record must be 64 zeros", l->path, what);
            dk_ledger_describe(l, i - 1, before, sizeof before);
            return dk_fail("%s: %s: \"prev\" is not the sha256 of %s: that record (or this link) was altered", l->path, what,
                           before);
        }
    }
    if (l->torn)
        return dk_fail("%s: line %d is incomplete: the run stopped while appending to the ledger (resuming the run removes it)",
                       l->path, l->count + 1);
    return 0;
}

cJSON *dk_ledger_code(void)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dokja", DK_VERSION);
    cJSON_AddStringToObject(j, "commit", DK_GIT_COMMIT);
#ifdef __clang__
    cJSON_AddStringToObject(j, "compiler", "clang " __clang_version__);
#else
    cJSON_AddStringToObject(j, "compiler", "gcc " __VERSION__);
#endif
    cJSON_AddStringToObject(j, "blas", openblas_get_config());
    cJSON_AddStringToObject(j, "blas_core", openblas_get_corename());
    return j;
}

cJSON *dk_ledger_file(const char *base, const char *rel)
{
    char *path = rel[0] == '/' ? dk_strdupf("%s", rel) : dk_path_join(base, rel);
    char sha[DK_SHA256_HEX];
    int rc = path ? dk_sha256_file(path, sha) : -1;
    free(path);
    if (rc) return NULL;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "path", rel);
    cJSON_AddStringToObject(j, "sha256", sha);
    return j;
}
