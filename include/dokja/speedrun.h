/* The whole pipeline in one command: data prepare -> tokenizer train ->
 * tokenize -> pretrain -> chat data -> sft -> eval -> report, each stage run
 * as `dokja <verb>` in a child process. A stage is skipped when a stamp in
 * RUN/stages/ records the same key (a hash of its settings and of every
 * input it reads); an interrupted training stage resumes from its last
 * checkpoint. Model size and step counts come from the machine's measured
 * speed so that the run fits the time budget. docs/speedrun.md. */
#ifndef DK_SPEEDRUN_H
#define DK_SPEEDRUN_H

typedef struct {
    char *const *corpus; /* files or directories of raw text */
    int ncorpus;
    char *const *chat;   /* question/answer tables (csv) for fine-tuning */
    int nchat;
    const char *out;     /* the run directory */
    const char *size;    /* "tiny", "small" or "base" */
    double budget_minutes;
    const char *data_dir; /* benchmarks (../shared/data) */
    const char *self;     /* path of the dokja binary */
    int threads;
    long long pretrain_steps; /* 0: as many as the budget allows */
    const char *device;       /* NULL: the CPU; "cuda": pretraining and fine-tuning, and their sizing, on the GPU */
} dk_speedrun_job;

int dk_speedrun(const dk_speedrun_job *job);

#endif
