/* The files behind the paths given to the document reader: directories are
 * walked recursively, entries sorted by their bytes (not the locale), hidden
 * entries (".name") skipped, so the reading order is the same everywhere. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "docs_internal.h"
#include "dokja/error.h"
#include "dokja/io.h"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_file(dk_docs *d, char *path, int input, int64_t size)
{
    if (d->nfiles == d->files_cap) {
        int cap = d->files_cap ? 2 * d->files_cap : 16;
        dk_docs_file_entry *f = realloc(d->files, sizeof *f * (size_t)cap);
        if (!f) {
            free(path);
            return dk_fail("out of memory listing input files");
        }
        d->files = f;
        d->files_cap = cap;
    }
    d->files[d->nfiles++] = (dk_docs_file_entry){path, input, size};
    d->total_bytes += size > 0 ? size : 0;
    return 0;
}

static int walk(dk_docs *d, const char *path, int input, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        /* Kept in the list: opening it later reports it in reading order. */
        char *p = dk_strdupf("%s", path);
        return p ? add_file(d, p, input, -1) : -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        char *p = dk_strdupf("%s", path);
        return p ? add_file(d, p, input, (int64_t)st.st_size) : -1;
    }
    if (depth > 64) return dk_fail("%s: directories nested more than 64 deep (a link loop?)", path);
    DIR *dir = opendir(path);
    if (!dir) {
        char *p = dk_strdupf("%s", path);
        return p ? add_file(d, p, input, -1) : -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dir))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(names, sizeof *g * cap);
            if (!g) {
                rc = dk_fail("out of memory listing %s", path);
                break;
            }
            names = g;
        }
        names[n] = dk_path_join(path, e->d_name);
        if (!names[n]) rc = -1;
        else n++;
    }
    closedir(dir);
    if (names) qsort(names, n, sizeof *names, by_name);
    /* A directory written by `dokja data prepare` is read as its corpus: its
     * data card and manifest describe the text, they are not text. */
    char *manifest = dk_path_join(path, "manifest.json"), *card = dk_path_join(path, "datacard.json");
    bool prepared = manifest && card && dk_path_exists(manifest) && dk_path_exists(card);
    free(manifest);
    free(card);
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(names[i], '/') + 1;
        bool skip = prepared && strncmp(base, "data-", 5) != 0;
        if (rc == 0 && !skip) rc = walk(d, names[i], input, depth + 1);
        free(names[i]);
    }
    free(names);
    return rc;
}

int dk_docs_walk(dk_docs *d, char *const *paths, int npaths)
{
    for (int i = 0; i < npaths; i++)
        if (walk(d, paths[i], i, 0)) return -1;
    return 0;
}

int dk_docs_nfiles(const dk_docs *d) { return d->nfiles; }

const char *dk_docs_file(const dk_docs *d, int i, int *input)
{
    if (input) *input = d->files[i].input;
    return d->files[i].path;
}
