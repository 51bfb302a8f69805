/* tokenizer.json (HF tokenizers' format) -> dk_tokenizer, and the file the
 * trainer writes. Everything that would make HF encode differently from
 * dokja is refused with the field that asks for it. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "dokja/error.h"
#include "dokja/io.h"
#include "dokja/json.h"
#include "text.h"

static const char *type_of(const cJSON *j)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static bool flag(const cJSON *j, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static int parse_normalizer(dk_tokenizer *t, const cJSON *j)
{
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = type_of(j);
    if (!strcmp(type, "Sequence")) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "normalizers"))
            if (parse_normalizer(t, item)) return -1;
        return 0;
    }
    static const struct {
        const char *name;
        int flags;
    } forms[] = {
        {"NFC", UTF8PROC_STABLE | UTF8PROC_COMPOSE},
        {"NFD", UTF8PROC_STABLE | UTF8PROC_DECOMPOSE},
        {"NFKC", UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT},
        {"NFKD", UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT},
    };
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++)
        if (!strcmp(type, forms[i].name)) {
            /* Two Unicode forms in a row are the stronger of them only for equal composition; keep it simple. */
            if (t->norm_flags && t->norm_flags != forms[i].flags)
                return dk_fail("%s: normalizer: a sequence of different Unicode forms is not supported", t->name);
            t->norm_flags = forms[i].flags;
            return 0;
        }
    return dk_fail("%s: normalizer: type \"%s\" is not supported (dokja reads NFC, NFD, NFKC, NFKD and sequences of them)",
                   t->name, type);
}

static int add_step(dk_tokenizer *t, dk_pre_step step)
{
    dk_pre_step *grown = realloc(t->pre, sizeof *grown * (size_t)(t->npre + 1));
    if (!grown) {
        if (step.re) pcre2_code_free(step.re);
        free(step.pattern);
        return dk_fail("out of memory");
    }
    t->pre = grown;
    t->pre[t->npre++] = step;
    return 0;
}

static int parse_pre(dk_tokenizer *t, const cJSON *j)
{
    if (!j || cJSON_IsNull(j)) return 0;
    const char *type = type_of(j);
    if (t->npre && t->pre[t->npre - 1].byte_level)
        return dk_fail("%s: pre_tokenizer: \"%s\" after ByteLevel is not supported (ByteLevel must come last)", t->name, type);
    if (!strcmp(type, "Sequence")) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "pretokenizers"))
            if (parse_pre(t, item)) return -1;
        return 0;
    }
    dk_pre_step step = {0};
    if (!strcmp(type, "ByteLevel")) {
        step.byte_level = true;
        step.add_prefix_space = flag(j, "add_prefix_space", true);
        step.behavior = DK_SPLIT_ISOLATED;
        if (flag(j, "use_regex", true) && dk_regex_compile(dk_gpt2_pattern, false, &step.re, t->name)) return -1;
        return add_step(t, step);
    }
    if (strcmp(type, "Split"))
        return dk_fail("%s: pre_tokenizer: type \"%s\" is not supported (dokja reads Split, ByteLevel and Sequence)", t->name,
                       type);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex"), *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(j, "behavior");
    static const char *behaviors[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    step.behavior = -1;
    for (int i = 0; i < 5; i++)
        if (cJSON_IsString(beh) && !strcmp(beh->valuestring, behaviors[i])) step.behavior = i;
    if (step.behavior < 0) return dk_fail("%s: pre_tokenizer: Split: field \"behavior\" is missing or unknown", t->name);
    if (!cJSON_IsString(re) && !cJSON_IsString(str))
        return dk_fail("%s: pre_tokenizer: Split: field \"pattern\" needs a \"Regex\" or \"String\"", t->name);
    step.invert = flag(j, "invert", false);
    const char *p = cJSON_IsString(re) ? re->valuestring : str->valuestring;
    if (!*p) return dk_fail("%s: pre_tokenizer: Split: an empty pattern is not supported", t->name);
    step.pattern = strdup(p);
    if (!step.pattern) return dk_fail("out of memory");
    if (dk_regex_compile(p, !cJSON_IsString(re), &step.re, t->name)) {
        free(step.pattern);
        return -1;
    }
    return add_step(t, step);
}

