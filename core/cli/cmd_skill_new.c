/*
 * cmd_skill_new.c — `venom skill new NAME [--typed] [--dir DIR]`: scaffold a
 * skill project in DIR/NAME (docs/writing-skills.md). The templates are the
 * C strings below, "@NAME@" replaced by the pack name; nothing is read from
 * data files at run time. Every file is written to a temp dir beside the
 * project and renamed into place, so a failure leaves no half project.
 */
#include "util/common.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/err.h"

/* ------------------------------------------------------------ templates */

static const char TPL_SKILL_C[] =
    "/* skill.c — the @NAME@ skill pack: one skill, @NAME@.greet.\n"
    " * Made by `venom skill new @NAME@`; see README.md to build, test and pack it,\n"
    " * and docs/sdk.md of venom for everything the host offers. */\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "\n"
    "#include <venom/venom.h>\n"
    "\n"
    "static const venom_host_api *host; /* kept from init; valid while loaded */\n"
    "\n"
    "/* The manifest's schema guarantees args_json is {\"name\": \"<string>\"}, so a\n"
    " * scan for the value is enough here. The value stays JSON-escaped: it goes\n"
    " * straight back into a JSON string. */\n"
    "static int find_name(const char *args_json, const char **start, size_t *len)\n"
    "{\n"
    "    const char *p = strstr(args_json, \"\\\"name\\\"\");\n"
    "    if (!p)\n"
    "        return -1;\n"
    "    p += strlen(\"\\\"name\\\"\");\n"
    "    p += strspn(p, \" \\t\\r\\n:\");\n"
    "    if (*p != '\"')\n"
    "        return -1;\n"
    "    const char *q = ++p;\n"
    "    while (*q && *q != '\"')\n"
    "        q += (q[0] == '\\\\' && q[1]) ? 2 : 1;\n"
    "    if (*q != '\"')\n"
    "        return -1;\n"
    "    *start = p;\n"
    "    *len = (size_t)(q - p);\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "/* @NAME@.greet: {\"name\": \"Ada\"} -> {\"text\": \"Hello, Ada!\"} */\n"
    "static int32_t greet(venom_ctx *call, const char *args_json, void *data)\n"
    "{\n"
    "    (void)data;\n"
    "    const char *name;\n"
    "    size_t len;\n"
    "    if (find_name(args_json, &name, &len) < 0 || len > 4096) {\n"
    "        host->set_error(call, \"greet: expected {\\\"name\\\": \\\"...\\\"} of at most 4096 bytes\");\n"
    "        return VENOM_E_INVAL;\n"
    "    }\n"
    "    size_t size = len + sizeof \"{\\\"text\\\":\\\"Hello, !\\\"}\";\n"
    "    char *json = host->alloc(size);\n"
    "    if (!json)\n"
    "        return VENOM_E_NOMEM;\n"
    "    snprintf(json, size, \"{\\\"text\\\":\\\"Hello, %.*s!\\\"}\", (int)len, name);\n"
    "    int32_t rc = host->set_result(call, json, (size_t)-1); /* the host copies it */\n"
    "    host->free(json);\n"
    "    return rc;\n"
    "}\n"
    "\n"
    "static int32_t init(const venom_host_api *h, venom_ctx *ctx, void **state)\n"
    "{\n"
    "    host = h;\n"
    "    *state = NULL;\n"
    "    venom_skill_desc greet_desc = {\n"
    "        .struct_size = sizeof greet_desc,\n"
    "        .name = \"greet\",\n"
    "        .call = greet,\n"
    "    };\n"
    "    return h->register_skill(ctx, &greet_desc);\n"
    "}\n"
    "\n"
    "static const venom_plugin_info info = {\n"
    "    VENOM_PLUGIN_INFO_INIT,\n"
    "    .kinds = VENOM_KIND_SKILLS,\n"
    "    .name = \"@NAME@\",\n"
    "    .version = \"0.1.0\",\n"
    "    .init = init,\n"
    "};\n"
    "\n"
    "VENOM_EXPORT const venom_plugin_info *venom_plugin_entry(void)\n"
    "{\n"
    "    return &info;\n"
    "}\n";

