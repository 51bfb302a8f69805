/* Data-parallel training over MPI. A process started by mpirun or srun joins
 * the job's world; one started by hand is a world of one and never touches
 * MPI. Every collective is non-blocking and waited on with a deadline, so a
 * rank that dies or hangs stops the job with a message instead of a hang.
 *
 * ZeRO-1: the parameter block is cut into N contiguous shards; rank r keeps
 * AdamW moments for shard r only. Gradients are reduce-scattered (an
 * all-to-all of each bucket's pieces, then a sum in rank order 0..N-1, so the
 * reduction order is fixed), each rank updates its shard, and the updated
 * shards are all-gathered. */
#ifndef DK_DIST_H
#define DK_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;
    int local_rank;   /* among the ranks on this machine: which GPU to take */
    bool mpi;         /* MPI_Init was called */
    double timeout_s; /* longest wait on a collective */
} dk_dist;

/* Joins the MPI world when launched by an MPI launcher, else a world of one. */
int dk_dist_init(dk_dist *d, double timeout_s);
void dk_dist_finalize(dk_dist *d);
/* Prints the message (with this rank) and ends every rank of the job. */
#ifdef __cplusplus
[[noreturn]]
#else
_Noreturn
#endif
void dk_dist_abort(const dk_dist *d, const char *what);
/* The same from code that has no world at hand (a failed GPU call): the
 * whole job when MPI is running, else this process. */
#ifdef __cplusplus
[[noreturn]]
#else
_Noreturn
#endif
void dk_dist_fatal(const char *what);

/* The shard [lo, hi) of n floats that rank r owns. */
void dk_dist_shard(const dk_dist *d, int r, size_t n, size_t *lo, size_t *hi);

/* Rank 0's bytes to every rank (len equal on all ranks). */
int dk_dist_bcast(const dk_dist *d, void *buf, size_t len);
/* Every rank's `count` doubles gathered, in rank order, into all (size * count). */
int dk_dist_allgather_f64(const dk_dist *d, const double *mine, double *all, int count);
/* The mean over all ranks of per-rank means weighted by their counts (in
 * rank order); *share, when not NULL, is this rank's count over the total. */
int dk_dist_mean(const dk_dist *d, double mean, double count, double *global_mean, double *share);
/* The shards of block (n floats) gathered from their owners into every rank's block. */
int dk_dist_allgather_shards(const dk_dist *d, float *block, size_t n);
/* Every rank's shard `mine` of an n-float block gathered into rank 0's `full`. */
int dk_dist_gather_shard(const dk_dist *d, const float *mine, float *full, size_t n);

/* Bytes per second of a message of `bytes` sent back and forth between
 * ranks 0 and 1 (the others wait); 0 in a world of one. */
double dk_dist_pingpong(const dk_dist *d, size_t bytes);

/* Reduce-scatter of a gradient block in buckets, started as buckets finish. */
typedef struct dk_reducer dk_reducer;
int dk_reducer_create(dk_reducer **r, const dk_dist *d, size_t n);
void dk_reducer_free(dk_reducer *r);
/* Starts the reduction of grad[lo, hi) (grad must stay untouched there until
 * dk_reducer_finish). */
int dk_reducer_start(dk_reducer *r, const float *grad, size_t lo, size_t hi);
/* Lets started reductions progress while computation goes on. */
void dk_reducer_poll(dk_reducer *r);
/* Waits for every started bucket and writes this rank's shard of the summed
 * gradient into grad[lo, hi) of its own shard. */
int dk_reducer_finish(dk_reducer *r, float *grad);


/* The same exchanges between GPUs, over NCCL, on device memory: gradients
 * are summed into each range's owners as the backward pass finishes them,
 * and the updated shards are broadcast from their owners. Every wait has
 * the world's deadline. Built with the CUDA backend when NCCL is found. */
typedef struct dk_nccl dk_nccl;
/* Takes GPU `index` (the rank's local_rank) for this process: call it
 * before anything is allocated on the device. */
int dk_cuda_set_device(int index);
/* Joins the job's GPUs; the ranks own the shards of an n-float block (dk_dist_shard). */
int dk_nccl_create(dk_nccl **c, const dk_dist *d, size_t n);
void dk_nccl_free(dk_nccl *c);
/* Starts summing grad[lo, hi) (device memory) into the owners of its parts. */
int dk_nccl_reduce(dk_nccl *c, float *grad, size_t lo, size_t hi);
/* Waits for every started exchange. */
int dk_nccl_finish(dk_nccl *c);
/* Every rank's shard of block (n floats, device memory) broadcast from its owner, waited for. */
int dk_nccl_allgather_shards(dk_nccl *c, float *block, size_t n);

#endif