/* A vocabulary string -> the bytes it stands for: each character through the
 * inverse byte-to-unicode map, or the string's own bytes when a character is
 * not in the map (as HF's ByteLevel decoder does). */
static char *token_bytes_of(const char *s, size_t len, uint32_t *out_len)
{
    char *b = dk_malloc(len + 1);
    if (!b) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        int k = dk_utf8_get((const uint8_t *)s + i, len - i, &cp);
        int byte = k ? dk_char_to_byte(cp) : -1;
        if (byte < 0) {
            memcpy(b, s, len);
            n = len;
            break;
        }
        b[n++] = (char)byte;
        i += (size_t)k;
    }
    b[n] = '\0';
    *out_len = (uint32_t)n;
    return b;
}

static int set_token(dk_tokenizer *t, int id, const char *s)
{
    size_t len = strlen(s);
    free(t->str[id]);
    free(t->bytes[id]);
    t->str[id] = strdup(s);
    t->bytes[id] = token_bytes_of(s, len, &t->bytes_len[id]);
    return t->str[id] && t->bytes[id] ? 0 : dk_fail("out of memory");
}

static int id_of(const cJSON *v, int limit)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < limit && v->valuedouble == (int)v->valuedouble
               ? (int)v->valuedouble
               : -1;
}

static int vocab_id(const dk_tokenizer *t, const char *s, size_t len)
{
    const int64_t *v = dk_strmap_get(&t->by_str, s, len);
    return v ? (int)*v : -1;
}

static int parse_merges(dk_tokenizer *t, const cJSON *merges)
{
    if (!cJSON_IsArray(merges)) return dk_fail("%s: model: field \"merges\" must be an array", t->name);
    char buf[2048];
    int rank = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges)
    {
        const char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        if (cJSON_IsString(m)) {
            /* "a b": exactly one space, as HF requires */
            const char *sp = strchr(m->valuestring, ' ');
            if (sp && !strchr(sp + 1, ' ')) {
                a = m->valuestring, la = (size_t)(sp - a);
                b = sp + 1, lb = strlen(b);
            }
        } else if (cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring, la = strlen(a);
            b = cJSON_GetArrayItem(m, 1)->valuestring, lb = strlen(b);
        }
        if (!a || la + lb >= sizeof buf)
            return dk_fail("%s: model: merges[%d] is not a pair of tokens (\"a b\" or [\"a\", \"b\"])", t->name, rank);
        memcpy(buf, a, la);
        memcpy(buf + la, b, lb);
        int ia = vocab_id(t, a, la), ib = vocab_id(t, b, lb), ic = vocab_id(t, buf, la + lb);
        if (ia < 0 || ib < 0 || ic < 0)
            return dk_fail("%s: model: merges[%d] (\"%.*s\" + \"%.*s\") names a token missing from the vocab", t->name, rank,
                           (int)la, a, (int)lb, b);
        /* A pair listed twice keeps its later rank, as HF's map does. */
        uint64_t *v = dk_u64map_put(&t->merges, (uint64_t)ia << 32 | (uint32_t)ib, NULL);
        if (!v) return -1;
        *v = (uint64_t)rank << 32 | (uint32_t)ic;
        rank++;
    }
    t->nmerges = rank;
    /* Most lookups of the merge loop are the first ones, between two bytes: a table answers those. */
    t->byte_pairs = dk_malloc(sizeof *t->byte_pairs * 256 * 256);
    if (!t->byte_pairs) return -1;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            const uint64_t *v = t->byte_id[a] < 0 || t->byte_id[b] < 0 ? NULL
                                : dk_u64map_get(&t->merges, (uint64_t)t->byte_id[a] << 32 | (uint32_t)t->byte_id[b]);
            t->byte_pairs[a * 256 + b] = v ? *v : UINT64_MAX;
        }
    return 0;
}

