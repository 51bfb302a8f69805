#include "dokja/dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokja/error.h"
#include "dokja/progress.h"

/* Launchers announce themselves in the environment: Open MPI's mpirun,
 * PMI (MPICH, Slurm's srun) and PMIx. */
static bool launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

int dk_dist_init(dk_dist *d, double timeout_s)
{
    *d = (dk_dist){.rank = 0, .size = 1, .timeout_s = timeout_s};
    if (!launched_by_mpi()) return 0;
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return dk_fail("MPI_Init failed");
    d->mpi = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &d->local_rank);
        MPI_Comm_free(&local);
    }
    return 0;
}

void dk_dist_finalize(dk_dist *d)
{
    if (d->mpi) MPI_Finalize();
    d->mpi = false;
}

void dk_dist_abort(const dk_dist *d, const char *what)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "rank %d of %d: %s", d->rank, d->size, what);
    dk_dist_fatal(msg);
}

void dk_dist_fatal(const char *what)
{
    fprintf(stderr, "dokja: error: %s\n", what);
    fflush(stderr);
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    if (up && !down) MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

/* Waits for requests with the deadline; a peer that never answers ends the job. */
static int wait_all(const dk_dist *d, int n, MPI_Request *req, const char *what)
{
    double deadline = dk_now() + d->timeout_s;
    struct timespec nap = {0, 50000};
    for (;;) {
        int done = 0;
        if (MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE) != MPI_SUCCESS) return dk_fail("%s: MPI error", what);
        if (done) return 0;
        if (dk_now() > deadline) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "%s: no answer from the other ranks in %.0f s: a rank died or hangs; resume from the last "
                     "checkpoint with --resume",
                     what, d->timeout_s);
            dk_dist_abort(d, msg);
        }
        nanosleep(&nap, NULL);
    }
}

void dk_dist_shard(const dk_dist *d, int r, size_t n, size_t *lo, size_t *hi)
{
    /* Boundaries on multiples of 16 floats keep vector loops aligned. */
    size_t unit = 16, units = (n + unit - 1) / unit;
    *lo = units * (size_t)r / (size_t)d->size * unit;
    *hi = units * (size_t)(r + 1) / (size_t)d->size * unit;
    if (*lo > n) *lo = n;
    if (*hi > n) *hi = n;
}

int dk_dist_bcast(const dk_dist *d, void *buf, size_t len)
{
    if (d->size == 1) return 0;
    MPI_Request req;
    MPI_Ibcast(buf, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD, &req);
    return wait_all(d, 1, &req, "broadcast");
}

int dk_dist_allgather_f64(const dk_dist *d, const double *mine, double *all, int count)
{
    if (d->size == 1) {
        memcpy(all, mine, sizeof *all * (size_t)count);
        return 0;
    }
    MPI_Request req;
    MPI_Iallgather(mine, count, MPI_DOUBLE, all, count, MPI_DOUBLE, MPI_COMM_WORLD, &req);
    return wait_all(d, 1, &req, "all-gather");
}

int dk_dist_mean(const dk_dist *d, double mean, double count, double *global_mean, double *share)
{
    double mine[2] = {mean * count, count}, *all = dk_malloc(sizeof *all * 2 * (size_t)d->size);
    if (!all || dk_dist_allgather_f64(d, mine, all, 2)) {
        free(all);
        return -1;
    }
    double sum = 0, total = 0;
    for (int r = 0; r < d->size; r++) sum += all[2 * r], total += all[2 * r + 1];
    free(all);
    *global_mean = total > 0 ? sum / total : 0;
    if (share) *share = total > 0 ? count / total : 0;
    return 0;
}

/* Counts and displacements of every rank's shard. MPI counts are ints: a
 * shard must stay under 2^31 floats (8 GiB), far above a CPU rank's share. */
static int shard_layout(const dk_dist *d, size_t n, int *counts, int *displs)
{
    for (int r = 0; r < d->size; r++) {
        size_t lo, hi;
        dk_dist_shard(d, r, n, &lo, &hi);
        if (hi - lo > 0x7fffffff) return dk_fail("a shard of %zu floats is too large for MPI; use more ranks", hi - lo);
        counts[r] = (int)(hi - lo);
        displs[r] = (int)lo;
    }
    return 0;
}

int dk_dist_allgather_shards(const dk_dist *d, float *block, size_t n)
{
    if (d->size == 1) return 0;
    int *counts = dk_calloc((size_t)d->size * 2, sizeof(int));
    int rc = counts ? shard_layout(d, n, counts, counts + d->size) : -1;
    if (!rc) {
        MPI_Request req;
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, block, counts, counts + d->size, MPI_FLOAT, MPI_COMM_WORLD,
                        &req);
        rc = wait_all(d, 1, &req, "all-gather of weights");
    }
    free(counts);
    return rc;
}

int dk_dist_gather_shard(const dk_dist *d, const float *mine, float *full, size_t n)
{
    size_t lo, hi;
    dk_dist_shard(d, d->rank, n, &lo, &hi);
    if (d->size == 1) {
        memcpy(full, mine, sizeof(float) * n);
        return 0;
    }
    int *counts = dk_calloc((size_t)d->size * 2, sizeof(int));
    int rc = counts ? shard_layout(d, n, counts, counts + d->size) : -1;
    if (!rc) {
        MPI_Request req;
        MPI_Igatherv(mine, (int)(hi - lo), MPI_FLOAT, full, counts, counts + d->size, MPI_FLOAT, 0, MPI_COMM_WORLD, &req);
        rc = wait_all(d, 1, &req, "gather of optimizer state");
    }
    free(counts);
    return rc;
}

