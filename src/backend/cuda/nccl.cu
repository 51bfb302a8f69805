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
#include "dokja/progress.h"
}

struct dk_nccl {
    const dk_dist *d;
    size_t n; /* floats in the block whose shards the ranks own */
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t ready;
};

/* Ends the communicator after a failure: a peer may never answer again. */
static int broken(dk_nccl *c, const char *what, ncclResult_t r)
{
    if (c->comm) ncclCommAbort(c->comm);
    c->comm = NULL;
    return dk_fail("%s: NCCL: %s", what, ncclGetErrorString(r));
}

/* NCCL's state, waited on with the world's deadline: a non-blocking
 * communicator answers ncclInProgress until its calls are queued on the
 * stream, and a rank that died leaves it waiting forever, so the
 * communicator is then aborted. With `stream`, also waits for the queued work. */
static int wait_for(dk_nccl *c, bool stream, const char *what)
{
    if (!c->comm) return dk_fail("%s: the GPUs' communicator was ended by an earlier failure", what);
    double deadline = dk_now() + c->d->timeout_s;
    struct timespec nap = {0, 100000};
    for (;;) {
        ncclResult_t state = ncclSuccess;
        ncclCommGetAsyncError(c->comm, &state);
        if (state != ncclSuccess && state != ncclInProgress) return broken(c, what, state);
        if (state == ncclSuccess) {
            cudaError_t e = stream ? cudaStreamQuery(c->stream) : cudaSuccess;
            if (e == cudaSuccess) return 0;
            if (e != cudaErrorNotReady) return dk_fail("%s: CUDA: %s", what, cudaGetErrorString(e));
        }
        if (dk_now() > deadline) {
            broken(c, what, ncclInProgress);
            return dk_fail("%s: no answer from the other GPUs in %.0f s: a rank died or hangs; resume from the last "
                           "checkpoint with --resume",
                           what, c->d->timeout_s);
        }
        nanosleep(&nap, NULL);
    }
}

/* Ends a group of calls (always, even after a failed call inside it) and
 * waits until NCCL has queued them. */
static int end_group(dk_nccl *c, ncclResult_t inside, const char *what)
{
    ncclResult_t end = ncclGroupEnd();
    if (inside != ncclSuccess && inside != ncclInProgress) return broken(c, what, inside);
    if (end != ncclSuccess && end != ncclInProgress) return broken(c, what, end);
    return wait_for(c, false, what);
}

extern "C" int dk_nccl_create(dk_nccl **out, const dk_dist *d, size_t n)
{
    /* rank 0 makes the id; every rank learns whether it could */
    struct {
        int ok;
        ncclUniqueId id;
    } made = {};
    ncclResult_t r0 = d->rank == 0 ? ncclGetUniqueId(&made.id) : ncclSuccess;
    made.ok = r0 == ncclSuccess;
    if (dk_dist_bcast(d, &made, sizeof made)) return -1;
    if (!made.ok) return dk_fail("NCCL: rank 0 could not start the communicator%s%s", d->rank ? "" : ": ",
                                 d->rank ? "" : ncclGetErrorString(r0));
    ncclUniqueId id = made.id;
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
    /* a non-blocking communicator finishes its work before it is destroyed */
    if (c->comm) {
        ncclCommFinalize(c->comm);
        if (!wait_for(c, true, "closing NCCL")) ncclCommDestroy(c->comm); /* else it was aborted */
    }
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
    if (!c->comm) return wait_for(c, false, "gradient reduction");
    after_compute(c);
    ncclResult_t r = ncclGroupStart();
    for (int k = 0; r == ncclSuccess && k < c->d->size; k++) {
        size_t slo, shi;
        dk_dist_shard(c->d, k, c->n, &slo, &shi);
        size_t a = slo > lo ? slo : lo, z = shi < hi ? shi : hi;
        if (a < z) r = ncclReduce(grad + a, grad + a, z - a, ncclFloat, ncclSum, k, c->comm, c->stream);
    }
    return end_group(c, r, "gradient reduction");
}

extern "C" int dk_nccl_finish(dk_nccl *c) { return wait_for(c, true, "gradient reduction"); }

extern "C" int dk_nccl_allgather_shards(dk_nccl *c, float *block, size_t n)
{
    if (!c->comm) return wait_for(c, false, "weight exchange");
    after_compute(c);
    ncclResult_t r = ncclGroupStart();
    for (int k = 0; r == ncclSuccess && k < c->d->size; k++) {
        size_t lo, hi;
        dk_dist_shard(c->d, k, n, &lo, &hi);
        if (lo < hi) r = ncclBroadcast(block + lo, block + lo, hi - lo, ncclFloat, k, c->comm, c->stream);
    }
    if (end_group(c, r, "weight exchange")) return -1;
    return wait_for(c, true, "weight exchange");
}