static int parse_model(dk_tokenizer *t, const cJSON *model, const cJSON *added)
{
    if (strcmp(type_of(model), "BPE"))
        return dk_fail("%s: model: type \"%s\" is not supported (dokja reads byte-level BPE)", t->name, type_of(model));
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble > 0)
        return dk_fail("%s: model: \"dropout\" is not supported (encoding would be random)", t->name);
    const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, affixes[i]);
        if (cJSON_IsString(v) && *v->valuestring)
            return dk_fail("%s: model: \"%s\" is not supported in a byte-level BPE", t->name, affixes[i]);
    }
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *item;
    if (!cJSON_IsObject(vocab)) return dk_fail("%s: model: field \"vocab\" must be an object", t->name);
    /* Ids are dense in practice; the table is as long as the largest id. */
    int limit = 1 << 24;
    cJSON_ArrayForEach(item, vocab)
    {
        int id = id_of(item, limit);
        if (id < 0) return dk_fail("%s: model: vocab[\"%s\"] is not an id below 2^24", t->name, item->string);
        if (id >= t->nids) t->nids = id + 1;
    }
    cJSON_ArrayForEach(item, added)
    {
        int id = id_of(cJSON_GetObjectItemCaseSensitive(item, "id"), limit);
        if (id < 0) return dk_fail("%s: added_tokens: an entry lacks an id below 2^24", t->name);
        if (id >= t->nids) t->nids = id + 1;
    }
    if (!t->nids) return dk_fail("%s: model: the vocab is empty", t->name);
    t->str = dk_calloc((size_t)t->nids, sizeof *t->str);
    t->bytes = dk_calloc((size_t)t->nids, sizeof *t->bytes);
    t->bytes_len = dk_calloc((size_t)t->nids, sizeof *t->bytes_len);
    t->special = dk_calloc((size_t)t->nids, sizeof *t->special);
    if (!t->str || !t->bytes || !t->bytes_len || !t->special) return -1;
    cJSON_ArrayForEach(item, vocab)
    {
        int id = (int)item->valuedouble;
        int64_t *v = dk_strmap_put(&t->by_str, item->string, strlen(item->string), NULL);
        if (!v || set_token(t, id, item->string)) return -1;
        *v = id;
        int64_t *vb = dk_strmap_put(&t->by_bytes, t->bytes[id], t->bytes_len[id], NULL);
        if (!vb) return -1;
        *vb = id;
    }
    bool all_bytes = true;
    for (int b = 0; b < 256; b++) {
        char s[4];
        t->byte_id[b] = vocab_id(t, s, (size_t)dk_utf8_put(dk_byte_to_char(b), s));
        all_bytes &= t->byte_id[b] >= 0;
    }
    if (flag(model, "byte_fallback", false) && !all_bytes)
        return dk_fail("%s: model: \"byte_fallback\" with bytes missing from the vocab is not supported", t->name);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    t->unk_id = cJSON_IsString(unk) ? vocab_id(t, unk->valuestring, strlen(unk->valuestring)) : -1;
    if (cJSON_IsString(unk) && t->unk_id < 0)
        return dk_fail("%s: model: unk_token \"%s\" is not in the vocab", t->name, unk->valuestring);
    t->fuse_unk = flag(model, "fuse_unk", false);
    t->ignore_merges = flag(model, "ignore_merges", false);
    return parse_merges(t, cJSON_GetObjectItemCaseSensitive(model, "merges"));
}