double dk_dist_pingpong(const dk_dist *d, size_t bytes)
{
    if (d->size < 2 || bytes > 0x7fffffff) return 0;
    char *buf = calloc(bytes, 1);
    if (!buf) return 0;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = dk_now();
        if (d->rank == 0) {
            MPI_Send(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (d->rank == 1) {
            MPI_Recv(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, (int)bytes, MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
        double bw = 2.0 * (double)bytes / (dk_now() - t0);
        if (bw > best) best = bw;
    }
    free(buf);
    return best;
}

/* One bucket in flight: every rank's piece of my shard lands in recv. */
typedef struct {
    size_t mine_lo, mine_hi; /* the part of the bucket inside my shard */
    float *recv;             /* (size, mine_hi - mine_lo) */
    int *sendcounts, *sdispls, *recvcounts, *rdispls;
    MPI_Request req;
} bucket;

struct dk_reducer {
    const dk_dist *d;
    size_t n, shard_lo, shard_hi;
    bucket *buckets;
    int nbuckets, cap;
};

int dk_reducer_create(dk_reducer **out, const dk_dist *d, size_t n)
{
    dk_reducer *r = dk_calloc(1, sizeof *r);
    if (!r) return -1;
    r->d = d;
    r->n = n;
    dk_dist_shard(d, d->rank, n, &r->shard_lo, &r->shard_hi);
    *out = r;
    return 0;
}

static void free_buckets(dk_reducer *r)
{
    for (int i = 0; i < r->nbuckets; i++) {
        free(r->buckets[i].recv);
        free(r->buckets[i].sendcounts);
    }
    r->nbuckets = 0;
}

void dk_reducer_free(dk_reducer *r)
{
    if (!r) return;
    free_buckets(r);
    free(r->buckets);
    free(r);
}

int dk_reducer_start(dk_reducer *r, const float *grad, size_t lo, size_t hi)
{
    const dk_dist *d = r->d;
    if (r->nbuckets == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        bucket *nb = realloc(r->buckets, sizeof *nb * (size_t)cap);
        if (!nb) return dk_fail("out of memory");
        r->buckets = nb;
        r->cap = cap;
    }
    bucket *b = &r->buckets[r->nbuckets];
    memset(b, 0, sizeof *b);
    b->mine_lo = lo > r->shard_lo ? lo : r->shard_lo;
    b->mine_hi = hi < r->shard_hi ? hi : r->shard_hi;
    if (b->mine_hi < b->mine_lo) b->mine_hi = b->mine_lo;
    size_t mine = b->mine_hi - b->mine_lo;
    b->recv = dk_malloc(sizeof(float) * (mine ? mine : 1) * (size_t)d->size);
    b->sendcounts = dk_calloc((size_t)d->size * 4, sizeof(int));
    if (!b->recv || !b->sendcounts) {
        free(b->recv);
        free(b->sendcounts);
        return -1;
    }
    r->nbuckets++;
    b->sdispls = b->sendcounts + d->size;
    b->recvcounts = b->sdispls + d->size;
    b->rdispls = b->recvcounts + d->size;
    /* I send each owner the part of [lo, hi) in its shard, and receive my
     * part from everyone; displacements are relative to `grad + lo`. */
    for (int j = 0; j < d->size; j++) {
        size_t slo, shi;
        dk_dist_shard(d, j, r->n, &slo, &shi);
        size_t a = lo > slo ? lo : slo, z = hi < shi ? hi : shi;
        b->sendcounts[j] = z > a ? (int)(z - a) : 0;
        b->sdispls[j] = z > a ? (int)(a - lo) : 0;
        b->recvcounts[j] = (int)mine;
        b->rdispls[j] = (int)(mine * (size_t)j);
    }
    MPI_Ialltoallv(grad + lo, b->sendcounts, b->sdispls, MPI_FLOAT, b->recv, b->recvcounts, b->rdispls, MPI_FLOAT,
                   MPI_COMM_WORLD, &b->req);
    return 0;
}

void dk_reducer_poll(dk_reducer *r)
{
    for (int i = 0; i < r->nbuckets; i++) {
        int done;
        MPI_Test(&r->buckets[i].req, &done, MPI_STATUS_IGNORE);
    }
}

int dk_reducer_finish(dk_reducer *r, float *grad)
{
    int rc = 0;
    for (int i = 0; !rc && i < r->nbuckets; i++) {
        bucket *b = &r->buckets[i];
        rc = wait_all(r->d, 1, &b->req, "gradient reduction");
        size_t mine = b->mine_hi - b->mine_lo;
        float *dst = grad + b->mine_lo;
        /* The fixed order: rank 0's gradient, then + rank 1's, ... */
        memcpy(dst, b->recv, sizeof(float) * mine);
        for (int j = 1; j < r->d->size; j++) {
            const float *src = b->recv + (size_t)j * mine;
            for (size_t k = 0; k < mine; k++) dst[k] += src[k];
        }
    }
    free_buckets(r);
    return rc;
}
