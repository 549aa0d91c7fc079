/* blockheap: one command, sub-commands in tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

/* Each sub-command adds its line here once it exists. */
static const struct command commands[] = {
    {"replay", bh_cmd_replay, "run an allocation trace on the real heap at one heap size"},
    {"margin", bh_cmd_margin, "smallest heap a trace needs, and the margin of safety of a heap size"},
    {"fragility", bh_cmd_fragility, "would small edits of the program make it fail at this heap size?"},
    {"qstr", bh_cmd_qstr, "turn micropython.qstr_info(1) output into a ROM qstr list"},
    {"browse", bh_cmd_browse, "write a self-contained HTML heap browser for dumps or a trace"},
    {"analyze", bh_cmd_analyze, "read micropython.mem_info(1) dumps and say what is wrong"},
    {"report", bh_cmd_report, "where the heap goes: what holds it at the peak, phases, steady or leaking"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fputs("usage: blockheap COMMAND [ARGS]\n\ncommands:\n", out);
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fputs("\n`blockheap COMMAND --help` describes each.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? BH_EXIT_BADINPUT : BH_EXIT_OK;
    }
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "blockheap: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return BH_EXIT_BADINPUT;
}