static int parse_added(dk_tokenizer *t, const cJSON *added)
{
    int n = cJSON_GetArraySize(added), i = 0;
    t->added = dk_calloc((size_t)n, sizeof *t->added);
    if (!t->added) return -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, added)
    {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
        if (!cJSON_IsString(content) || !*content->valuestring)
            return dk_fail("%s: added_tokens[%d]: field \"content\" must be a non-empty string", t->name, i);
        const char *strips[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++)
            if (flag(item, strips[k], false))
                return dk_fail("%s: added_tokens[%d] (\"%s\"): \"%s\": true is not supported", t->name, i, content->valuestring,
                               strips[k]);
        dk_added_token *a = &t->added[t->nadded++];
        a->id = (int)cJSON_GetObjectItemCaseSensitive(item, "id")->valuedouble;
        a->special = flag(item, "special", false);
        a->normalized = flag(item, "normalized", !a->special) && t->norm_flags;
        a->len = strlen(content->valuestring);
        a->content = strdup(content->valuestring);
        if (!a->content) return dk_fail("out of memory");
        /* Tokens marked normalized are found in the normalized text, so they are normalized too. */
        char *norm;
        if (dk_normalize(a->normalized ? t->norm_flags : 0, a->content, a->len, &norm, &a->match_len)) return -1;
        a->match = norm == a->content ? strdup(norm) : norm;
        if (!a->match) return dk_fail("out of memory");
        t->added_first[a->normalized][(unsigned char)a->match[0]] = true;
        t->special[a->id] = a->special;
        int64_t *v = dk_strmap_put(&t->by_str, a->content, a->len, NULL);
        if (!v || set_token(t, a->id, a->content)) return -1;
        *v = a->id;
        i++;
    }
    return 0;
}

static int append_ids(dk_tokenizer *t, int **ids, int *n, const cJSON *list, bool prepend)
{
    int k = cJSON_GetArraySize(list);
    int *grown = realloc(*ids, sizeof *grown * (size_t)(*n + k + 1));
    if (!grown) return dk_fail("out of memory");
    *ids = grown;
    if (prepend) memmove(grown + k, grown, sizeof *grown * (size_t)*n);
    for (int i = 0; i < k; i++) {
        const cJSON *v = cJSON_GetArrayItem(list, i);
        int id = id_of(v, t->nids);
        if (id < 0) return dk_fail("%s: post_processor: a special token's id is outside the vocabulary", t->name);
        grown[(prepend ? 0 : *n) + i] = id;
    }
    *n += k;
    return 0;
}

/* The ids a post-processor puts around a single sequence. A later processor
 * of a Sequence wraps what the earlier ones made. */
static int parse_post(dk_tokenizer *t, const cJSON *j)
{
    if (!j || cJSON_IsNull(j) || !strcmp(type_of(j), "ByteLevel")) return 0;
    const char *type = type_of(j);
    if (!strcmp(type, "Sequence")) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "processors"))
            if (parse_post(t, item)) return -1;
        return 0;
    }
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        /* "cls": [token, id], "sep": [token, id] */
        cJSON *cls = cJSON_CreateArray(), *sep = cJSON_CreateArray();
        cJSON_AddItemToArray(cls, cJSON_Duplicate(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "cls"), 1), 1));
        cJSON_AddItemToArray(sep, cJSON_Duplicate(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "sep"), 1), 1));
        int rc = append_ids(t, &t->prefix, &t->nprefix, cls, true) || append_ids(t, &t->suffix, &t->nsuffix, sep, false);
        cJSON_Delete(cls);
        cJSON_Delete(sep);
        return rc ? -1 : 0;
    }
    if (strcmp(type, "TemplateProcessing"))
        return dk_fail("%s: post_processor: type \"%s\" is not supported (dokja reads TemplateProcessing, ByteLevel, "
                       "BertProcessing, RobertaProcessing and Sequence)",
                       t->name, type);
    const cJSON *specials = cJSON_GetObjectItemCaseSensitive(j, "special_tokens"), *item;
    bool before = true;
    int nprefix = 0, *prefix = NULL;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(j, "single"))
    {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "SpecialToken");
        if (!sp) {
            before = false; /* {"Sequence": {"id": "A"}} */
            continue;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        const cJSON *entry = cJSON_IsString(name) ? cJSON_GetObjectItemCaseSensitive(specials, name->valuestring) : NULL;
        if (!entry) {
            free(prefix);
            return dk_fail("%s: post_processor: a special token of \"single\" is not in \"special_tokens\"", t->name);
        }
        if (append_ids(t, before ? &prefix : &t->suffix, before ? &nprefix : &t->nsuffix,
                       cJSON_GetObjectItemCaseSensitive(entry, "ids"), false)) {
            free(prefix);
            return -1;
        }
    }
    /* This processor's prefix goes in front of the earlier ones'. */
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < nprefix; i++) cJSON_AddItemToArray(list, cJSON_CreateNumber(prefix[i]));
    free(prefix);
    int rc = append_ids(t, &t->prefix, &t->nprefix, list, true);
    cJSON_Delete(list);
    return rc;
}

