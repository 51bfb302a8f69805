#include "dokja/safetensors.h"

#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/json.h"

static const char *dtype_names[] = {[DK_F32] = "F32", [DK_F16] = "F16", [DK_BF16] = "BF16", [DK_I32] = "I32", [DK_I64] = "I64",
                                     [DK_I8] = "I8"};

size_t dk_dtype_size(dk_dtype t)
{
    switch (t) {
    case DK_F16:
    case DK_BF16: return 2;
    case DK_F32:
    case DK_I32: return 4;
    case DK_I64: return 8;
    case DK_I8: return 1;
    }
    return 0;
}

int64_t dk_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

static int parse_dtype(const char *s, dk_dtype *out)
{
    for (size_t i = 0; i < sizeof dtype_names / sizeof *dtype_names; i++)
        if (!strcmp(s, dtype_names[i])) {
            *out = (dk_dtype)i;
            return 0;
        }
    return -1;
}

static int by_offset(const void *a, const void *b)
{
    const dk_tensor_view *x = a, *y = b;
    return (x->data > y->data) - (x->data < y->data);
}

static int parse_entry(dk_tensor_view *t, const cJSON *item, const uint8_t *base, size_t data_size, const char *path)
{
    const char *name = item->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype) || parse_dtype(dtype->valuestring, &t->dtype))
        return dk_fail("%s: tensor \"%s\": unsupported or missing dtype", path, name);
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > DK_MAX_DIMS)
        return dk_fail("%s: tensor \"%s\": shape must be an array of at most %d dims", path, name, DK_MAX_DIMS);
    t->ndim = cJSON_GetArraySize(shape);
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        const cJSON *d = cJSON_GetArrayItem(shape, i);
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e12 || d->valuedouble != (double)(int64_t)d->valuedouble)
            return dk_fail("%s: tensor \"%s\": invalid shape", path, name);
        t->shape[i] = (int64_t)d->valuedouble;
        numel *= t->shape[i];
        if (numel > (int64_t)1 << 40) return dk_fail("%s: tensor \"%s\": shape too large", path, name);
    }
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return dk_fail("%s: tensor \"%s\": data_offsets must be [begin, end]", path, name);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, e = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)) || b < 0 || e < b ||
        e > (double)data_size)
        return dk_fail("%s: tensor \"%s\": data_offsets outside the file (file truncated?)", path, name);
    t->nbytes = (size_t)e - (size_t)b;
    if (t->nbytes != (size_t)numel * dk_dtype_size(t->dtype))
        return dk_fail("%s: tensor \"%s\": %zu bytes of data for a shape of %lld elements", path, name, t->nbytes, (long long)numel);
    t->data = base + (size_t)b;
    t->name = dk_strdupf("%s", name);
    return t->name ? 0 : -1;
}

int dk_safetensors_open(dk_safetensors *st, const char *path)
{
    memset(st, 0, sizeof *st);
    if (dk_mmap_open(&st->map, path)) return -1;
    const uint8_t *p = st->map.data;
    uint64_t hlen = 0;
    if (st->map.size < 8) goto truncated;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > st->map.size - 8 || hlen > (100u << 20)) goto truncated;
    cJSON *header = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!header || !cJSON_IsObject(header)) {
        cJSON_Delete(header);
        dk_mmap_close(&st->map);
        return dk_fail("%s: invalid safetensors header (not a JSON object)", path);
    }
    st->path = dk_strdupf("%s", path);
    int n = cJSON_GetArraySize(header);
    st->tensors = dk_calloc((size_t)n, sizeof *st->tensors);
    if (!st->path || !st->tensors) goto fail;
    const uint8_t *base = p + 8 + hlen;
    size_t data_size = st->map.size - 8 - (size_t)hlen;
    const cJSON *item;
    cJSON_ArrayForEach(item, header)
    {
        if (!strcmp(item->string, "__metadata__")) continue;
        if (!cJSON_IsObject(item)) {
            dk_fail("%s: tensor \"%s\": expected an object", path, item->string);
            goto fail;
        }
        if (parse_entry(&st->tensors[st->count], item, base, data_size, path)) goto fail;
        st->count++;
    }
    cJSON_Delete(header);
    header = NULL;
    /* Overlapping tensors mean a corrupt or hostile file. */
    dk_tensor_view *sorted = dk_malloc(sizeof *sorted * (size_t)(st->count ? st->count : 1));
    if (!sorted) goto fail;
    memcpy(sorted, st->tensors, sizeof *sorted * (size_t)st->count);
    qsort(sorted, (size_t)st->count, sizeof *sorted, by_offset);
    for (int i = 1; i < st->count; i++)
        if (sorted[i].data < sorted[i - 1].data + sorted[i - 1].nbytes) {
            dk_fail("%s: tensors \"%s\" and \"%s\" overlap", path, sorted[i - 1].name, sorted[i].name);
            free(sorted);
            goto fail;
        }
    free(sorted);
    return 0;
