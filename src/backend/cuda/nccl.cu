/* Data-parallel exchanges between GPUs over NCCL (dist.h). They run on a
 * stream of their own that does not wait for the compute stream as a whole:
 * each exchange waits for an event recorded after the kernels that wrote
 * its range, so the backward pass goes on while earlier ranges travel.
 * Sums are NCCL reductions to each range's owner, the same order on every
 * run for the same ranks and GPUs. */
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cuda.h"

extern "C" {
#include "dokja/dist.h"
#include "dokja/progress.h"
}

struct dk_nccl {
    const dk_dist *d;
    size_t n; /* floats in the block whose shards the ranks own */
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t ready;
};

#define NCCL_TRY(call)                                                                                                  \
    do {                                                                                                                \
        ncclResult_t r_ = (call);                                                                                       \
        if (r_ != ncclSuccess && r_ != ncclInProgress) return dk_fail("NCCL: %s (%s)", ncclGetErrorString(r_), #call);  \
    } while (0)

/* NCCL's state, waited on with the world's deadline: a non-blocking
 * communicator answers ncclInProgress until its calls are queued on the
 * stream, and a rank that died leaves it waiting forever, so the
 * communicator is then aborted. With `stream`, also waits for the queued work. */
static int wait_for(dk_nccl *c, bool stream, const char *what)
{
    double deadline = dk_now() + c->d->timeout_s;
    struct timespec nap = {0, 100000};
    for (;;) {
        ncclResult_t state = ncclSuccess;
        ncclCommGetAsyncError(c->comm, &state);
        if (state != ncclSuccess && state != ncclInProgress) {
            ncclCommAbort(c->comm);
            return dk_fail("%s: NCCL: %s", what, ncclGetErrorString(state));
        }
        if (state == ncclSuccess) {
            cudaError_t e = stream ? cudaStreamQuery(c->stream) : cudaSuccess;
            if (e == cudaSuccess) return 0;
            if (e != cudaErrorNotReady) return dk_fail("%s: CUDA: %s", what, cudaGetErrorString(e));
        }
        if (dk_now() > deadline) {
            ncclCommAbort(c->comm);
            return dk_fail("%s: no answer from the other GPUs in %.0f s: a rank died or hangs; resume from the last "
                           "checkpoint with --resume",
                           what, c->d->timeout_s);
        }
        nanosleep(&nap, NULL);
    }
}

extern "C" int dk_nccl_create(dk_nccl **out, const dk_dist *d, size_t n)
{
    ncclUniqueId id;
    if (d->rank == 0) NCCL_TRY(ncclGetUniqueId(&id));
    if (dk_dist_bcast(d, &id, sizeof id)) return -1;
    dk_nccl *c = (dk_nccl *)calloc(1, sizeof *c);
    if (!c) return dk_fail("out of memory");
    c->d = d;
    c->n = n;
    /* non-blocking: a peer that never joins cannot hang this rank */
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t r = ncclCommInitRankConfig(&c->comm, d->size, id, d->rank, &config);
    if (r != ncclSuccess && r != ncclInProgress) {
        free(c);
        return dk_fail("NCCL: cannot join the job's GPUs: %s", ncclGetErrorString(r));
    }
    if (wait_for(c, false, "connecting the job's GPUs")) {
        free(c);
        return -1;
    }
    DK_CUDA(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
    DK_CUDA(cudaEventCreateWithFlags(&c->ready, cudaEventDisableTiming));
    *out = c;
    return 0;
}

extern "C" void dk_nccl_free(dk_nccl *c)
{
    if (!c) return;
    ncclCommDestroy(c->comm);
    cudaEventDestroy(c->ready);
    cudaStreamDestroy(c->stream);
    free(c);
}

/* The exchange stream waits for what the compute stream has queued so far. */
static void after_compute(dk_nccl *c)
{
    DK_CUDA(cudaEventRecord(c->ready, 0));
    DK_CUDA(cudaStreamWaitEvent(c->stream, c->ready, 0));
}

extern "C" int dk_nccl_reduce(dk_nccl *c, float *grad, size_t lo, size_t hi)
{
    after_compute(c);
    NCCL_TRY(ncclGroupStart());
    for (int r = 0; r < c->d->size; r++) {
        size_t slo, shi;
        dk_dist_shard(c->d, r, c->n, &slo, &shi);
        size_t a = slo > lo ? slo : lo, z = shi < hi ? shi : hi;
        if (a < z) NCCL_TRY(ncclReduce(grad + a, grad + a, z - a, ncclFloat, ncclSum, r, c->comm, c->stream));
    }
    NCCL_TRY(ncclGroupEnd());
    return wait_for(c, false, "gradient reduction");
}

extern "C" int dk_nccl_finish(dk_nccl *c) { return wait_for(c, true, "gradient reduction"); }

extern "C" int dk_nccl_allgather_shards(dk_nccl *c, float *block, size_t n)
{
    after_compute(c);
    NCCL_TRY(ncclGroupStart());
    for (int r = 0; r < c->d->size; r++) {
        size_t lo, hi;
        dk_dist_shard(c->d, r, n, &lo, &hi);
        if (lo < hi) NCCL_TRY(ncclBroadcast(block + lo, block + lo, hi - lo, ncclFloat, r, c->comm, c->stream));
    }
    NCCL_TRY(ncclGroupEnd());
    return wait_for(c, true, "weight exchange");
}