static int parse(dk_tokenizer *t, const cJSON *j)
{
    const char *nulls[] = {"truncation", "padding"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, nulls[i]);
        if (v && !cJSON_IsNull(v))
            return dk_fail("%s: \"%s\" is set: not supported (dokja encodes whole texts; set it to null)", t->name, nulls[i]);
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
    if (added && !cJSON_IsArray(added)) return dk_fail("%s: field \"added_tokens\" must be an array", t->name);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!cJSON_IsObject(model)) return dk_fail("%s: field \"model\" is missing", t->name);
    if (parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(j, "normalizer")) ||
        parse_pre(t, cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer")) || parse_model(t, model, added) ||
        parse_added(t, added) || parse_post(t, cJSON_GetObjectItemCaseSensitive(j, "post_processor")))
        return -1;
    if (!t->npre || !t->pre[t->npre - 1].byte_level)
        return dk_fail("%s: pre_tokenizer: no ByteLevel step: only byte-level BPE tokenizers are supported", t->name);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(j, "decoder");
    if (strcmp(type_of(dec), "ByteLevel"))
        return dk_fail("%s: decoder: type \"%s\" is not supported (dokja decodes ByteLevel)", t->name, type_of(dec));
    return 0;
}

int dk_tokenizer_load_text(dk_tokenizer **out, const char *text, size_t len, const char *name)
{
    *out = NULL;
    dk_tokenizer *t = dk_calloc(1, sizeof *t);
    if (!t) return -1;
    t->name = strdup(name);
    dk_sha256_buf(text, len, t->sha256);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int rc;
    if (!j) {
        size_t line = 1;
        for (const char *p = text; end && p < end; p++) line += *p == '\n';
        rc = dk_fail("%s: line %zu: invalid JSON", name, line);
    } else if (!cJSON_IsObject(j)) rc = dk_fail("%s: not a tokenizer.json (expected a JSON object)", name);
    else rc = t->name ? parse(t, j) : dk_fail("out of memory");
    cJSON_Delete(j);
    if (rc) {
        dk_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int dk_tokenizer_load(dk_tokenizer **t, const char *path)
{
    char *text;
    size_t len;
    if (dk_read_file(path, &text, &len)) return -1;
    int rc = dk_tokenizer_load_text(t, text, len, path);
    free(text);
    return rc;
}

void dk_tokenizer_free(dk_tokenizer *t)
{
    if (!t) return;
    for (int i = 0; i < t->npre; i++) {
        pcre2_code_free(t->pre[i].re);
        free(t->pre[i].pattern);
    }
    free(t->pre);
    for (int i = 0; t->str && i < t->nids; i++) {
        free(t->str[i]);
        free(t->bytes[i]);
    }
    free(t->str);
    free(t->bytes);
    free(t->bytes_len);
    free(t->special);
    dk_strmap_free(&t->by_str);
    dk_strmap_free(&t->by_bytes);
    dk_u64map_free(&t->merges);
    free(t->byte_pairs);
    for (int i = 0; i < t->nadded; i++) {
        free(t->added[i].content);
        free(t->added[i].match);
    }
    free(t->added);
    free(t->prefix);
    free(t->suffix);
    free(t->name);
    free(t);
}

/* The vocabulary string of raw bytes: each byte as its GPT-2 character. */
static char *byte_string(const char *b, size_t len)
{
    char *s = dk_malloc(len * 2 + 1);
    if (!s) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += (size_t)dk_utf8_put(dk_byte_to_char((unsigned char)b[i]), s + n);
    s[n] = '\0';
    return s;
}

static cJSON *byte_level(void)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "ByteLevel");
    cJSON_AddBoolToObject(j, "add_prefix_space", 0);
    cJSON_AddBoolToObject(j, "trim_offsets", 0);
    cJSON_AddBoolToObject(j, "use_regex", 0);
    return j;
}

