/*
 * cmd_secrets.c — `venom secrets set|list|rm` (docs/secrets.md): the vault
 * of core/security/vault.h. No command ever prints a value.
 */
#include "util/common.h"

#include <jansson.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/config.h"
#include "security/vault.h"
#include "util/err.h"

static const char use_set[] = "venom secrets set NAME [--from-env VAR]";
static const char use_list[] = "venom secrets list [--json]";
static const char use_rm[] = "venom secrets rm NAME";

static int usage(cli *c, const char *what, const char *arg, const char *use)
{
    cli_error(c, "secrets %s: %s%s%s; usage: %s", what, arg ? "unexpected '" : "missing argument", arg ? arg : "",
              arg ? "'" : "", use);
    return CLI_EXIT_USAGE;
}

static int fail(cli *c, int rc, char *err, const char *what)
{
    cli_error(c, "%s", err ? err : what);
    mem_free(err);
    switch (rc) {
    case -EINVAL:
    case -E2BIG: return CLI_EXIT_USAGE;
    case -ENOMEM: return CLI_EXIT_INTERNAL;
    default: return CLI_EXIT_FAILED;
    }
}

static int open_vault(cli *c, vault **v)
{
    char *err = NULL;
    int rc = vault_open(c->cfg->home, NULL, v, &err);
    if (rc < 0)
        return fail(c, rc, err, "cannot open the vault");
    return CLI_EXIT_OK;
}

/* The whole of stdin, at most cap + 1 bytes (so that "too long" shows);
 * every buffer that held part of it is wiped. NULL on a read error. */
static char *read_all(FILE *in, size_t cap, size_t *len)
{
    size_t n = 0, size = 4096;
    char *b = mem_alloc(size);
    while (b) {
        if (n == size) {
            if (size > cap)
                break;
            char *g = mem_alloc(size * 2);
            if (g)
                memcpy(g, b, n);
            sodium_memzero(b, size);
            mem_free(b);
            b = g;
            size *= 2;
            continue;
        }
        size_t got = fread(b + n, 1, size - n, in);
        n += got;
        if (got == 0) {
            if (ferror(in)) {
                sodium_memzero(b, size);
                mem_free(b);
                return NULL;
            }
            break;
        }
    }
    *len = n;
    return b;
}

/* One line from the terminal without echo; the prompt on stderr. */
static char *read_hidden(cli *c, const char *name, size_t cap, size_t *len)
{
    /* echo off before the prompt shows: what is typed after it is kept
     * (TCSAFLUSH drops only what was typed before) */
    struct termios old, quiet;
    bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fprintf(c->err, "value of secret %s (not shown): ", name);
    fflush(c->err);
    size_t size = cap + 2;
    char *b = mem_alloc(size);
    bool ok = b && fgets(b, (int)size, stdin);
    if (restore)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', c->err);
    if (!ok) {
        if (b)
            sodium_memzero(b, size);
        mem_free(b);
        return NULL;
    }
    *len = strlen(b);
    return b;
}

