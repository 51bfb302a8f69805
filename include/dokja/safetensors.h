/* safetensors: an 8-byte little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets}}, then raw little-endian data. */
#ifndef DK_SAFETENSORS_H
#define DK_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

typedef enum { DK_F32, DK_F16, DK_BF16, DK_I32, DK_I64, DK_I8 } dk_dtype;

#define DK_MAX_DIMS 4

typedef struct {
    char *name;
    dk_dtype dtype;
    int ndim;
    int64_t shape[DK_MAX_DIMS];
    const uint8_t *data; /* points into the mapped file */
    size_t nbytes;
} dk_tensor_view;

typedef struct {
    dk_mmap map;
    char *path;
    int count;
    dk_tensor_view *tensors;
} dk_safetensors;

/* Maps and validates a file: header JSON, dtypes, shapes against sizes,
 * offsets inside the file and not overlapping. Errors name the file and tensor. */
int dk_safetensors_open(dk_safetensors *st, const char *path);
void dk_safetensors_close(dk_safetensors *st);
const dk_tensor_view *dk_safetensors_find(const dk_safetensors *st, const char *name);
/* Copies a tensor into fp32 (converting from F16/BF16), checking its shape. */
int dk_safetensors_read_f32(const dk_safetensors *st, const char *name, float *out, int ndim, const int64_t *shape);
size_t dk_dtype_size(dk_dtype t);
int64_t dk_shape_numel(int ndim, const int64_t *shape);

/* A writer: add tensors (pointers must stay valid until write), then write atomically. */
typedef struct {
    const char *name;
    dk_dtype dtype;
    int ndim;
    int64_t shape[DK_MAX_DIMS];
    const void *data;
} dk_tensor_out;

int dk_safetensors_write(const char *path, const dk_tensor_out *tensors, int count);

#endif
