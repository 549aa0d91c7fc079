#include "commands.h"
#include "util.h"
int bh_cmd_margin(int argc, char **argv) { (void)argc; (void)argv; return BH_EXIT_BADINPUT; }
