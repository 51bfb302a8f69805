/* Choosing a backend by the names the command line uses. */
#include <string.h>

#include "dokja/backend.h"
#include "dokja/dist.h"
#include "dokja/error.h"

#ifndef DK_HAVE_CUDA
const dk_backend *dk_backend_cuda(bool bf16)
{
    (void)bf16;
    dk_fail("--device cuda: this dokja was built without CUDA (no nvcc was found at build time; see docs/cuda.md)");
    return NULL;
}

const char *dk_cuda_device_name(void) { return "none"; }

int dk_cuda_set_device(int index)
{
    (void)index;
    return dk_fail("this dokja was built without CUDA");
}

double dk_cuda_gemm_peak(const dk_backend *be, int n, double seconds)
{
    (void)be, (void)n, (void)seconds;
    dk_fail("this dokja was built without CUDA");
    return 0;
}
#endif

#ifndef DK_HAVE_NCCL
#define NO_NCCL "training on several GPUs needs NCCL, and this dokja was built without it (docs/cuda.md)"
int dk_nccl_create(dk_nccl **c, const dk_dist *d, size_t n)
{
    (void)c, (void)d, (void)n;
    return dk_fail(NO_NCCL);
}
void dk_nccl_free(dk_nccl *c) { (void)c; }
int dk_nccl_reduce(dk_nccl *c, float *grad, size_t lo, size_t hi)
{
    (void)c, (void)grad, (void)lo, (void)hi;
    return dk_fail(NO_NCCL);
}
int dk_nccl_finish(dk_nccl *c)
{
    (void)c;
    return dk_fail(NO_NCCL);
}
int dk_nccl_allgather_shards(dk_nccl *c, float *block, size_t n)
{
    (void)c, (void)block, (void)n;
    return dk_fail(NO_NCCL);
}
#endif

const dk_backend *dk_backend_get(const char *device, const char *precision)
{
    bool cuda = device && !strcmp(device, "cuda");
    if (device && !cuda && strcmp(device, "cpu")) {
        dk_fail("--device: \"%s\" is not a device; use cpu or cuda", device);
        return NULL;
    }
    if (precision && strcmp(precision, "fp32") && strcmp(precision, "bf16")) {
        dk_fail("--precision: \"%s\" is not a precision; use fp32 or bf16", precision);
        return NULL;
    }
    if (!cuda) {
        if (precision && !strcmp(precision, "bf16")) {
            dk_fail("--precision bf16 needs --device cuda; the CPU computes in fp32");
            return NULL;
        }
        return dk_backend_cpu();
    }
    return dk_backend_cuda(!precision || !strcmp(precision, "bf16"));
}

const char *dk_backend_device_name(const dk_backend *be)
{
    return strcmp(be->name, "cuda") ? "cpu" : dk_cuda_device_name();
}
