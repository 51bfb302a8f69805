/* dokja <verb> [options]: one binary over libdokja. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *verb;
    int (*run)(int argc, char **argv);
    const char *summary;
} verbs[] = {
    {"tokenize", cmd_tokenize, "turn text files into token shards (byte-level vocabulary)"},
    {"train", cmd_train, "pretrain a Llama model on token shards (CPU)"},
    {"generate", cmd_generate, "continue a prompt with a trained model"},
    {"bench", cmd_bench, "measure the machine's sgemm peak and training throughput"},
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