static const char TPL_TYPED_C[] =
    "/* skill.c — the @NAME@ skill pack: one typed skill, @NAME@.add. It is a\n"
    " * plain C function: venom calls it through libffi as the \"function\" entry\n"
    " * of venom.json describes it (docs/typed-skills.md of venom). Made by\n"
    " * `venom skill new @NAME@ --typed`; see README.md to build, test and pack it. */\n"
    "#include <stdint.h>\n"
    "\n"
    "#include <venom/venom.h> /* VENOM_EXPORT: the symbol must be visible */\n"
    "\n"
    "/* @NAME@.add: {\"a\": 2, \"b\": 3} -> 5. Two int32 never overflow an int64. */\n"
    "VENOM_EXPORT int64_t add(int32_t a, int32_t b);\n"
    "\n"
    "int64_t add(int32_t a, int32_t b)\n"
    "{\n"
    "    return (int64_t)a + b;\n"
    "}\n";

static const char TPL_MANIFEST[] =
    "{\n"
    "  \"name\": \"@NAME@\",\n"
    "  \"version\": \"0.1.0\",\n"
    "  \"description\": \"Greets people by name\",\n"
    "  \"library\": \"lib/${triplet}/@NAME@.so\",\n"
    "  \"permissions\": {},\n"
    "  \"skills\": [\n"
    "    {\n"
    "      \"name\": \"greet\",\n"
    "      \"description\": \"Greet someone by name\",\n"
    "      \"args\": {\n"
    "        \"type\": \"object\",\n"
    "        \"properties\": {\n"
    "          \"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 256, \"description\": \"Who to greet\"}\n"
    "        },\n"
    "        \"required\": [\"name\"],\n"
    "        \"additionalProperties\": false\n"
    "      },\n"
    "      \"result\": {\n"
    "        \"type\": \"object\",\n"
    "        \"properties\": {\"text\": {\"type\": \"string\"}},\n"
    "        \"required\": [\"text\"],\n"
    "        \"additionalProperties\": false\n"
    "      },\n"
    "      \"examples\": [\n"
    "        {\"args\": {\"name\": \"Ada\"}, \"result\": {\"text\": \"Hello, Ada!\"}},\n"
    "        {\"args\": {\"name\": \"Grace Hopper\"}, \"result\": {\"text\": \"Hello, Grace Hopper!\"}}\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static const char TPL_TYPED_MANIFEST[] =
    "{\n"
    "  \"name\": \"@NAME@\",\n"
    "  \"version\": \"0.1.0\",\n"
    "  \"description\": \"Adds whole numbers\",\n"
    "  \"permissions\": {},\n"
    "  \"skills\": [\n"
    "    {\n"
    "      \"name\": \"add\",\n"
    "      \"description\": \"Add two whole numbers\",\n"
    "      \"function\": {\n"
    "        \"library\": \"lib/${triplet}/@NAME@.so\",\n"
    "        \"symbol\": \"add\",\n"
    "        \"params\": [\n"
    "          {\"name\": \"a\", \"type\": \"int32\", \"description\": \"The first number\"},\n"
    "          {\"name\": \"b\", \"type\": \"int32\", \"description\": \"The second number\"}\n"
    "        ],\n"
    "        \"returns\": \"int64\"\n"
    "      },\n"
    "      \"result\": {\"type\": \"integer\"},\n"
    "      \"examples\": [\n"
    "        {\"args\": {\"a\": 2, \"b\": 3}, \"result\": 5},\n"
    "        {\"args\": {\"a\": -7, \"b\": 7}, \"result\": 0}\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}\n";

