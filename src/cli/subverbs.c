/* Verbs with subverbs (dokja data prepare|chat, ...): one dispatcher, so the
 * listing and the errors read the same for each. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int dk_cli_subverb(const char *verb, const dk_subverb *subs, int n, int argc, char **argv)
{
    for (int i = 0; argc > 0 && i < n; i++)
        if (!strcmp(argv[0], subs[i].name)) return subs[i].run(argc - 1, argv + 1);
    bool help = argc > 0 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"));
    FILE *f = help ? stdout : stderr;
    if (argc > 0 && !help) fprintf(f, "dokja: unknown subverb \"%s %s\"\n", verb, argv[0]);
    fprintf(f, "usage: dokja %s <subverb> [options]   (dokja %s <subverb> --help)\n\nsubverbs:\n", verb, verb);
    for (int i = 0; i < n; i++) fprintf(f, "  %-10s %s\n", subs[i].name, subs[i].summary);
    return help ? DK_EXIT_OK : DK_EXIT_USAGE;
}