static int secrets_set(cli *c, int argc, char **argv)
{
    const char *name = NULL, *from_env = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--from-env") && i + 1 < argc)
            from_env = argv[++i];
        else if (!strncmp(argv[i], "--from-env=", 11))
            from_env = argv[i] + 11;
        else if (argv[i][0] == '-' || name)
            return usage(c, "set", argv[i], use_set);
        else
            name = argv[i];
    }
    if (!name)
        return usage(c, "set", NULL, use_set);
    char *err = NULL;
    int rc = vault_name_check(name, &err);
    if (rc < 0)
        return fail(c, rc, err, "bad name");
    char *value = NULL;
    size_t len = 0, cap = 0;
    if (from_env) {
        const char *v = *from_env ? getenv(from_env) : NULL;
        if (!v) {
            cli_error(c, "secrets set: the environment variable '%s' is not set", from_env);
            return CLI_EXIT_USAGE;
        }
        len = strlen(v);
        if (!(value = mem_strdup(v))) {
            cli_error(c, "out of memory");
            return CLI_EXIT_INTERNAL;
        }
        cap = len + 1;
    } else if (isatty(STDIN_FILENO)) {
        value = read_hidden(c, name, VAULT_VALUE_MAX, &len);
        cap = VAULT_VALUE_MAX + 2;
    } else {
        value = read_all(stdin, VAULT_VALUE_MAX, &len);
        cap = len;
    }
    if (!value) {
        cli_error(c, "secrets set: cannot read the value from standard input: %s", strerror(errno ? errno : EIO));
        return CLI_EXIT_FAILED;
    }
    if (!from_env) { /* one trailing newline is the end of the line, not the value */
        if (len && value[len - 1] == '\n')
            value[--len] = '\0';
        if (len && value[len - 1] == '\r')
            value[--len] = '\0';
    }
    vault *v = NULL;
    vault_set_info info;
    int xc = open_vault(c, &v);
    if (xc == CLI_EXIT_OK) {
        rc = vault_set(v, name, value, len, &info, &err);
        if (rc < 0) {
            xc = fail(c, rc, err, "cannot store the secret");
        } else {
            if (info.key_created)
                fprintf(c->err,
                        "venom: created the vault key %s (mode 0600); keep a copy: without it the secrets cannot "
                        "be read\n",
                        vault_key_source(v));
            fprintf(c->out, "%s secret %s\n", info.replaced ? "replaced" : "stored", name);
        }
    }
    sodium_memzero(value, cap > len ? cap : len);
    mem_free(value);
    vault_free(v);
    return xc;
}

static int secrets_list(cli *c, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else
            return usage(c, "list", argv[i], use_list);
    }
    vault *v = NULL;
    int xc = open_vault(c, &v);
    if (xc != CLI_EXIT_OK)
        return xc;
    vault_item *items = NULL;
    size_t n = 0;
    char *err = NULL;
    int rc = vault_list(v, &items, &n, &err);
    if (rc < 0) {
        xc = fail(c, rc, err, "cannot list the secrets");
        goto out;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", items[i].name, "created",
                                                 items[i].created, "updated", items[i].updated));
        json_t *doc = arr ? json_pack("{s:o}", "secrets", arr) : NULL;
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (!text) {
            cli_error(c, "out of memory");
            xc = CLI_EXIT_INTERNAL;
        } else {
            fprintf(c->out, "%s\n", text);
        }
        free(text);
        json_decref(doc);
    } else if (n == 0) {
        fprintf(c->err, "venom: no secrets yet; store one with: venom secrets set NAME\n");
    } else {
        int w = 4;
        for (size_t i = 0; i < n; i++)
            if ((int)strlen(items[i].name) > w)
                w = (int)strlen(items[i].name);
        fprintf(c->out, "%-*s  %-24s  %s\n", w, "NAME", "UPDATED", "CREATED");
        for (size_t i = 0; i < n; i++)
            fprintf(c->out, "%-*s  %-24s  %s\n", w, items[i].name, items[i].updated, items[i].created);
    }
out:
    vault_items_free(items, n);
    vault_free(v);
    return xc;
}

static int secrets_rm(cli *c, int argc, char **argv)
{
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' || name)
            return usage(c, "rm", argv[i], use_rm);
        name = argv[i];
    }
    if (!name)
        return usage(c, "rm", NULL, use_rm);
    vault *v = NULL;
    int xc = open_vault(c, &v);
    if (xc != CLI_EXIT_OK)
        return xc;
    char *err = NULL;
    int rc = vault_rm(v, name, &err);
    if (rc < 0)
        xc = fail(c, rc, err, "cannot remove the secret");
    else
        fprintf(c->out, "removed secret %s\n", name);
    vault_free(v);
    return xc;
}

int cmd_secrets(cli *c, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        char *hv[] = {"help", "secrets", NULL};
        int rc = cmd_help(c, 2, hv);
        return sub ? rc : CLI_EXIT_USAGE;
    }
    if (!strcmp(sub, "set"))
        return secrets_set(c, argc - 1, argv + 1);
    if (!strcmp(sub, "list") || !strcmp(sub, "ls"))
        return secrets_list(c, argc - 1, argv + 1);
    if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
        return secrets_rm(c, argc - 1, argv + 1);
    cli_error(c, "secrets: unknown subcommand '%s'; use set, list or rm (venom help secrets)", sub);
    return CLI_EXIT_USAGE;
}
