/* dokja <verb> [options]: one binary over libdokja. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *verb;
    int (*run)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"data", cmd_data, "prepare: clean, scrub and deduplicate raw corpora; chat: Q/A tables to chat JSONL"},
    {"tokenizer", cmd_tokenizer, "train a BPE vocabulary; encode, decode, inspect a tokenizer.json"},
    {"tokenize", cmd_tokenize, "turn a corpus into token shards with a tokenizer.json"},
    {"train", cmd_train, "pretrain a Llama model on token shards (CPU)"},
    {"sft", cmd_sft, "fine-tune a model to chat on conversations (loss on the assistant's tokens)"},
    {"generate", cmd_generate, "continue a prompt with a trained model"},
    {"chat", cmd_chat, "chat with a model in the terminal (or scripted from stdin)"},
    {"quantize", cmd_quantize, "write a copy of a model with int8 weights (q8)"},
    {"serve", cmd_serve, "an OpenAI-compatible HTTP server with a web chat page"},
    {"eval", cmd_eval, "score a model on benchmarks (tasks/*.json) or bits per byte of a text"},
    {"arena", cmd_arena, "side-by-side votes and expert reviews of models in a browser; their ratings"},
    {"report", cmd_report, "the report card of a run: training, data, benchmarks, arena, provenance, composite score"},
    {"speedrun", cmd_speedrun, "the whole pipeline, raw text to an evaluated chat model, in one command"},
    {"bench", cmd_bench, "measure the machine's sgemm peak and training throughput"},
    {"audit", cmd_audit, "verify a run's provenance ledger; test whether two models share weights"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: dokja <verb> [options]   (dokja <verb> --help for a verb's options)\n\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) fprintf(out, "  %-12s %s\n", verbs[i].verb, verbs[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DK_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return DK_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dokja %s\n", DK_VERSION);
        return DK_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(argv[1], verbs[i].verb)) return verbs[i].run(argc - 2, argv + 2);
    fprintf(stderr, "dokja: unknown verb \"%s\"\n", argv[1]);
    usage(stderr);
    return DK_EXIT_USAGE;
}