static const char TPL_CMAKE[] =
    "# @NAME@: a venom skill pack (made by `venom skill new @NAME@`).\n"
    "#   cmake -S . -B build                  # -DCMAKE_PREFIX_PATH=<venom's prefix> if venom is elsewhere\n"
    "#   cmake --build build                  # the ready pack dir: build/pack/@NAME@/\n"
    "#   ctest --test-dir build               # venom skill test build/pack/@NAME@\n"
    "#   cmake --build build --target pack    # the archive: build/@NAME@-<version>.tar.gz\n"
    "cmake_minimum_required(VERSION 3.20)\n"
    "project(@NAME@ LANGUAGES C)\n"
    "\n"
    "find_package(venom REQUIRED)\n"
    "find_program(VENOM_EXECUTABLE venom REQUIRED) # searched in <prefix>/bin, then PATH\n"
    "\n"
    "# One .so per architecture, in lib/<Debian multiarch triplet>/: the\n"
    "# manifest's \"lib/${triplet}/@NAME@.so\" on a machine of that architecture.\n"
    "set(VENOM_TRIPLET \"${CMAKE_LIBRARY_ARCHITECTURE}\" CACHE STRING \"the target's multiarch triplet\")\n"
    "if(NOT VENOM_TRIPLET)\n"
    "  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch\n"
    "                  OUTPUT_VARIABLE VENOM_TRIPLET OUTPUT_STRIP_TRAILING_WHITESPACE)\n"
    "endif()\n"
    "if(NOT VENOM_TRIPLET)\n"
    "  message(FATAL_ERROR \"cannot tell the target's multiarch triplet; pass -DVENOM_TRIPLET=x86_64-linux-gnu (or yours)\")\n"
    "endif()\n"
    "set(PACK_DIR ${CMAKE_BINARY_DIR}/pack/@NAME@)\n"
    "\n"
    "@LIBRARY@\n"
    "set_target_properties(@NAME@ PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PACK_DIR}/lib/${VENOM_TRIPLET})\n"
    "\n"
    "# The manifest goes next to it, copied again whenever it changes.\n"
    "add_custom_command(OUTPUT ${PACK_DIR}/venom.json\n"
    "                   COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_CURRENT_SOURCE_DIR}/venom.json ${PACK_DIR}/venom.json\n"
    "                   DEPENDS venom.json)\n"
    "add_custom_target(@NAME@_manifest ALL DEPENDS ${PACK_DIR}/venom.json)\n"
    "\n"
    "# cmake --build build --target pack: venom pack build, ready to sign\n"
    "add_custom_target(pack\n"
    "                  COMMAND ${VENOM_EXECUTABLE} pack build ${PACK_DIR}\n"
    "                  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}\n"
    "                  DEPENDS @NAME@ @NAME@_manifest\n"
    "                  VERBATIM)\n"
    "\n"
    "# ctest: every example of venom.json, run in venom's sandbox\n"
    "enable_testing()\n"
    "add_test(NAME @NAME@_examples COMMAND ${VENOM_EXECUTABLE} skill test ${PACK_DIR})\n";

static const char TPL_README[] =
    "# @NAME@\n"
    "\n"
    "A venom skill pack, made by `venom skill new @NAME@`. @SRC_DESC@; its\n"
    "manifest is `venom.json` (name, version, permissions, the skill's\n"
    "schemas and examples).\n"
    "\n"
    "Build it (add `-DCMAKE_PREFIX_PATH=<venom's prefix>` when venom is not\n"
    "installed in /usr or /usr/local), then run the examples of `venom.json` in\n"
    "venom's sandbox:\n"
    "\n"
    "```sh\n"
    "cmake -S . -B build\n"
    "cmake --build build\n"
    "ctest --test-dir build --output-on-failure   # = venom skill test build/pack/@NAME@\n"
    "```\n"
    "\n"
    "`build/pack/@NAME@/` is the pack: `venom.json` and\n"
    "`lib/<triplet>/@NAME@.so` (one `.so` per architecture, named by Debian\n"
    "multiarch triplet). Pack, sign and install it:\n"
    "\n"
    "```sh\n"
    "cmake --build build --target pack            # = venom pack build build/pack/@NAME@\n"
    "venom pack keygen                            # once: prints your public key\n"
    "venom pack sign build/@NAME@-0.1.0.tar.gz --key ~/.venom/keys/pack.key\n"
    "venom trust add <the public key keygen printed>\n"
    "venom skill install build/@NAME@-0.1.0.tar.gz\n"
    "venom skill list\n"
    "@RUN@\n"
    "venom skill remove @NAME@                    # uninstall\n"
    "```\n"
    "\n"
    "Without CMake, the same `.so` in one line:\n"
    "\n"
    "```sh\n"
    "mkdir -p pack/@NAME@/lib/$(cc -print-multiarch) && cp venom.json pack/@NAME@/\n"
    "cc -shared -fPIC -o pack/@NAME@/lib/$(cc -print-multiarch)/@NAME@.so skill.c $(pkg-config --cflags --libs venom)\n"
    "venom skill test pack/@NAME@\n"
    "```\n";

