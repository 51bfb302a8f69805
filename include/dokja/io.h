/* Files: whole-file reads, atomic writes (temporary name, fsync, rename),
 * directories. Every failure names the path. */
#ifndef DK_IO_H
#define DK_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads a whole file; *out is NUL-terminated (not counted in *len). */
int dk_read_file(const char *path, char **out, size_t *len);
/* Writes path atomically: data goes to "path.tmp", is fsynced, then renamed. */
int dk_write_file_atomic(const char *path, const void *data, size_t len);

/* A file written through a temporary name and renamed into place by dk_afile_commit. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp_path;
} dk_afile;
int dk_afile_open(dk_afile *f, const char *path);
int dk_afile_write(dk_afile *f, const void *data, size_t len);
int dk_afile_commit(dk_afile *f);
void dk_afile_abort(dk_afile *f);

int dk_mkdirs(const char *path);
int dk_fsync_dir(const char *path);
int dk_remove_tree(const char *path);
int dk_copy_file(const char *src, const char *dst);
int dk_path_exists(const char *path);
int dk_is_dir(const char *path);
/* Joins two path parts into a newly allocated string. */
char *dk_path_join(const char *a, const char *b);
/* sprintf into a newly allocated string. */
char *dk_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read-only memory map of a whole file. */
typedef struct {
    const uint8_t *data;
    size_t size;
} dk_mmap;
int dk_mmap_open(dk_mmap *m, const char *path);
void dk_mmap_close(dk_mmap *m);

#endif
