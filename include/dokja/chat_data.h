/* Chat data (DESIGN.md): JSONL lines {"messages":[{"role","content"},...]}
 * with roles system, user and assistant. */
#ifndef DK_CHAT_DATA_H
#define DK_CHAT_DATA_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { DK_ROLE_SYSTEM, DK_ROLE_USER, DK_ROLE_ASSISTANT } dk_role;

typedef struct {
    dk_role role;
    char *content;
} dk_chat_msg;

typedef struct {
    dk_chat_msg *msgs;
    int n;
} dk_chat;

/* Reads every conversation of a chat JSONL file. A malformed line (not JSON,
 * no "messages" array, an unknown role, a non-string content, no assistant
 * turn) is an error naming the file and line. */
int dk_chat_read(const char *path, dk_chat **chats, int64_t *n);
void dk_chats_free(dk_chat *chats, int64_t n);

/* Question/answer tables -> chat JSONL: each record of the inputs (csv, tsv,
 * jsonl, and .zst forms) becomes [system?] user: <question field>,
 * assistant: <answer field>. Inputs named as a test split (test.tsv,
 * x_test.csv, x-test.jsonl) are refused: benchmarks' test rows must never be
 * trained on. Returns the number of conversations written. */
int64_t dk_chat_convert(char *const *inputs, int ninputs, const char *question_field, const char *answer_field,
                        const char *system, const char *out_path);

/* Whether a file name names a test split. */
bool dk_is_test_split(const char *path);

#endif
