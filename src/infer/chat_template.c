#include <stdlib.h>
#include <string.h>

#include "dokja/chat.h"
#include "dokja/error.h"

const char *const dk_chat_template_jinja =
    "{{ '<|bos|>' }}{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + '<|end|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% if enable_thinking %}{{ '<think>' }}{% endif %}{% endif %}";

int dk_chat_tokens_find(const dk_tokenizer *t, dk_chat_tokens *ct)
{
    const char *names[] = {"<|bos|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<think>", "</think>"};
    int *slots[] = {&ct->bos, &ct->system, &ct->user, &ct->assistant, &ct->end, &ct->think, &ct->think_end};
    for (int i = 0; i < 7; i++)
        if ((*slots[i] = dk_tokenizer_token_id(t, names[i])) < 0)
            return dk_fail("the tokenizer has no %s token, so it cannot hold a chat; train one with dokja tokenizer train "
                           "(its default special tokens include the chat tokens)",
                           names[i]);
    return 0;
}

typedef struct {
    int *ids;
    bool *train;
    int n, cap;
} seq;

static int push(seq *s, int id, bool train)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 256;
        int *ids = realloc(s->ids, sizeof *ids * (size_t)cap);
        if (ids) s->ids = ids;
        bool *tr = ids ? realloc(s->train, sizeof *tr * (size_t)cap) : NULL;
        if (!ids || !tr) return dk_fail("out of memory rendering a conversation");
        s->train = tr;
        s->cap = cap;
    }
    s->ids[s->n] = id;
    s->train[s->n++] = train;
    return 0;
}

static int push_text(seq *s, const dk_tokenizer *t, const char *text, size_t len, bool train)
{
    int *ids, n, rc = 0;
    if (len == 0) return 0;
    if (dk_tokenizer_encode(t, text, len, false, &ids, &n)) return -1;
    for (int i = 0; !rc && i < n; i++) rc = push(s, ids[i], train);
    free(ids);
    return rc;
}

/* An assistant turn, without its <think>…</think> parts unless think. */
static int push_assistant(seq *s, const dk_tokenizer *t, const char *c, bool think)
{
    if (think) return push_text(s, t, c, strlen(c), true);
    for (;;) {
        const char *open = strstr(c, "<think>");
        const char *close = open ? strstr(open, "</think>") : NULL;
        if (!open || !close) return push_text(s, t, c, strlen(c), true);
        if (push_text(s, t, c, (size_t)(open - c), true)) return -1;
        c = close + strlen("</think>");
        while (*c == '\n' || *c == ' ') c++; /* the space that set the answer off the reasoning */
    }
}

int dk_chat_render(const dk_tokenizer *t, const dk_chat_tokens *ct, const dk_chat_msg *msgs, int n, bool add_prompt,
                   bool think, int **ids, bool **train, int *len)
{
    seq s = {0};
    int rc = push(&s, ct->bos, false);
    for (int i = 0; !rc && i < n; i++) {
        const dk_chat_msg *m = &msgs[i];
        bool learn = m->role == DK_ROLE_ASSISTANT;
        int header = m->role == DK_ROLE_SYSTEM ? ct->system : m->role == DK_ROLE_USER ? ct->user : ct->assistant;
        rc = push(&s, header, false);
        if (!rc) rc = learn ? push_assistant(&s, t, m->content, think) : push_text(&s, t, m->content, strlen(m->content), false);
        if (!rc) rc = push(&s, ct->end, learn);
    }
    if (!rc && add_prompt) rc = push(&s, ct->assistant, false);
    if (!rc && add_prompt && think) rc = push(&s, ct->think, false);
    if (rc) {
        free(s.ids);
        free(s.train);
        return -1;
    }
    *ids = s.ids;
    *len = s.n;
    if (train) *train = s.train;
    else free(s.train);
    return 0;
}
