/* dokja arena: serve side-by-side votes and expert reviews; dokja arena
 * ratings: what the votes say. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/arena.h"
#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/peak.h"

/* "a,b,c" -> items pointing into a copy (*buf). */
static int split(const char *list, char **buf, char ***items, int *n)
{
    *n = 0;
    *items = NULL;
    if (!(*buf = strdup(list))) return -1;
    for (char *save = NULL, *t = strtok_r(*buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char **g = realloc(*items, sizeof *g * (size_t)(*n + 1));
        if (!g) return -1;
        *items = g;
        g[(*n)++] = t;
    }
    return 0;
}

static int ratings(const char *db, int bootstrap, int64_t seed, const char *json)
{
    dk_arena *a = NULL;
    cJSON *s = NULL;
    if (!dk_path_exists(db)) {
        dk_fail("%s: no such database", db);
        return dk_cli_error();
    }
    int bad = dk_arena_open(&a, db) || dk_arena_summary(a, bootstrap, (uint64_t)seed, &s) || (json && dk_json_write_file(json, s));
    if (!bad) dk_arena_print(stdout, s);
    cJSON_Delete(s);
    dk_arena_close(a);
    return bad ? dk_cli_error() : DK_EXIT_OK;
}

int cmd_arena(int argc, char **argv)
{
    char *models = NULL, *prompts = NULL, *db = NULL, *host = NULL, *rubric = NULL, *json = NULL;
    int port = 8090, max_new = 128, bootstrap = 1000, threads = 0;
    double temperature = 0.7;
    int64_t seed = 0;
    const dk_opt opts[] = {
        {"models", DK_FIELD_STRING, &models, "A,B,...", "model directories to compare (two or more)"},
        {"prompts", DK_FIELD_STRING, &prompts, "FILE", "prompts: one per line, or JSONL with \"prompt\""},
        {"db", DK_FIELD_STRING, &db, "FILE", "the SQLite database of votes and reviews (default arena.sqlite)"},
        {"host", DK_FIELD_STRING, &host, "ADDR", "address to listen on (default 127.0.0.1)"},
        {"port", DK_FIELD_INT, &port, "P", "port (default 8090; 0: any free one, printed)"},
        {"rubric", DK_FIELD_STRING, &rubric, "A,B,...", "the expert page's criteria (default accuracy,korean_fluency,cultural_fit,safety)"},
        {"max-new-tokens", DK_FIELD_INT, &max_new, "N", "longest answer (default 128)"},
        {"temperature", DK_FIELD_DOUBLE, &temperature, "T", "sampling temperature of the answers (default 0.7; 0 greedy)"},
        {"seed", DK_FIELD_I64, &seed, "S", "answers: sampling seed; ratings: bootstrap seed (default 0)"},
        {"bootstrap", DK_FIELD_INT, &bootstrap, "N", "ratings: resamples for the 95% intervals (default 1000)"},
        {"json", DK_FIELD_STRING, &json, "FILE", "ratings: also write them as JSON"},
        {"threads", DK_FIELD_INT, &threads, "N", "threads (default: all cores)"},
        {0},
    };
    dk_cli cli = {.usage = "dokja arena --models A_DIR,B_DIR[,...] --prompts FILE [--db arena.sqlite] [--port P]\n"
                           "       dokja arena ratings [--db arena.sqlite] [--bootstrap N] [--json FILE]",
                  .summary = "Serves a page (/) where raters see a prompt and two anonymous answers in random order and vote\n"
                             "(A, B, tie, both bad), and an expert page (/expert) that scores one answer on a rubric (1-5\n"
                             "each, with a comment). Answers are generated once and kept; votes and reviews live in SQLite\n"
                             "and survive restarts. \"ratings\" prints Bradley-Terry ratings with bootstrap intervals, the\n"
                             "win-rate matrix and the expert scores (docs/arena.md).",
                  .opts = opts};
    char *mbuf = NULL, **mlist = NULL, *rbuf = NULL, **rlist = NULL;
    int nm = 0, nr = 0;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    bool rate = cli.npositional == 1 && !strcmp(cli.positional[0], "ratings");
    if ((cli.npositional && !rate) || (!rate && (!models || !prompts)) || port < 0 || port > 65535 || max_new < 1 ||
        temperature < 0 || bootstrap < 0) {
        fprintf(stderr, "dokja: arena needs --models A,B and --prompts FILE, or \"ratings\" (0 <= --port <= 65535, "
                        "--max-new-tokens >= 1)\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    dk_set_threads(threads);
    if (rate) {
        rc = ratings(db ? db : "arena.sqlite", bootstrap, seed, json);
        goto done;
    }
    if (split(models, &mbuf, &mlist, &nm) || (rubric && split(rubric, &rbuf, &rlist, &nr))) {
        rc = dk_cli_error();
        goto done;
    }
    dk_arena_config c = {.db = db ? db : "arena.sqlite", .prompts = prompts, .host = host ? host : "127.0.0.1", .port = port,
                         .models = mlist, .nmodels = nm, .criteria = rubric ? rlist : dk_arena_default_criteria,
                         .ncriteria = rubric ? nr : dk_arena_default_ncriteria, .max_new_tokens = max_new,
                         .temperature = temperature, .seed = (uint64_t)seed};
    rc = dk_arena_serve(&c) ? dk_cli_error() : DK_EXIT_OK;
done:
    free(mbuf), free(mlist), free(rbuf), free(rlist);
    free(models), free(prompts), free(db), free(host), free(rubric), free(json);
    return rc;
}