char *dk_tokenizer_json_write(const char *pattern, char *const *specials, int nspecials, char *const *raw,
                              const uint32_t *raw_len, int ntok, const int32_t (*merges)[2], int nmerges)
{
    char **str = dk_calloc((size_t)ntok, sizeof *str);
    cJSON *j = cJSON_CreateObject();
    char *text = NULL;
    if (!str || !j) goto done;
    cJSON_AddStringToObject(j, "version", "1.0");
    cJSON_AddNullToObject(j, "truncation");
    cJSON_AddNullToObject(j, "padding");
    cJSON *added = cJSON_AddArrayToObject(j, "added_tokens");
    for (int i = 0; i < nspecials; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 256 + i);
        cJSON_AddStringToObject(a, "content", specials[i]);
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", 0);
        cJSON_AddBoolToObject(a, "special", 1);
        cJSON_AddItemToArray(added, a);
    }
    /* With a pattern: NFC, the Split, then ByteLevel; without (the byte-level vocabulary), ByteLevel alone. */
    if (pattern) {
        cJSON *norm = cJSON_AddObjectToObject(j, "normalizer");
        cJSON_AddStringToObject(norm, "type", "NFC");
        cJSON *pre = cJSON_AddObjectToObject(j, "pre_tokenizer");
        cJSON_AddStringToObject(pre, "type", "Sequence");
        cJSON *steps = cJSON_AddArrayToObject(pre, "pretokenizers");
        cJSON *split = cJSON_CreateObject();
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(split, "pattern"), "Regex", pattern);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddBoolToObject(split, "invert", 0);
        cJSON_AddItemToArray(steps, split);
        cJSON_AddItemToArray(steps, byte_level());
    } else {
        cJSON_AddNullToObject(j, "normalizer");
        cJSON_AddItemToObject(j, "pre_tokenizer", byte_level());
    }
    cJSON_AddNullToObject(j, "post_processor");
    cJSON_AddItemToObject(j, "decoder", byte_level());
    cJSON *model = cJSON_AddObjectToObject(j, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", 0);
    cJSON_AddBoolToObject(model, "byte_fallback", 0);
    cJSON_AddBoolToObject(model, "ignore_merges", 0);
    /* Specials are in the model's vocab too, as HF's trainer writes them. */
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int id = 0; id < ntok; id++) {
        bool special = id >= 256 && id < 256 + nspecials;
        str[id] = special ? strdup(specials[id - 256]) : byte_string(raw[id], raw_len[id]);
        if (!str[id]) goto done;
        cJSON_AddNumberToObject(vocab, str[id], id);
    }
    cJSON *mlist = cJSON_AddArrayToObject(model, "merges");
    for (int k = 0; k < nmerges; k++) {
        char *pair = dk_strdupf("%s %s", str[merges[k][0]], str[merges[k][1]]);
        if (!pair) goto done;
        cJSON_AddItemToArray(mlist, cJSON_CreateString(pair));
        free(pair);
    }
    text = cJSON_Print(j);
done:
    for (int i = 0; str && i < ntok; i++) free(str[i]);
    free(str);
    cJSON_Delete(j);
    if (!text) dk_fail("out of memory writing tokenizer.json");
    return text;
}

char *dk_tokenizer_json_base(const char *pattern, char *const *specials, int nspecials)
{
    int ntok = 256 + nspecials;
    char bytes[256], **raw = dk_calloc((size_t)ntok, sizeof *raw);
    uint32_t *len = dk_calloc((size_t)ntok, sizeof *len);
    char *json = NULL;
    if (raw && len) {
        for (int b = 0; b < 256; b++) {
            bytes[b] = (char)b;
            raw[b] = &bytes[b];
            len[b] = 1;
        }
        json = dk_tokenizer_json_write(pattern, specials, nspecials, raw, len, ntok, NULL, 0);
    }
    free(raw);
    free(len);
    return json;
}
