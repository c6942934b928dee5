/*
 * cmd_pack.c — `venom pack build|keygen|sign|verify` (docs/packs.md).
 */
#include "util/common.h"

#include <jansson.h>

#include "cli/cli.h"
#include "config/config.h"
#include "pack/pack.h"
#include "util/err.h"

static int usage(cli *c, const char *what, const char *arg, const char *use)
{
    cli_error(c, "pack %s: %s%s%s; usage: %s", what, arg ? "unexpected '" : "missing argument", arg ? arg : "",
              arg ? "'" : "", use);
    return CLI_EXIT_USAGE;
}

static int pack_fail(cli *c, int rc, char *err, const char *what)
{
    cli_error(c, "%s", err ? err : what);
    mem_free(err);
    return rc == -EINVAL || rc == -E2BIG || rc == -EEXIST || rc == -ENOENT || rc == -EPERM ? CLI_EXIT_FAILED
                                                                                           : CLI_EXIT_INTERNAL;
}

static void print_info(cli *c, const pack_info *pi)
{
    fprintf(c->out, "pack:      %s %s\n", pi->name, pi->version);
    fprintf(c->out, "files:     %zu (%" PRIu64 " bytes)\n", pi->n_files, pi->total_size);
    fprintf(c->out, "contents:  sha256:%s\n", pi->contents_sha256);
    if (pi->is_signed)
        fprintf(c->out, "signed:    yes, key %s (id %s)\n", pi->key, pi->key_id);
    else
        fprintf(c->out, "signed:    no (sign it with 'venom pack sign PACK --key FILE')\n");
}

static int pack_build_cmd(cli *c, int argc, char **argv)
{
    static const char *use = "venom pack build DIR [-o OUT]";
    const char *dir = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] == '-' || dir)
            return usage(c, "build", argv[i], use);
        else
            dir = argv[i];
    }
    if (!dir)
        return usage(c, "build", NULL, use);
    char *err = NULL, *path = NULL;
    int rc = pack_build(dir, out, &path, &err);
    if (rc < 0)
        return pack_fail(c, rc, err, "cannot build the pack");
    pack_info pi = {0};
    rc = pack_verify(path, &pi, &err);
    if (rc < 0) {
        mem_free(path);
        return pack_fail(c, rc, err, "the built pack does not verify");
    }
    fprintf(c->out, "built %s\n", path);
    print_info(c, &pi);
    pack_info_release(&pi);
    mem_free(path);
    return CLI_EXIT_OK;
}

static int pack_keygen_cmd(cli *c, int argc, char **argv)
{
    static const char *use = "venom pack keygen [--out FILE]";
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) && i + 1 < argc)
            out = argv[++i];
        else
            return usage(c, "keygen", argv[i], use);
    }
    char *def = out ? NULL : mem_printf("%s/keys/pack.key", c->cfg->home);
    if (!out && !def)
        return CLI_EXIT_INTERNAL;
    char *err = NULL, *pub = NULL, id[17];
    int rc = pack_keygen(out ? out : def, &pub, id, &err);
    if (rc < 0) {
        mem_free(def);
        return pack_fail(c, rc, err, "cannot make a key");
    }
    fprintf(c->out, "%s\n", pub);
    fprintf(c->err, "venom: key id %s; secret key written to %s (mode 0600: keep it private). Share the public "
                    "key above; sign with: venom pack sign PACK --key %s\n",
            id, out ? out : def, out ? out : def);
    mem_free(pub);
    mem_free(def);
    return CLI_EXIT_OK;
}

static int pack_sign_cmd(cli *c, int argc, char **argv)
{
    static const char *use = "venom pack sign PACK --key FILE";
    const char *pack = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--key") && i + 1 < argc)
            key = argv[++i];
        else if (argv[i][0] == '-' || pack)
            return usage(c, "sign", argv[i], use);
        else
            pack = argv[i];
    }
    if (!pack || !key) {
        cli_error(c, "pack sign: %s; usage: %s", pack ? "which key? give --key FILE (made by 'venom pack keygen')"
                                                      : "which pack?", use);
        return CLI_EXIT_USAGE;
    }
    char *err = NULL;
    pack_info pi = {0};
    int rc = pack_sign(pack, key, &pi, &err);
    if (rc < 0)
        return pack_fail(c, rc, err, "cannot sign the pack");
    fprintf(c->out, "signed %s\n", pack);
    print_info(c, &pi);
    pack_info_release(&pi);
    return CLI_EXIT_OK;
}

static int pack_verify_cmd(cli *c, int argc, char **argv)
{
    static const char *use = "venom pack verify PACK [--json]";
    const char *pack = NULL;
    bool json = c->json;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (argv[i][0] == '-' || pack)
            return usage(c, "verify", argv[i], use);
        else
            pack = argv[i];
    }
    if (!pack)
        return usage(c, "verify", NULL, use);
    char *err = NULL;
    pack_info pi = {0};
    int rc = pack_verify(pack, &pi, &err);
    if (json) {
        json_t *o = rc < 0 ? json_pack("{s:b, s:s}", "ok", 0, "error", err ? err : "invalid pack")
                           : json_pack("{s:b, s:s, s:s, s:b, s:o, s:o, s:I, s:I, s:s}", "ok", 1, "pack", pi.name,
                                       "version", pi.version, "signed", pi.is_signed, "key",
                                       pi.key ? json_string(pi.key) : json_null(), "key_id",
                                       pi.is_signed ? json_string(pi.key_id) : json_null(), "files",
                                       (json_int_t)pi.n_files, "bytes", (json_int_t)pi.total_size,
                                       "contents_sha256", pi.contents_sha256);
        if (o) {
            json_dumpf(o, c->out, JSON_COMPACT);
            fputc('\n', c->out);
        }
        json_decref(o);
        if (rc < 0)
            fprintf(c->err, "venom: %s\n", err ? err : "invalid pack");
    } else if (rc == 0) {
        fprintf(c->out, "%s: valid\n", pack);
        print_info(c, &pi);
    } else {
        cli_error(c, "invalid pack: %s", err ? err : "cannot verify");
    }
    pack_info_release(&pi);
    mem_free(err);
    if (rc < 0)
        return rc == -EINVAL || rc == -E2BIG || rc == -ENOENT ? CLI_EXIT_FAILED : CLI_EXIT_INTERNAL;
    return CLI_EXIT_OK;
}

int cmd_pack(cli *c, int argc, char **argv)
{
    if (argc < 2) {
        cli_error(c, "pack: which subcommand? build, keygen, sign or verify; run 'venom help pack'");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "build"))
        return pack_build_cmd(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "keygen"))
        return pack_keygen_cmd(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "sign"))
        return pack_sign_cmd(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "verify"))
        return pack_verify_cmd(c, argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        char *hv[] = {"help", "pack", NULL};
        return cmd_help(c, 2, hv);
    }
    cli_error(c, "pack: unknown subcommand '%s'; use build, keygen, sign or verify", argv[1]);
    return CLI_EXIT_USAGE;
}
