#include "dokja/bytes.h"

#include <stdlib.h>
#include <string.h>

#include "dokja/io.h"
#include "dokja/json.h"

/* GPT-2's byte-to-unicode table: printable bytes stand for themselves, the
 * rest are moved to U+0100 onwards in byte order. */
static unsigned byte_to_codepoint(int b)
{
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return (unsigned)b;
    unsigned n = 0;
    for (int i = 0; i < b; i++)
        if (!((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF))) n++;
    return 256 + n;
}

static void utf8(unsigned cp, char out[4])
{
    memset(out, 0, 4);
    if (cp < 0x80) out[0] = (char)cp;
    else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
    }
}

char *dk_bytes_tokenizer_json(void)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
    cJSON *bos = cJSON_CreateObject();
    cJSON_AddNumberToObject(bos, "id", DK_BYTES_BOS);
    cJSON_AddStringToObject(bos, "content", "<|bos|>");
    cJSON_AddBoolToObject(bos, "single_word", 0);
    cJSON_AddBoolToObject(bos, "lstrip", 0);
    cJSON_AddBoolToObject(bos, "rstrip", 0);
    cJSON_AddBoolToObject(bos, "normalized", 0);
    cJSON_AddBoolToObject(bos, "special", 1);
    cJSON_AddItemToArray(added, bos);
    cJSON_AddNullToObject(j, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(j, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddBoolToObject(pre, "trim_offsets", 0);
    cJSON_AddBoolToObject(pre, "use_regex", 0);
    cJSON_AddNullToObject(j, "post_processor");
    cJSON_AddItemToObject(j, "decoder", cJSON_Duplicate(pre, 1));
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int b = 0; b < 256; b++) {
        char s[4];
        utf8(byte_to_codepoint(b), s);
        cJSON_AddNumberToObject(vocab, s, b);
    }
    cJSON_AddArrayToObject(model, "merges");
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

bool dk_bytes_tokenizer_is(const char *path)
{
    char *want = dk_bytes_tokenizer_json(), *got = NULL;
    size_t len;
    bool same = want && dk_read_file(path, &got, &len) == 0 && len == strlen(want) && !memcmp(got, want, len);
    free(want);
    free(got);
    return same;
}
