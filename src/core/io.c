#include "dokja/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dokja/error.h"

char *dk_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = dk_malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *dk_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    return dk_strdupf("%s%s%s", a, (la && a[la - 1] == '/') ? "" : "/", b);
}

int dk_read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return dk_fail("%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = dk_malloc(cap);
    if (!buf) { fclose(fp); return -1; }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(fp); return dk_fail("%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) { free(buf); return dk_fail("%s: read error", path); }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

int dk_afile_open(dk_afile *f, const char *path)
{
    memset(f, 0, sizeof *f);
    f->path = dk_strdupf("%s", path);
    f->tmp_path = dk_strdupf("%s.tmp", path);
    if (!f->path || !f->tmp_path) { dk_afile_abort(f); return -1; }
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        int e = errno;
        dk_afile_abort(f);
        return dk_fail("%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

int dk_afile_write(dk_afile *f, const void *data, size_t len)
{
    if (len && fwrite(data, 1, len, f->fp) != len) return dk_fail("%s: write failed: %s", f->path, strerror(errno));
    return 0;
}

static void free_afile(dk_afile *f)
{
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fp = NULL;
}

int dk_afile_commit(dk_afile *f)
{
    int bad = fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int e = errno;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad) {
        unlink(f->tmp_path);
        dk_fail("%s: write failed: %s", f->path, strerror(e));
        free_afile(f);
        return -1;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        e = errno;
        unlink(f->tmp_path);
        dk_fail("%s: rename failed: %s", f->path, strerror(e));
        free_afile(f);
        return -1;
    }
    free_afile(f);
    return 0;
}

void dk_afile_abort(dk_afile *f)
{
    if (f->fp) {
        fclose(f->fp);
        unlink(f->tmp_path);
    }
    free_afile(f);
}

int dk_write_file_atomic(const char *path, const void *data, size_t len)
{
    dk_afile f;
    if (dk_afile_open(&f, path)) return -1;
    if (dk_afile_write(&f, data, len)) { dk_afile_abort(&f); return -1; }
    return dk_afile_commit(&f);
}

int dk_mkdirs(const char *path)
{
    char *p = dk_strdupf("%s", path);
    if (!p) return -1;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                dk_fail("%s: cannot create directory: %s", p, strerror(e));
                free(p);
                return -1;
            }
            *s = c;
            if (c == '\0') break;
        }
    }
    free(p);
    if (!dk_is_dir(path)) return dk_fail("%s: exists and is not a directory", path);
    return 0;
}

int dk_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return dk_fail("%s: %s", path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return dk_fail("%s: fsync failed: %s", path, strerror(errno));
    return 0;
}

int dk_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : dk_fail("%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return dk_fail("%s: %s", path, strerror(errno));
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *child = dk_path_join(path, e->d_name);
            rc = child ? dk_remove_tree(child) : -1;
            free(child);
        }
        closedir(d);
        if (rc) return rc;
        if (rmdir(path) != 0) return dk_fail("%s: %s", path, strerror(errno));
        return 0;
    }
    if (unlink(path) != 0) return dk_fail("%s: %s", path, strerror(errno));
    return 0;
}

int dk_copy_file(const char *src, const char *dst)
{
    char *buf;
    size_t n;
    if (dk_read_file(src, &buf, &n)) return -1;
    int rc = dk_write_file_atomic(dst, buf, n);
    free(buf);
    return rc;
}

int dk_path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int dk_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int dk_mmap_open(dk_mmap *m, const char *path)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dk_fail("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return dk_fail("%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return dk_fail("%s: not a regular file", path);
    }
    m->size = (size_t)st.st_size;
    if (m->size) {
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return dk_fail("%s: mmap failed: %s", path, strerror(errno));
        }
        m->data = p;
    }
    close(fd);
    return 0;
}

void dk_mmap_close(dk_mmap *m)
{
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
