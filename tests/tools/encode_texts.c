/* For the tokenizer tests: encodes and decodes each line of a JSON-lines
 * file of strings with dokja and prints {"ids": [...], "text": decoded} per
 * line, for tests/node/hf_compare.js to hold against HF tokenizers.
 *   encode_texts TOKENIZER.json TEXTS.jsonl [--add-special] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "dokja/tokenizer.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: encode_texts TOKENIZER.json TEXTS.jsonl [--add-special]\n");
        return 2;
    }
    bool add_special = argc > 3 && !strcmp(argv[3], "--add-special");
    dk_tokenizer *t;
    char *all;
    size_t len;
    if (dk_tokenizer_load(&t, argv[1]) || dk_read_file(argv[2], &all, &len)) {
        fprintf(stderr, "encode_texts: %s\n", dk_error());
        return 1;
    }
    int rc = 0, lineno = 0;
    for (char *line = all, *next; !rc && line < all + len; line = next) {
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : all + len;
        if (nl) *nl = '\0';
        lineno++;
        if (!*line) continue;
        cJSON *s = cJSON_Parse(line);
        int *ids = NULL, n = 0;
        if (!cJSON_IsString(s)) rc = dk_fail("%s:%d: not a JSON string", argv[2], lineno);
        /* A JSON string cannot hold every byte string: lengths come from the text itself. */
        else if (dk_tokenizer_encode(t, s->valuestring, strlen(s->valuestring), add_special, &ids, &n)) rc = -1;
        if (!rc) {
            char *text = dk_tokenizer_decode(t, ids, n, false);
            cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "ids");
            for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
            cJSON_AddStringToObject(out, "text", text ? text : "");
            char *p = cJSON_PrintUnformatted(out);
            puts(p);
            free(p);
            free(text);
            cJSON_Delete(out);
        }
        free(ids);
        cJSON_Delete(s);
    }
    if (rc) fprintf(stderr, "encode_texts: %s\n", dk_error());
    free(all);
    dk_tokenizer_free(t);
    return rc ? 1 : 0;
}
