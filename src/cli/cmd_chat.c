/* dokja chat: a conversation in the terminal, or scripted (one user turn per
 * line of stdin when it is not a terminal). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "infer_cli.h"

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct {
    dk_chat_msg *msgs;
    int n, cap;
    char *system;
    bool think;
} history;

static void history_clear(history *h)
{
    for (int i = 0; i < h->n; i++) free(h->msgs[i].content);
    h->n = 0;
}

static int history_add(history *h, dk_role role, char *content)
{
    if (!content) return dk_fail("out of memory");
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        dk_chat_msg *m = realloc(h->msgs, sizeof *m * (size_t)cap);
        if (!m) {
            free(content);
            return dk_fail("out of memory");
        }
        h->msgs = m;
        h->cap = cap;
    }
    h->msgs[h->n++] = (dk_chat_msg){role, content};
    return 0;
}

/* The conversation as a prompt that leaves room for a reply: the oldest
 * exchanges are dropped (the system prompt stays) until it fits the context. */
static int render(const dk_lm *lm, history *h, int room, int **ids, int *n)
{
    int ctx = lm->model.cfg.max_position_embeddings;
    for (;;) {
        int sys = h->system ? 1 : 0, total = h->n + sys;
        dk_chat_msg *all = dk_malloc(sizeof *all * (size_t)total);
        if (!all) return -1;
        if (sys) all[0] = (dk_chat_msg){DK_ROLE_SYSTEM, h->system};
        memcpy(all + sys, h->msgs, sizeof *all * (size_t)h->n);
        int rc = dk_lm_chat_prompt(lm, all, total, h->think, ids, n);
        free(all);
        if (rc) return -1;
        if (*n + room <= ctx || h->n <= 1) {
            if (*n < ctx) return 0;
            free(*ids);
            return dk_fail("this message takes %d tokens with the conversation's start; the context is %d", *n, ctx);
        }
        /* drop the oldest user turn and the reply to it */
        free(*ids);
        int drop = h->n >= 2 && h->msgs[1].role == DK_ROLE_ASSISTANT ? 2 : 1;
        for (int i = 0; i < drop; i++) free(h->msgs[i].content);
        memmove(h->msgs, h->msgs + drop, sizeof *h->msgs * (size_t)(h->n - drop));
        h->n -= drop;
    }
}

/* One user turn: the reply streams to stdout and joins the history. */
static int reply(dk_lm *lm, history *h, const dk_gen_opts *g, dk_sampler *s, char *line, bool tty)
{
    if (history_add(h, DK_ROLE_USER, strdup(line))) return -1;
    int *ids, n, room = g->max_new < lm->model.cfg.max_position_embeddings / 2 ? g->max_new : lm->model.cfg.max_position_embeddings / 2;
    if (render(lm, h, room, &ids, &n)) {
        free(h->msgs[--h->n].content);
        return -1;
    }
    dk_printer pr;
    dk_printer_init(&pr, lm, g, false);
    pr.interrupted = &interrupted;
    pr.one_line = !tty;
    dk_gen gen = {.sampler = s, .max_new = g->max_new, .stop_ids = lm->stop_ids, .nstop_ids = 2, .fn = dk_printer_token, .user = &pr};
    interrupted = 0;
    int rc = dk_gen_run(&lm->model, &gen, ids, n);
    free(ids);
    if (rc >= 0) {
        dk_printer_finish(&pr);
        /* the reply as the model would see it again: reasoning in its tags */
        /* what was shown: valid UTF-8 (a character cut mid-way became U+FFFD, as HF decodes) */
        char *text = pr.reasoning ? dk_strdupf("<think>%s</think>%s", pr.reasoning, pr.text ? pr.text : "")
                                  : strdup(pr.text ? pr.text : "");
        rc = history_add(h, DK_ROLE_ASSISTANT, text);
    } else {
        free(h->msgs[--h->n].content); /* the turn that got no reply */
    }
    dk_printer_free(&pr);
    return rc < 0 ? -1 : 0;
}