fail:
    cJSON_Delete(header);
    dk_safetensors_close(st);
    return -1;
truncated:
    dk_mmap_close(&st->map);
    return dk_fail("%s: truncated or not a safetensors file", path);
}

void dk_safetensors_close(dk_safetensors *st)
{
    for (int i = 0; i < st->count; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->path);
    dk_mmap_close(&st->map);
    memset(st, 0, sizeof *st);
}

const dk_tensor_view *dk_safetensors_find(const dk_safetensors *st, const char *name)
{
    for (int i = 0; i < st->count; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7f800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int dk_safetensors_read_f32(const dk_safetensors *st, const char *name, float *out, int ndim, const int64_t *shape)
{
    const dk_tensor_view *t = dk_safetensors_find(st, name);
    if (!t) return dk_fail("%s: missing tensor \"%s\"", st->path, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[96] = "", got[96] = "";
        for (int i = 0; i < ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return dk_fail("%s: tensor \"%s\" has shape [%s], expected [%s]", st->path, name, got, want);
    }
    size_t n = (size_t)dk_shape_numel(ndim, shape);
    switch (t->dtype) {
    case DK_F32: memcpy(out, t->data, n * 4); return 0;
    case DK_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, t->data + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
        }
        return 0;
    case DK_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, t->data + 2 * i, 2);
            out[i] = half_to_f32(h);
        }
        return 0;
    default: return dk_fail("%s: tensor \"%s\": expected a floating-point dtype", st->path, name);
    }
}

int dk_safetensors_write(const char *path, const dk_tensor_out *tensors, int count)
{
    cJSON *header = cJSON_CreateObject();
    size_t offset = 0;
    for (int i = 0; i < count; i++) {
        const dk_tensor_out *t = &tensors[i];
        size_t nbytes = (size_t)dk_shape_numel(t->ndim, t->shape) * dk_dtype_size(t->dtype);
        cJSON *e = cJSON_AddObjectToObject(header, t->name);
        cJSON_AddStringToObject(e, "dtype", dtype_names[t->dtype]);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + nbytes)));
        offset += nbytes;
    }
    char *text = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    if (!text) return dk_fail("%s: cannot build header", path);
    size_t hlen = strlen(text), padded = (hlen + 7) & ~(size_t)7;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(padded >> (8 * i));
    dk_afile f;
    int rc = dk_afile_open(&f, path);
    if (!rc) rc = dk_afile_write(&f, len8, 8);
    if (!rc) rc = dk_afile_write(&f, text, hlen);
    if (!rc) rc = dk_afile_write(&f, "        ", padded - hlen);
    for (int i = 0; !rc && i < count; i++)
        rc = dk_afile_write(&f, tensors[i].data,
                            (size_t)dk_shape_numel(tensors[i].ndim, tensors[i].shape) * dk_dtype_size(tensors[i].dtype));
    free(text);
    if (rc) {
        dk_afile_abort(&f);
        return -1;
    }
    return dk_afile_commit(&f);
}
