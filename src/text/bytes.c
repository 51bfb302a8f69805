#include "dokja/bytes.h"

#include "text.h"

char *dk_bytes_tokenizer_json(void)
{
    char *bos[] = {"<|bos|>"};
    return dk_tokenizer_json_base(NULL, bos, 1);
}
