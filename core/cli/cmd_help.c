/*
 * cmd_help.c — `venom help [COMMAND]`: the usage text of every command.
 */
#include "util/common.h"

#include "cli/cli.h"

typedef struct help_entry {
    const char *name;
    const char *summary;
    const char *usage;
} help_entry;

static const help_entry entries[] = {
    {"run", "reach a goal headless: the agent loop on the configured provider",
     "usage: venom run \"GOAL\" [--provider NAME] [--model ID] [--workdir DIR] [--skills LIST]\n"
     "                 [--system TEXT] [--max-steps N] [--max-cost X] [--timeout SECONDS] [--json] [-v]\n"
     "       venom run -f PLAN.yaml [--set KEY=VALUE]... [--parallel N] [--json] [-v]\n"
     "\n"
     "  -f PLAN            run a plan file: a validated DAG of skill and agent steps,\n"
     "                     ready steps in parallel (docs/plan.md); exit 2 when invalid\n"
     "  The skills become tools; the provider (config 'provider', default 'offline':\n"
     "  no network, matches the goal against the skills' manifests) decides which to\n"
     "  call; calls of one turn run in parallel, untrusted packs in the sandbox.\n"
     "  --provider NAME    a providers.NAME entry of config.yaml (docs/providers.md)\n"
     "  --model ID         the model, overriding the entry's\n"
     "  --workdir DIR      the directory skills are confined to (default: .)\n"
     "  --skills LIST      allowlist: fs, fs.read, fs.* (comma-separated)\n"
     "  --system TEXT      the system prompt\n"
     "  --max-steps N      at most N model turns (default 20)      exit 3 when reached\n"
     "  --max-cost X       stop before spending more than X        exit 3\n"
     "  --timeout SECONDS  stop after this long                    exit 3\n"
     "  --day-budget X     stop before today's spend passes X      exit 3\n"
     "  --route-seed N     the seed of the routing draw (a catalog in config models:)\n"
     "  --local-only       route to local models only\n"
     "  --json             every event as one JSON line (docs/events.md)\n"
     "  -v                 progress on stderr when piped\n"
     "\n"
     "Exit: 0 done, 1 failed, 2 usage or undecided, 3 limit, 4 provider error,\n"
     "5 sandbox unavailable, 130 interrupted. Every run is recorded: venom runs.\n"},
    {"router", "what the model router has learnt: calls, success, latency, spend",
     "usage: venom router stats [--json]\n"
     "\n"
     "  Per model of the catalog (config models:) and task kind: calls, success\n"
     "  rate, mean latency per model call, spend, posterior mean of success; and\n"
     "  today's spend against budget.day. docs/routing.md.\n"},
    {"feedback", "tell the router whether a run was good or bad",
     "usage: venom feedback RUN good|bad [--json]\n"
     "\n"
     "  Moves the success posteriors of the models the run used (good: up, bad:\n"
     "  down) and records the verdict; a changed verdict replaces the earlier one.\n"
     "RUN may be a unique prefix (4 characters or more).\n"},
    {"runs", "list and inspect recorded runs (the event log)",
     "usage: venom runs list [--limit N | --all] [--json]\n"
     "       venom runs show ID [--json]\n"
     "       venom runs log ID [--json]\n"
     "\n"
     "  list   the newest runs: id, status, start, steps, cost, goal\n"
     "  show   one run: status and reason, provider, tokens, cost, answer, chain check\n"
     "  log    its events; --json prints them as venom run --json did\n"
     "ID may be a unique prefix (4 characters or more).\n"},
    {"skill", "list, describe and run skills",
     "usage: venom skill list [--json]\n"
     "       venom skill info NAME [--json]\n"
     "       venom skill run NAME [key=value...] [--args-json '{...}'] [--workdir DIR] [--json]\n"
     "       venom skill install PACK|URL [--allow-unsigned] [--yes] [--project] [--json]\n"
     "       venom skill remove NAME [--project]\n"
     "       venom skill verify [NAME] [--project] [--json]\n"
     "       venom skill new NAME [--typed] [--dir DIR]\n"
     "       venom skill test DIR [--json] [--workdir DIR]\n"
     "\n"
     "  list     every installed skill (manifests only: no plugin is loaded)\n"
     "  info     a skill's description, pack, permissions, argument schema, examples\n"
     "           (info PACK: the pack's skills and agents, PACK.NAME for plans)\n"
     "  run      validate the arguments against the skill's schema and run it;\n"
     "           key=value values are typed by the schema (numbers, true/false,\n"
     "           JSON for arrays and objects); --args-json merges a JSON object\n"
     "  install  a pack archive (.tar.gz or .zip) from a file, file:// or http(s)://\n"
     "           into $VENOM_HOME/skills (--project: ./.venom/skills): verified,\n"
     "           signature checked against the trusted keys (venom trust), plugin\n"
     "           loaded once in the sandbox, permissions shown (asked on a TTY\n"
     "           unless --yes), swapped in atomically, recorded in venom.lock.\n"
     "           Unsigned or untrusted packs only with --allow-unsigned, and they\n"
     "           always run sandboxed\n"
     "  remove   an installed pack and its lock entry\n"
     "  verify   re-check installed packs' files against venom.lock\n"
     "  new      scaffold a skill project in ./NAME (CMake, skill.c, venom.json, a test)\n"
     "  test     load a pack dir (or the one pack below a build dir) in the sandbox,\n"
     "           check manifest against .so, run every example; exit 1 if one fails\n"
     "  --json   one JSON document on stdout instead of text\n"
     "\n"
     "Skill directories, first wins: ./.venom/skills, $VENOM_HOME/skills,\n"
     "skill_paths from config.yaml, then the system directory.\n"},
    {"trust", "the keys whose signed packs you trust",
     "usage: venom trust add KEY|FILE [--label TEXT]\n"
     "       venom trust list [--json]\n"
     "       venom trust remove KEY_ID\n"
     "\n"
     "  add     trust a public key (ed25519:<base64>, as 'venom pack keygen' prints\n"
     "          it, or a file holding it): packs it signs install without\n"
     "          --allow-unsigned and may run in-process when they ask to\n"
     "  list    the trusted keys, with their ids (also config trusted_keys)\n"
     "  remove  stop trusting a key: packs it signed run sandboxed from now on\n"
     "Kept in $VENOM_HOME/trusted-keys.json.\n"},
    {"mcp", "MCP servers as skills (NAME.tool), and venom's skills as an MCP server",
     "usage: venom mcp add NAME [--env K=V]... [--allow-path P[:rw]]... [--network] [--timeout S] -- CMD ARGS...\n"
     "       venom mcp list [--json]\n"
     "       venom mcp tools NAME [--json]\n"
     "       venom mcp refresh NAME\n"
     "       venom mcp remove NAME\n"
     "       venom mcp serve [--skills LIST] [--workdir DIR]\n"
     "\n"
     "  add      start the stdio server once in the sandbox, list its tools, register it\n"
     "           ($VENOM_HOME/mcp.json); its tools become skills NAME.tool\n"
     "  --env K=V          an environment variable of the server (else only PATH, HOME)\n"
     "  --allow-path P     a path the server may read (P:rw: read and write)\n"
     "  --network          let the server use the network (default: none)\n"
     "  --timeout S        seconds to wait for each answer (default 30)\n"
     "  list     the registered servers; tools: a server's cached tools\n"
     "  refresh  start the server again and update its cached tool list\n"
     "  serve    venom's skills as an MCP stdio server (tools/list, tools/call)\n"
     "\n"
     "See docs/mcp.md.\n"},
    {"doctor", "what this machine supports for sandboxing; library versions",
     "usage: venom doctor [--json]\n"
     "\n"
     "Reports the kernel, user namespaces, landlock ABI, seccomp, cgroups and\n"
     "the versions of the libraries venom uses, and which sandbox layers are\n"
     "available here.\n"},
    {"pack", "build, sign and verify skill pack archives",
     "usage: venom pack build DIR [-o OUT]\n"
     "       venom pack keygen [--out FILE]\n"
     "       venom pack sign PACK --key FILE\n"
     "       venom pack verify PACK [--json]\n"
     "\n"
     "  build   archive a pack directory (it must hold venom.json or venom.yaml)\n"
     "          as a deterministic .tar.gz with NAME/CONTENTS.json, the size and\n"
     "          SHA-256 of every file (default output: NAME-VERSION.tar.gz here)\n"
     "  keygen  a new Ed25519 key: the secret goes to FILE (default\n"
     "          $VENOM_HOME/keys/pack.key, mode 0600, never overwritten); the\n"
     "          public key ed25519:<base64> is printed\n"
     "  sign    add NAME/SIGNATURE.json, a signature over CONTENTS.json\n"
     "  verify  check the archive without extracting it: one top directory, every\n"
     "          file listed with its size and hash and nothing else, only regular\n"
     "          files and directories, safe paths, size caps, the signature\n"
     "\n"
     "Exit: 0 valid / done, 1 invalid pack (the reason names the entry), 2 usage.\n"
     "See docs/packs.md.\n"},
    {"secrets", "store the secrets skills may read (encrypted in venom.db)",
     "usage: venom secrets set NAME [--from-env VAR]\n"
     "       venom secrets list [--json]\n"
     "       venom secrets rm NAME\n"
     "\n"
     "  set   store NAME's value, sealed with the vault key: typed at a hidden\n"
     "        prompt on a terminal, else all of stdin (one trailing newline\n"
     "        dropped), or the value of environment variable VAR\n"
     "  list  names and dates (never values); --json {\"secrets\":[…]}\n"
     "  rm    remove NAME\n"
     "\n"
     "The key: VENOM_VAULT_KEY (base64 of 32 bytes) or $VENOM_HOME/vault.key\n"
     "(made by the first set, mode 0600). A skill reads only the secrets its\n"
     "manifest lists in permissions.secrets. Names: 1-128 of A-Z a-z 0-9 _ . -;\n"
     "values up to 64 KiB of text. See docs/secrets.md.\n"},
    {"help", "show help for a command", "usage: venom help [COMMAND]\n"},
};

int cmd_help(cli *c, int argc, char **argv)
{
    if (argc > 1) {
        for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
            if (!strcmp(argv[1], entries[i].name)) {
                fprintf(c->out, "venom %s — %s\n\n%s", entries[i].name, entries[i].summary, entries[i].usage);
                return CLI_EXIT_OK;
            }
        }
        cli_error(c, "no help for '%s': not a command; run 'venom help' for the list", argv[1]);
        return CLI_EXIT_USAGE;
    }
    fprintf(c->out,
            "venom %s — an agent runtime\n\n"
            "usage: venom [--log-level LEVEL] COMMAND [ARGS...]\n"
            "       venom --version\n\ncommands:\n",
            VENOM_VERSION);
    for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
        fprintf(c->out, "  %-8s %s\n", entries[i].name, entries[i].summary);
    fprintf(c->out, "\nRun 'venom help COMMAND' for a command's options. Exit codes: docs/cli.md.\n");
    return CLI_EXIT_OK;
}
