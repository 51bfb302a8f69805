#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dokja/backend.h"
#include "dokja/error.h"

/* "--hidden-size" names the field "hidden_size". */
static bool flag_matches(const char *flag, const char *name, size_t len)
{
    if (strlen(name) != len) return false;
    for (size_t i = 0; i < len; i++)
        if (flag[i] != name[i] && !(flag[i] == '-' && name[i] == '_')) return false;
    return true;
}

static void print_flag(const char *name, const char *metavar, const char *help)
{
    char flag[96];
    snprintf(flag, sizeof flag, "--%s%s%s", name, metavar ? " " : "", metavar ? metavar : "");
    for (char *p = flag + 2; *p && *p != ' '; p++)
        if (*p == '_') *p = '-';
    printf("  %-30s %s\n", flag, help ? help : "");
}

static const char *metavar_of(dk_field_type t)
{
    switch (t) {
    case DK_FIELD_INT:
    case DK_FIELD_I64: return "N";
    case DK_FIELD_FLOAT:
    case DK_FIELD_DOUBLE: return "X";
    case DK_FIELD_BOOL: return "true|false";
    default: return "S";
    }
}

void dk_cli_help(const dk_cli *cli)
{
    printf("usage: %s\n\n%s\n", cli->usage, cli->summary);
    if (cli->opts && cli->opts[0].name) {
        printf("\noptions:\n");
        for (const dk_opt *o = cli->opts; o->name; o++) {
            char many[64];
            snprintf(many, sizeof many, "%s...", o->metavar ? o->metavar : "");
            print_flag(o->name, o->type == DK_FIELD_BOOL ? NULL : o->many ? many : o->metavar, o->help);
        }
    }
    print_flag("help", NULL, "show this help");
    for (int g = 0; g < cli->ngroups; g++) {
        printf("\n%s:\n", cli->groups[g].title);
        for (const dk_field *f = cli->groups[g].fields; f->name; f++) print_flag(f->name, metavar_of(f->type), f->help);
    }
}

static int usage_error(const dk_cli *cli, const char *fmt, const char *arg)
{
    fprintf(stderr, "dokja: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s (see --help)\n", cli->usage);
    return DK_EXIT_USAGE;
}

int dk_cli_parse(dk_cli *cli, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (strncmp(arg, "--", 2) || !arg[2]) {
            if (cli->npositional == (int)(sizeof cli->positional / sizeof *cli->positional))
                return usage_error(cli, "too many arguments at \"%s\"", arg);
            cli->positional[cli->npositional++] = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (flag_matches(name, "help", len)) {
            dk_cli_help(cli);
            return DK_EXIT_OK;
        }
        const dk_opt *opt = NULL;
        for (const dk_opt *o = cli->opts; o && o->name; o++)
            if (flag_matches(name, o->name, len)) opt = o;
        const dk_field *field = NULL;
        void *obj = NULL;
        for (int g = 0; !opt && g < cli->ngroups; g++)
            for (const dk_field *f = cli->groups[g].fields; f->name; f++)
                if (flag_matches(name, f->name, len)) {
                    field = f;
                    obj = cli->groups[g].obj;
                }
        if (!opt && !field) return usage_error(cli, "unknown option \"%s\"", arg);
        dk_field_type type = opt ? opt->type : field->type;
        const char *value = eq ? eq + 1 : NULL;
        if (!value && type == DK_FIELD_BOOL) {
            /* A bare boolean flag means true; "--flag false" is also accepted for fields. */
            value = field && i + 1 < argc && (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false")) ? argv[++i]
                                                                                                              : "true";
        }
        if (!value) {
            if (i + 1 >= argc) return usage_error(cli, "option \"%s\" needs a value", arg);
            value = argv[++i];
        }
        if (field) {
            if (cli->noverrides == (int)(sizeof cli->overrides / sizeof *cli->overrides))
                return usage_error(cli, "too many options at \"%s\"", arg);
            cli->overrides[cli->noverrides++] = (dk_override){field, obj, value};
            continue;
        }
        if (opt->many) {
            dk_strlist *l = opt->dst;
            for (;;) {
                char **grown = realloc(l->items, sizeof *grown * (size_t)(l->count + 1));
                if (!grown) return usage_error(cli, "out of memory at \"%s\"", arg);
                l->items = grown;
                l->items[l->count++] = (char *)value;
                if (eq || i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)) break;
                value = argv[++i];
            }
            continue;
        }
        dk_field tmp = {opt->name, opt->type, 0, NULL};
        if (dk_field_parse(&tmp, opt->dst, value)) {
            fprintf(stderr, "dokja: %s\n", dk_error());
            return DK_EXIT_USAGE;
        }
    }
    return -1;
}

void dk_strlist_free(dk_strlist *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

int dk_cli_apply(dk_cli *cli)
{
    for (int i = 0; i < cli->noverrides; i++)
        if (dk_field_parse(cli->overrides[i].field, cli->overrides[i].obj, cli->overrides[i].value)) {
            fprintf(stderr, "dokja: %s\nusage: %s (see --help)\n", dk_error(), cli->usage);
            return DK_EXIT_USAGE;
        }
    return -1;
}

int dk_cli_error(void)
{
    fprintf(stderr, "dokja: error: %s\n", dk_error());
    return DK_EXIT_ERROR;
}

const dk_backend *dk_device_opts_backend(const dk_device_opts *d) { return dk_backend_get(d->device, d->precision); }

void dk_device_opts_free(dk_device_opts *d)
{
    free(d->device);
    free(d->precision);
    d->device = d->precision = NULL;
}