/* /reset, /system TEXT, /think, /help; returns 1 when the line was a command. */
static int command(history *h, const char *line, bool tty)
{
    if (line[0] != '/') return 0;
    if (!strcmp(line, "/reset")) {
        history_clear(h);
        if (tty) printf("(conversation cleared)\n");
    } else if (!strncmp(line, "/system", 7) && (!line[7] || line[7] == ' ')) {
        free(h->system);
        h->system = line[7] && line[8] ? strdup(line + 8) : NULL;
        history_clear(h);
        if (tty) printf(h->system ? "(system prompt set; conversation cleared)\n" : "(system prompt removed)\n");
    } else if (!strcmp(line, "/think")) {
        h->think = !h->think;
        if (tty) printf("(thinking %s)\n", h->think ? "on" : "off");
    } else if (!strcmp(line, "/help")) {
        printf("/reset            forget the conversation\n/system TEXT      set the system prompt (and reset)\n"
               "/think            reasoning in <think> on or off\nCtrl-C            stop a reply\nCtrl-D            leave\n");
    } else {
        return 0;
    }
    return 1;
}

int cmd_chat(int argc, char **argv)
{
    char *model_dir = NULL, *system = NULL;
    bool think = false;
    dk_gen_opts g = {.sampling = {.temperature = 0.7, .top_p = 0.9, .min_p = 0.05, .repetition_penalty = 1.1}, .max_new = 512};
    const dk_opt opts[] = {
        {"model", DK_FIELD_STRING, &model_dir, "DIR", "model directory whose tokenizer has dokja's chat tokens"},
        {"system", DK_FIELD_STRING, &system, "TEXT", "system prompt"},
        {"think", DK_FIELD_BOOL, &think, NULL, "let the model reason in <think> before answering"},
        DK_GEN_OPTS(&g),
        {0},
    };
    const dk_opt_group groups[] = {
        {"sampling (defaults: temperature 0.7, top-p 0.9, min-p 0.05, repetition-penalty 1.1, seed 0)", dk_sampler_fields,
         &g.sampling}};
    dk_cli cli = {.usage = "dokja chat --model DIR [--system TEXT] [--think] [options]",
                  .summary = "Chats with a model. On a terminal replies stream as they come; /reset, /system TEXT, /think\n"
                             "and /help are commands, Ctrl-C stops a reply, Ctrl-D leaves. When stdin is not a terminal,\n"
                             "each line is a user turn and each reply is printed on one line (newlines in it as \\n,\n"
                             "backslashes as \\\\). When the conversation\n"
                             "outgrows the context, its oldest exchanges are dropped (docs/inference.md).",
                  .opts = opts,
                  .groups = groups,
                  .ngroups = 1};
    dk_lm lm = {0};
    dk_sampler s = {0};
    history h = {0};
    char *line = NULL;
    size_t cap = 0;
    int rc = dk_cli_parse(&cli, argc, argv);
    if (rc >= 0) goto done;
    rc = DK_EXIT_USAGE;
    if (!model_dir || cli.npositional) {
        fprintf(stderr, "dokja: chat needs --model DIR\nusage: %s (see --help)\n", cli.usage);
        goto done;
    }
    if ((rc = dk_gen_opts_check(&g, &cli)) >= 0) goto done;
    if (dk_lm_open(&lm, model_dir) || (!lm.chat && dk_fail("%s cannot chat: %s", model_dir, lm.chat_problem)) ||
        dk_gen_opts_use_device(&g, &lm.model) ||
        dk_sampler_init(&s, &g.sampling, lm.model.cfg.vocab_size)) {
        rc = dk_cli_error();
        goto done;
    }
    h.system = system ? strdup(system) : NULL;
    h.think = think;
    bool tty = isatty(STDIN_FILENO);
    /* no SA_RESTART: Ctrl-C at the prompt interrupts the read, and we ask again */
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    if (tty) printf("dokja chat with %s: /help for commands, Ctrl-D to leave\n", lm.name);
    rc = DK_EXIT_OK;
    for (;;) {
        if (tty) printf("> "), fflush(stdout);
        errno = 0;
        interrupted = 0;
        ssize_t len = getline(&line, &cap, stdin);
        if (len < 0) {
            if (errno == EINTR && tty) {
                clearerr(stdin);
                printf("\n");
                continue;
            }
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!len || command(&h, line, tty)) continue;
        if (reply(&lm, &h, &g, &s, line, tty)) {
            /* a turn that cannot be answered is reported; the conversation goes on */
            fprintf(stderr, "dokja: error: %s\n", dk_error());
            rc = DK_EXIT_ERROR;
        }
    }
    if (tty) printf("\n");
done:
    history_clear(&h);
    free(h.msgs);
    free(h.system);
    free(line);
    dk_sampler_free(&s);
    dk_lm_close(&lm);
    dk_gen_opts_free(&g);
    free(model_dir);
    free(system);
    return rc;
}