static const char TPL_GITIGNORE[] =
    "build/\n"
    "pack/\n"
    "*.tar.gz\n";

static const char LIB_SDK[] =
    "# The plugin: hidden symbols except venom_plugin_entry, no undefined ones.\n"
    "venom_add_skill(@NAME@ skill.c)";

static const char LIB_TYPED[] =
    "# A plain shared object whose only exported symbol is the typed function.\n"
    "add_library(@NAME@ MODULE skill.c)\n"
    "set_target_properties(@NAME@ PROPERTIES PREFIX \"\" C_VISIBILITY_PRESET hidden)\n"
    "target_link_libraries(@NAME@ PRIVATE venom::sdk)\n"
    "target_link_options(@NAME@ PRIVATE -Wl,-z,defs)";

static const char DESC_SDK[] =
    "`skill.c` holds one skill, `@NAME@.greet`, written against venom's SDK (`<venom/venom.h>`)";
static const char DESC_TYPED[] =
    "`skill.c` holds one typed skill, `@NAME@.add`: a plain C function that venom calls through libffi";
static const char RUN_SDK[] = "venom run \"greet name=Ada\"                   # prints Hello, Ada!";
static const char RUN_TYPED[] = "venom run \"add a=2 b=3\"                      # prints 5";

/* ------------------------------------------------------------ writing */

/* tpl with each "@KEY@" of keys[i] replaced by vals[i]. mem_alloc'd. */
static char *fill(const char *tpl, const char *const *keys, const char *const *vals, size_t n)
{
    buf b = BUF_INIT;
    const char *p = tpl;
    while (*p) {
        const char *at = strchr(p, '@');
        size_t i = n;
        if (at)
            for (i = 0; i < n; i++)
                if (!strncmp(at, keys[i], strlen(keys[i])))
                    break;
        const char *stop = at && i < n ? at : at ? at + 1 : p + strlen(p);
        if (buf_append(&b, p, (size_t)(stop - p)) < 0)
            goto oom;
        p = stop;
        if (at && i < n) {
            if (buf_puts(&b, vals[i]) < 0)
                goto oom;
            p = at + strlen(keys[i]);
        }
    }
    if (b.len == 0 && buf_puts(&b, "") < 0)
        goto oom;
    return buf_detach(&b);
oom:
    buf_release(&b);
    return NULL;
}

static int write_file(const char *dir, const char *name, const char *text, char **err)
{
    char *path = mem_printf("%s/%s", dir, name);
    if (!path)
        return err_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    FILE *f = fopen(path, "wx");
    if (!f) {
        rc = err_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok)
        rc = err_set(err, -EIO, "cannot write %s: %s", path, strerror(errno));
out:
    mem_free(path);
    return rc;
}

/* A pack name: what the manifest accepts (manifest.c NAME_RULE). */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : -1;
}

/* An existing, non-empty directory (or a file) is refused. */
static int check_target(const char *path, char **err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set(err, -EEXIST, "%s exists and is not a directory; choose another name or --dir", path);
    if (rmdir(path) == 0)
        return 0; /* empty: it is made again below */
    return err_set(err, -EEXIST, "%s exists and is not empty; choose another name, another --dir, or remove it",
                   path);
}

