/* Human evaluation (dokja arena): raters compare two anonymous answers to a
 * prompt and vote, experts score single answers on a rubric; everything is
 * kept in SQLite. Ratings are Bradley-Terry maximum likelihood with
 * bootstrap intervals, as public chatbot arenas report. docs/arena.md. */
#ifndef DK_ARENA_H
#define DK_ARENA_H

#include <stdint.h>
#include <stdio.h>

#include "json.h"

/* ---- Bradley-Terry ---- */

/* Strengths theta (M, mean 0, natural log scale: P(i beats j) =
 * 1 / (1 + exp(theta_j - theta_i))) maximising the likelihood of
 * wins (M, M): wins[i*M + j] is how often i beat j, a tie counting half to
 * each. A weak Gaussian prior (DK_BT_PRIOR) keeps them finite when a model
 * never wins or never loses. Newton's method. */
#define DK_BT_PRIOR 0.01
int dk_bt_fit(int M, const double *wins, double *theta);

/* One comparison: model a against model b, score 1 (a won), 0 or 0.5. */
typedef struct {
    int a, b;
    double score;
} dk_battle;

/* Ratings on the Elo scale (1000 + 400 log10(e) theta) and the 2.5% and
 * 97.5% percentiles over `bootstrap` resamples of the battles (seeded);
 * lo and hi may be NULL when bootstrap is 0. */
int dk_bt_ratings(int M, const dk_battle *b, int n, int bootstrap, uint64_t seed, double *rating, double *lo, double *hi);

/* ---- The database ---- */

typedef struct dk_arena dk_arena;

/* Opens (creating when needed) the database: models, prompts, answers,
 * battles (what a rater was shown), votes and expert reviews. */
int dk_arena_open(dk_arena **a, const char *path);
void dk_arena_close(dk_arena *a);

/* Returns the id of a model (by its weights' sha256, renamed to `name`) or prompt, adding it when new. */
int dk_arena_add_model(dk_arena *a, const char *name, const char *dir, const char *sha256, int64_t *id);
int dk_arena_add_prompt(dk_arena *a, const char *text, int64_t *id);
/* A stored answer of a model to a prompt: 1 found, 0 none (text malloc'd). */
int dk_arena_get_answer(dk_arena *a, int64_t model, int64_t prompt, int64_t *id, char **text);
int dk_arena_put_answer(dk_arena *a, int64_t model, int64_t prompt, const char *text, const char *settings, int64_t *id);
/* Records what a rater is shown: two answers (answer_b 0 for an expert
 * review of one), under a new random token (32 hex characters). */
int dk_arena_new_battle(dk_arena *a, const char *rater, int64_t prompt, int64_t answer_a, int64_t answer_b, char token[33]);

/* The outcome of an input the rater could get wrong: 0 stored, 1 refused
 * (the message in dk_error()), -1 a failure of the database. */
/* vote: "a", "b", "tie" or "both_bad", once per battle. */
int dk_arena_vote(dk_arena *a, const char *token, const char *rater, const char *vote);
/* scores (n, each 1..5) for the rubric's criteria, once per review. */
int dk_arena_review(dk_arena *a, const char *token, const char *rater, char *const *criteria, const int *scores, int n,
                    const char *comment);

/* Votes and reviews so far, all and by one rater. */
int dk_arena_counts(dk_arena *a, const char *rater, int64_t *votes, int64_t *rater_votes, int64_t *reviews, int64_t *rater_reviews);
/* The two models of a voted battle and the vote (each malloc'd), for showing after the vote: 1 found, 0 not. */
int dk_arena_reveal(dk_arena *a, const char *token, char **model_a, char **model_b, char **vote);

/* Ratings with intervals, vote counts, the win-rate matrix and the expert
 * reviews per model and criterion (mean and 95% interval), as JSON. */
int dk_arena_summary(dk_arena *a, int bootstrap, uint64_t seed, cJSON **out);
/* The summary as tables. */
void dk_arena_print(FILE *f, const cJSON *summary);

/* ---- The server ---- */

typedef struct {
    const char *db, *prompts, *host;
    int port;                  /* 0: any free port */
    char *const *models;       /* model directories */
    int nmodels;
    char *const *criteria;     /* the rubric of the expert page */
    int ncriteria;
    int max_new_tokens;
    double temperature;
    uint64_t seed;
} dk_arena_config;

/* The default rubric: accuracy, fluency (Korean), cultural fit, safety. */
extern char *const dk_arena_default_criteria[];
extern const int dk_arena_default_ncriteria;

/* Serves the vote page (/) and the expert page (/expert) until SIGINT or
 * SIGTERM; prints the address on stdout once listening. */
int dk_arena_serve(const dk_arena_config *c);

#endif
