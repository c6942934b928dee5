/*
 * cli.h — the venom command line: shared state of one invocation and the
 * entry point of each subcommand (one cmd_*.c file per subcommand).
 * Only the CLI prints; everything under core/ other than cli/ returns errors.
 *
 * Exit codes (docs/cli.md): see the CLI_EXIT_* values.
 */
#ifndef VENOM_CLI_CLI_H
#define VENOM_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define CLI_EXIT_OK 0       /* success */
#define CLI_EXIT_FAILED 1   /* the skill / run failed */
#define CLI_EXIT_USAGE 2    /* usage, validation or configuration error */
#define CLI_EXIT_BUDGET 3   /* a limit stopped the run (steps, cost, time) */
#define CLI_EXIT_PLUGIN 4   /* a plugin could not be loaded (ABI, init, manifest) */
#define CLI_EXIT_PROVIDER 4 /* the model provider failed (after retries), or its set-up */
#define CLI_EXIT_SANDBOX 5  /* the sandbox a pack needs cannot be set up here */
#define CLI_EXIT_INTERNAL 70 /* internal error (EX_SOFTWARE) */
#define CLI_EXIT_INTERRUPTED 130 /* SIGINT / SIGTERM */

struct config;
struct registry;
struct vault_broker;

typedef struct cli {
    bool json;             /* --json: machine-readable output on stdout */
    bool tty;              /* stdout is a terminal (colour, progress) */
    FILE *out;             /* results (stdout) */
    FILE *err;             /* diagnostics and progress (stderr) */
    struct config *cfg;    /* loaded configuration (never NULL in commands) */
    struct registry *reg;  /* skill registry, created by cli_registry() on demand */
    bool pooled;           /* the registry keeps warm sandbox pools (venom run), from config sandbox.* */
    const char *argv0;
    struct vault_broker *broker; /* the host's broker (secrets, HTTP), set by main */
} cli;

/* Each subcommand: argv[0] is the subcommand's name; returns an exit code. */
int cmd_skill(cli *c, int argc, char **argv);
int cmd_doctor(cli *c, int argc, char **argv);
int cmd_help(cli *c, int argc, char **argv);
int cmd_mcp(cli *c, int argc, char **argv);
int cmd_pack(cli *c, int argc, char **argv);
int cmd_run(cli *c, int argc, char **argv);
/* `venom run -f PLAN` (cmd_run hands over when -f/--file is given). */
int cmd_run_plan(cli *c, int argc, char **argv);
int cmd_runs(cli *c, int argc, char **argv);
int cmd_trust(cli *c, int argc, char **argv);
/* `venom skill install|remove|verify` (argv[0] is the subcommand). */
int cmd_skill_install(cli *c, int argc, char **argv);
int cmd_secrets(cli *c, int argc, char **argv);
/* `venom router stats` and `venom feedback RUN good|bad` (cmd_router.c). */
int cmd_router(cli *c, int argc, char **argv);
int cmd_feedback(cli *c, int argc, char **argv);
/* `venom skill new` and `venom skill test` (argv[0] is "new" / "test"). */
int cmd_skill_new(cli *c, int argc, char **argv);
int cmd_skill_test(cli *c, int argc, char **argv);

/* The registry for this invocation (scanned on first use); NULL after printing
 * an error. */
struct registry *cli_registry(cli *c);

/* Print "venom: <msg>" to stderr (or a JSON error object with --json). */
void cli_error(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A whole-number option value from min to max into *out; -1 after printing
 * "CMD: OPT 'V': expected a whole number from MIN to MAX". */
int cli_uint_arg(cli *c, const char *cmd, const char *opt, const char *v, unsigned long min, unsigned long max,
                 unsigned long *out);
struct router_opts;
/* The routing options `venom run` and `venom run -f` share: opt is
 * --day-budget (an amount >= 0) or --route-seed (0 to 2^53 - 1); parsed
 * into *ro. 0, or -1 after printing the error. */
int cli_route_arg(cli *c, const char *opt, const char *v, struct router_opts *ro);

#endif