int cmd_skill_new(cli *c, int argc, char **argv)
{
    static const char *use = "venom skill new NAME [--typed] [--dir DIR]";
    const char *name = NULL, *dir = ".";
    bool typed = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--typed")) {
            typed = true;
        } else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fprintf(c->out, "usage: %s\n", use);
            fprintf(c->out, "Scaffold a skill project in DIR/NAME (default ./NAME): CMakeLists.txt, skill.c, "
                            "venom.json, README.md, .gitignore; see docs/writing-skills.md.\n");
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' || name) {
            cli_error(c, "skill new: unexpected '%s'; usage: %s", argv[i], use);
            return CLI_EXIT_USAGE;
        } else {
            name = argv[i];
        }
    }
    if (!name) {
        cli_error(c, "skill new: which name? usage: %s", use);
        return CLI_EXIT_USAGE;
    }
    if (!name_ok(name)) {
        cli_error(c, "skill new: '%s' is not a valid pack name; use lowercase letters, digits, '-' and '_', "
                     "starting with a letter or digit, at most 64 characters (e.g. hello or my_tools)",
                  name);
        return CLI_EXIT_USAGE;
    }
    int ec = CLI_EXIT_FAILED, rc = 0;
    char *err = NULL, *target = NULL, *tmp = NULL;
    const char *keys[] = {"@NAME@", "@LIBRARY@", "@SRC_DESC@", "@RUN@"};
    const char *vals[] = {name, typed ? LIB_TYPED : LIB_SDK, typed ? DESC_TYPED : DESC_SDK,
                          typed ? RUN_TYPED : RUN_SDK};
    struct {
        const char *file, *tpl;
    } files[] = {
        {"CMakeLists.txt", TPL_CMAKE},
        {"skill.c", typed ? TPL_TYPED_C : TPL_SKILL_C},
        {"venom.json", typed ? TPL_TYPED_MANIFEST : TPL_MANIFEST},
        {"README.md", TPL_README},
        {".gitignore", TPL_GITIGNORE},
    };
    if (!(target = mem_printf("%s/%s", dir, name)) || !(tmp = mem_printf("%s/.%s.new.XXXXXX", dir, name))) {
        rc = err_set(&err, -ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = err_set(&err, -ENOENT, "%s: no such directory (--dir)", dir);
        goto out;
    }
    if ((rc = check_target(target, &err)) < 0)
        goto out;
    if (!mkdtemp(tmp)) {
        rc = err_set(&err, -errno, "cannot create a directory in %s: %s", dir, strerror(errno));
        mem_free(tmp);
        tmp = NULL;
        goto out;
    }
    for (size_t i = 0; i < ARRAY_SIZE(files) && rc == 0; i++) {
        /* the values hold @NAME@ too: fill twice */
        char *once = fill(files[i].tpl, keys + 1, vals + 1, ARRAY_SIZE(keys) - 1);
        char *text = once ? fill(once, keys, vals, 1) : NULL;
        rc = text ? write_file(tmp, files[i].file, text, &err) : err_set(&err, -ENOMEM, "out of memory");
        mem_free(once);
        mem_free(text);
    }
    if (rc < 0)
        goto out;
    if (chmod(tmp, 0755) != 0 || rename(tmp, target) != 0) {
        rc = err_set(&err, -errno, "cannot create %s: %s", target, strerror(errno));
        goto out;
    }
    mem_free(tmp);
    tmp = NULL;
    fprintf(c->out, "created %s/ (%s): CMakeLists.txt skill.c venom.json README.md .gitignore\n", target,
            typed ? "one typed skill" : "one SDK skill");
    fprintf(c->out, "next:\n"
                    "  cd %s\n"
                    "  cmake -S . -B build          # -DCMAKE_PREFIX_PATH=<venom's prefix> if venom is elsewhere\n"
                    "  cmake --build build\n"
                    "  ctest --test-dir build --output-on-failure\n"
                    "  cmake --build build --target pack\n"
                    "then sign and install it: see %s/README.md\n",
            target, target);
    ec = CLI_EXIT_OK;
out:
    if (rc < 0) {
        cli_error(c, "skill new: %s", err ? err : "failed");
        ec = rc == -ENOMEM ? CLI_EXIT_INTERNAL : CLI_EXIT_FAILED;
    }
    if (tmp)
        (void)nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    mem_free(tmp);
    mem_free(target);
    mem_free(err);
    return ec;
}
