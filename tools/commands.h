/* The sub-commands of `blockheap`. Each takes the arguments after its name (argv[0] is the
 * sub-command's name) and returns the process exit status (see util.h). */
#ifndef BH_TOOLS_COMMANDS_H
#define BH_TOOLS_COMMANDS_H

int bh_cmd_replay(int argc, char **argv);
int bh_cmd_margin(int argc, char **argv);
int bh_cmd_fragility(int argc, char **argv);
int bh_cmd_analyze(int argc, char **argv);
int bh_cmd_browse(int argc, char **argv);
int bh_cmd_qstr(int argc, char **argv);
int bh_cmd_report(int argc, char **argv);

#endif
