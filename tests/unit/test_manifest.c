#include "testsupport.h"
#include "util/common.h"
#include "plugin/manifest.h"

#include <time.h>
#include <unistd.h>

static const char *GOOD_JSON =
    "{\n"                                                                           /* 1 */
    "  \"name\": \"fs\",\n"                                                         /* 2 */
    "  \"version\": \"1.0.0\",\n"                                                   /* 3 */
    "  \"description\": \"Files in the workdir\",\n"                                /* 4 */
    "  \"license\": \"MIT\",\n"                                                     /* 5 */
    "  \"library\": \"./lib/fs.so\",\n"                                             /* 6 */
    "  \"isolation\": \"in-process\",\n"                                            /* 7 */
    "  \"permissions\": {\n"                                                        /* 8 */
    "    \"fs\": {\"read\": [\".\", \"/usr/share/dict\"], \"write\": [\"out\"]},\n" /* 9 */
    "    \"network\": {\"hosts\": [\"API.example.com\", \"*.example.org:8443\"]},\n" /* 10 */
    "    \"env\": [\"HOME\"], \"secrets\": [\"GITHUB_TOKEN\"], \"exec\": true\n"    /* 11 */
    "  },\n"                                                                        /* 12 */
    "  \"limits\": {\"time_ms\": 30000, \"memory_mb\": 256, \"processes\": 16, \"output_bytes\": 1048576},\n"
    "  \"skills\": [\n"                                                             /* 14 */
    "    {\"name\": \"read\", \"description\": \"Read a file\",\n"                  /* 15 */
    "     \"args\": {\"type\": \"object\", \"properties\": {\"path\": {\"type\": \"string\"}}},\n"
    "     \"result\": {\"type\": \"string\"},\n"                                    /* 17 */
    "     \"examples\": [{\"args\": {\"path\": \"a.txt\"}, \"result\": \"hi\", \"description\": \"one\"}]},\n"
    "    {\"name\": \"pow\", \"description\": \"x to the y\",\n"                    /* 19 */
    "     \"function\": {\"library\": \"libm.so.6\", \"symbol\": \"pow\",\n"        /* 20 */
    "       \"params\": [{\"name\": \"x\", \"type\": \"double\"}, {\"name\": \"y\", \"type\": \"double\"}],\n"
    "       \"returns\": \"double\"}}\n"                                            /* 22 */
    "  ],\n"                                                                        /* 23 */
    "  \"providers\": [{\"name\": \"echo\", \"description\": \"Echoes\"}]\n"        /* 24 */
    "}\n";

static const char *GOOD_YAML = "name: fs\n"
                               "version: 1.0.0\n"
                               "description: Files in the workdir\n"
                               "license: MIT\n"
                               "library: ./lib/fs.so\n"
                               "isolation: in-process\n"
                               "permissions:\n"
                               "  fs:\n"
                               "    read: [., /usr/share/dict]\n"
                               "    write: [out]\n"
                               "  network:\n"
                               "    hosts: [API.example.com, '*.example.org:8443']\n"
                               "  env: [HOME]\n"
                               "  secrets: [GITHUB_TOKEN]\n"
                               "  exec: true\n"
                               "limits: {time_ms: 30000, memory_mb: 256, processes: 16, output_bytes: 1048576}\n"
                               "skills:\n"
                               "  - name: read\n" /* 18 */
                               "    description: Read a file\n"
                               "    args:\n"
                               "      type: object\n"
                               "      properties:\n"
                               "        path: {type: string}\n"
                               "    result: {type: string}\n"
                               "    examples:\n"
                               "      - args: {path: a.txt}\n"
                               "        result: hi\n"
                               "        description: one\n"
                               "  - name: pow\n" /* 29 */
                               "    description: x to the y\n"
                               "    function:\n"
                               "      library: libm.so.6\n"
                               "      symbol: pow\n"
                               "      params:\n"
                               "        - {name: x, type: double}\n"
                               "        - {name: y, type: double}\n"
                               "      returns: double\n"
                               "providers:\n"
                               "  - name: echo\n"
                               "    description: Echoes\n";

static void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

static manifest *parse_ok(const char *text, const char *path)
{
    manifest *m = NULL;
    char *err = NULL;
    int rc = manifest_parse(text, strlen(text), path, &m, &err);
    if (rc != 0)
        fail_msg("manifest_parse(%s) = %d: %s", path, rc, err ? err : "(no message)");
    assert_non_null(m);
    return m;
}

/* Parse text that must fail; returns the message (caller frees). */
static char *parse_err(const char *text, const char *path, int want_rc)
{
    manifest *m = NULL;
    char *err = NULL;
    int rc = manifest_parse(text, strlen(text), path, &m, &err);
    if (rc != want_rc)
        fail_msg("manifest_parse(%s) = %d (want %d): %s", path, rc, want_rc, err ? err : "(no message)");
    assert_null(m);
    assert_non_null(err);
    assert_null(strchr(err, '\n'));
    return err;
}

static void check_good(const manifest *m, const char *path, int read_line, int pow_line)
{
    assert_string_equal(m->path, path);
    assert_string_equal(m->dir, "/packs/fs");
    assert_string_equal(m->name, "fs");
    assert_string_equal(m->version, "1.0.0");
    assert_string_equal(m->description, "Files in the workdir");
    assert_string_equal(m->license, "MIT");
    assert_string_equal(m->library, "/packs/fs/lib/fs.so");
    assert_int_equal(m->isolation, MANIFEST_ISO_INPROCESS);
    assert_int_equal(m->perms.fs_read.n, 2);
    assert_string_equal(m->perms.fs_read.v[0], ".");
    assert_string_equal(m->perms.fs_read.v[1], "/usr/share/dict");
    assert_int_equal(m->perms.fs_write.n, 1);
    assert_string_equal(m->perms.fs_write.v[0], "out");
    assert_int_equal(m->perms.network, MANIFEST_NET_HOSTS);
    assert_int_equal(m->perms.net_hosts.n, 2);
    assert_string_equal(m->perms.net_hosts.v[0], "api.example.com"); /* lowercased */
    assert_string_equal(m->perms.net_hosts.v[1], "*.example.org:8443");
    assert_int_equal(m->perms.env.n, 1);
    assert_string_equal(m->perms.env.v[0], "HOME");
    assert_string_equal(m->perms.secrets.v[0], "GITHUB_TOKEN");
    assert_true(m->perms.exec);
    assert_int_equal(m->limits.time_ms, 30000);
    assert_int_equal(m->limits.memory_mb, 256);
    assert_int_equal(m->limits.processes, 16);
    assert_int_equal(m->limits.output_bytes, 1048576);
    assert_int_equal(m->n_skills, 2);
    const manifest_skill *r = manifest_skill_find(m, "read");
    assert_ptr_equal(r, &m->skills[0]);
    assert_string_equal(r->description, "Read a file");
    assert_int_equal(r->line, read_line);
    assert_string_equal(json_string_value(json_object_get(r->args_schema, "type")), "object");
    assert_non_null(json_object_get(json_object_get(r->args_schema, "properties"), "path"));
    assert_string_equal(json_string_value(json_object_get(r->result_schema, "type")), "string");
    assert_int_equal(json_array_size(r->examples), 1);
    assert_null(r->function);
    const manifest_skill *p = manifest_skill_find(m, "pow");
    assert_non_null(p);
    assert_int_equal(p->line, pow_line);
    assert_string_equal(json_string_value(json_object_get(p->args_schema, "type")), "object"); /* default */
    assert_null(p->result_schema);
    assert_null(p->examples);
    assert_string_equal(json_string_value(json_object_get(p->function, "symbol")), "pow");
    assert_int_equal(json_array_size(json_object_get(p->function, "params")), 2);
    assert_null(manifest_skill_find(m, "nope"));
    assert_int_equal(m->n_providers, 1);
    assert_string_equal(m->providers[0].name, "echo");
    assert_string_equal(m->providers[0].description, "Echoes");
}

static void test_good_json_and_yaml_agree(void **state)
{
    (void)state;
    manifest *j = parse_ok(GOOD_JSON, "/packs/fs/venom.json");
    manifest *y = parse_ok(GOOD_YAML, "/packs/fs/venom.yaml");
    check_good(j, "/packs/fs/venom.json", 15, 19);
    check_good(y, "/packs/fs/venom.yaml", 18, 29);
    for (size_t i = 0; i < j->n_skills; i++) {
        assert_true(json_equal(j->skills[i].args_schema, y->skills[i].args_schema));
        assert_true(json_equal(j->skills[i].function, y->skills[i].function) ||
                    (!j->skills[i].function && !y->skills[i].function));
        assert_true(json_equal(j->skills[i].examples, y->skills[i].examples) ||
                    (!j->skills[i].examples && !y->skills[i].examples));
    }
    manifest_free(j);
    manifest_free(y);
}

static void test_minimal_defaults_and_relative_dir(void **state)
{
    (void)state;
    manifest *m = parse_ok("name: t\nversion: '0.1'\ndescription: d\nlibrary: t.so\n"
                           "skills:\n  - name: a\n    description: b\n",
                           "venom.yaml");
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_string_equal(m->dir, cwd);
    char *lib = mem_printf("%s/t.so", strcmp(cwd, "/") ? cwd : "");
    assert_string_equal(m->library, lib);
    mem_free(lib);
    assert_null(m->license);
    assert_int_equal(m->isolation, MANIFEST_ISO_SANDBOX);
    assert_int_equal(m->perms.network, MANIFEST_NET_NONE);
    assert_int_equal(m->perms.fs_read.n, 0);
    assert_false(m->perms.exec);
    assert_int_equal(m->limits.time_ms, 0);
    assert_int_equal(m->limits.output_bytes, 0);
    assert_int_equal(m->n_providers, 0);
    assert_string_equal(json_string_value(json_object_get(m->skills[0].args_schema, "type")), "object");
    assert_int_equal(json_object_size(m->skills[0].args_schema), 1);
    manifest_free(m);

    /* a typed-only pack needs no library; a provider-only pack needs no skills */
    m = parse_ok("{\"name\": \"m\", \"version\": \"1\", \"description\": \"math\", \"skills\": [{\"name\": \"cbrt\","
                 " \"description\": \"cube root\", \"function\": {\"library\": \"libm.so.6\", \"symbol\": \"cbrt\","
                 " \"params\": [{\"name\": \"x\", \"type\": \"double\"}], \"returns\": \"double\"}}]}",
                 "/p/m/venom.json");
    assert_null(m->library);
    manifest_free(m);
    m = parse_ok("name: openai\nversion: '1'\ndescription: p\nlibrary: openai.so\nproviders:\n  - name: openai\n",
                 "/p/openai/venom.yaml");
    assert_int_equal(m->n_skills, 0);
    assert_int_equal(m->n_providers, 1);
    assert_null(m->providers[0].description);
    manifest_free(m);
    m = parse_ok("{\"name\": \"n\", \"version\": \"1\", \"description\": \"d\", \"library\": \"n.so\","
                 " \"permissions\": {\"network\": \"full\"}, \"skills\": [{\"name\": \"a\", \"description\": \"b\"}]}",
                 "/p/n/venom.json");
    assert_int_equal(m->perms.network, MANIFEST_NET_FULL);
    manifest_free(m);
}

/* Replace the first occurrence of `from` in GOOD_JSON / GOOD_YAML. */
static char *patch(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    if (!at)
        fail_msg("patch: \"%s\" not in the base manifest", from);
    return mem_printf("%.*s%s%s", (int)(at - base), base, to, at + strlen(from));
}

typedef struct bad_case {
    const char *from, *to; /* patch of GOOD_JSON */
    const char *want;      /* substring of the message, with the line */
} bad_case;

static void test_json_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        /* unknown keys at several depths, with the line and the suggestion */
        {"\"license\": \"MIT\",", "\"licence\": \"MIT\",",
         "venom.json:5: unknown key 'licence' in the top level (allowed: name, version, description, license, "
         "library, isolation, permissions, limits, skills, providers, agents); did you mean 'license'?"},
        {"\"description\": \"Read a file\"", "\"descripton\": \"Read a file\"",
         "venom.json:15: unknown key 'descripton' in skills[0] (allowed: name, description, args, result, examples, "
         "function); did you mean 'description'?"},
        {"\"symbol\": \"pow\",", "\"symbol\": \"pow\", \"sym\": 1,",
         "venom.json:20: unknown key 'sym' in skills[1].function (allowed: library, symbol, params, returns)"},
        {"{\"name\": \"y\", \"type\": \"double\"}", "{\"name\": \"y\", \"typ\": \"double\"}",
         "venom.json:21: unknown key 'typ' in skills[1].function.params[1] (allowed: name, type, description); did you mean "
         "'type'?"},
        {"\"exec\": true", "\"exec\": true, \"zzzzzz\": 1",
         "venom.json:11: unknown key 'zzzzzz' in permissions (allowed: fs, network, env, secrets, exec); remove it"},
        {"\"write\": [\"out\"]", "\"writ\": [\"out\"]", "venom.json:9: unknown key 'writ' in permissions.fs"},
        {"\"exec\": true", "\"exec\": true, \"xy\": 1",
         "venom.json:11: unknown key 'xy' in permissions (allowed: fs, network, env, secrets, exec); remove it or "
         "fix its spelling"},
        {"\"time_ms\"", "\"time\"", "venom.json:13: unknown key 'time' in limits"},
        {"\"result\": \"hi\",", "\"reslt\": \"hi\",", "venom.json:18: unknown key 'reslt' in skills[0].examples[0]"},
        {"\"hosts\"", "\"host\"", "venom.json:10: unknown key 'host' in permissions.network"},
        {"{\"name\": \"echo\", \"description\"", "{\"name\": \"echo\", \"desc\"",
         "venom.json:24: unknown key 'desc' in providers[0]"},
        /* wrong types */
        {"\"version\": \"1.0.0\"", "\"version\": 1.0", "venom.json:3: 'version' must be a string, got a number"},
        {"\"exec\": true", "\"exec\": \"yes\"", "venom.json:11: 'permissions.exec' must be a boolean, got a string"},
        {"\"env\": [\"HOME\"]", "\"env\": \"HOME\"",
         "venom.json:11: 'permissions.env' must be an array of strings, got a string"},
        {"\"env\": [\"HOME\"]", "\"env\": [1]", "venom.json:11: 'permissions.env[0]' must be a string, got an integer"},
        {"[{\"name\": \"echo\", \"description\": \"Echoes\"}]", "{\"name\": \"echo\"}",
         "venom.json:24: 'providers' must be an array, got an object"},
        {"\"args\": {\"type\": \"object\",", "\"args\": {\"type\": \"array\",",
         "venom.json:16: 'skills[0].args' must be a schema with \"type\": \"object\""},
        {"\"args\": {\"type\": \"object\",", "\"args\": {",
         "venom.json:16: 'skills[0].args' must be a schema with \"type\": \"object\""},
        {"\"result\": {\"type\": \"string\"}", "\"result\": \"string\"",
         "venom.json:17: 'skills[0].result' must be a JSON Schema (an object or a boolean), got a string"},
        {"\"examples\": [{\"args\": {\"path\": \"a.txt\"},", "\"examples\": [{\"args\": [\"a.txt\"],",
         "venom.json:18: 'skills[0].examples[0].args' must be an object, got an array"},
        {"\"examples\": [{\"args\": {\"path\": \"a.txt\"},", "\"examples\": [{",
         "venom.json:18: missing required key 'args' in skills[0].examples[0]"},
        {"\"limits\": {\"time_ms\": 30000", "\"limits\": {\"time_ms\": 0",
         "venom.json:13: 'limits.time_ms' must be a whole number from 1 to 86400000, got 0"},
        {"\"memory_mb\": 256", "\"memory_mb\": 2.5",
         "venom.json:13: 'limits.memory_mb' must be a whole number from 1 to 65536, got a number"},
        {"\"processes\": 16", "\"processes\": 100000", "'limits.processes' must be a whole number from 1 to 4096"},
        {"\"isolation\": \"in-process\"", "\"isolation\": \"docker\"",
         "venom.json:7: 'isolation' must be \"sandbox\" or \"in-process\", got a string \"docker\""},
        {"\"network\": {\"hosts\": [\"API.example.com\", \"*.example.org:8443\"]}", "\"network\": \"some\"",
         "venom.json:10: 'permissions.network' must be \"none\", \"full\" or {\"hosts\": [...]}"},
        {"\"API.example.com\", \"*.example.org:8443\"", "", "venom.json:10: 'permissions.network.hosts' is empty"},
        {"\"API.example.com\"", "\"http://x.com/\"",
         "venom.json:10: 'permissions.network.hosts[0]' (\"http://x.com/\") is not a host name"},
        {"\"GITHUB_TOKEN\"", "\"bad token\"", "venom.json:11: 'permissions.secrets[0]' (\"bad token\") is not a secret"},
        {"\"env\": [\"HOME\"]", "\"env\": [\"1HOME\"]", "is not an environment variable name"},
        {"\"/usr/share/dict\"", "\"../etc\"", "venom.json:9: 'permissions.fs.read[1]' (\"../etc\") contains '..'"},
        /* missing required keys */
        {"\"version\": \"1.0.0\",\n", "", "venom.json:1: missing required key 'version' in the top level"},
        {"{\"name\": \"read\", ", "{", "venom.json:15: missing required key 'name' in skills[0]"},
        {"\"description\": \"x to the y\",", "", "venom.json:19: missing required key 'description' in skills[1]"},
        {"\"symbol\": \"pow\",", "", "venom.json:20: missing required key 'symbol' in skills[1].function"},
        {"],\n       \"returns\": \"double\"}}", "]}}",
         "venom.json:20: missing required key 'returns' in skills[1].function"},
        {"\"description\": \"Files in the workdir\"", "\"description\": \"\"",
         "venom.json:4: 'description' must not be empty"},
        /* bad names and duplicates */
        {"\"name\": \"fs\"", "\"name\": \"My Pack\"", "venom.json:2: pack name \"My Pack\" is not valid; use lowercase"},
        {"\"name\": \"read\"", "\"name\": \"-read\"", "venom.json:15: skill name \"-read\" is not valid"},
        {"\"name\": \"pow\"", "\"name\": \"read\"",
         "venom.json:19: duplicate skill name 'read' (first at line 15); give each skill its own name"},
        {"{\"name\": \"y\",", "{\"name\": \"x\",", "venom.json:21: duplicate parameter name 'x'"},
        {"{\"name\": \"x\",", "{\"name\": \"2x\",", "'skills[1].function.params[0].name' (\"2x\") is not an identifier"},
        {"\"symbol\": \"pow\"", "\"symbol\": \"pow()\"", "venom.json:20: 'skills[1].function.symbol' (\"pow()\") is not a C identifier"},
        {"\"name\": \"echo\"", "\"name\": \"Echo!\"", "venom.json:24: provider name \"Echo!\" is not valid"},
        /* typed functions */
        {"\"returns\": \"double\"", "\"returns\": \"long double\"",
         "venom.json:22: 'skills[1].function.returns' has unknown type 'long double'; use one of int8"},
        {"{\"name\": \"x\", \"type\": \"double\"}", "{\"name\": \"x\", \"type\": \"void\"}",
         "venom.json:21: 'skills[1].function.params[0].type' has unknown type 'void'"},
        {"\"params\": [", "\"params\": 7, \"x\": [", "unknown key 'x' in skills[1].function"},
        {"\"library\": \"libm.so.6\"", "\"library\": \"../../lib/libm.so.6\"",
         "venom.json:20: 'skills[1].function.library' (\"../../lib/libm.so.6\") must stay inside the pack dir"},
        /* the pack library */
        {"\"library\": \"./lib/fs.so\"", "\"library\": \"../other/fs.so\"",
         "venom.json:6: 'library' (\"../other/fs.so\") must be a path inside the pack dir"},
        {"\"library\": \"./lib/fs.so\"", "\"library\": \"/usr/lib/fs.so\"",
         "venom.json:6: 'library' (\"/usr/lib/fs.so\") must be a path inside the pack dir"},
        {"\"library\": \"./lib/fs.so\"", "\"library\": \"lib/./..\"", "must be a path inside the pack dir"},
        {"\"library\": \"./lib/fs.so\"", "\"library\": \"./\"", "venom.json:6: 'library' (\"./\") names the pack dir"},
        {"\"library\": \"./lib/fs.so\",\n", "",
         "venom.json:14: skill 'read' has no \"function\", so the pack needs a plugin: add \"library\": \"fs.so\""},
        /* duplicate JSON keys are caught by the reader */
        {"\"license\": \"MIT\",", "\"license\": \"MIT\", \"license\": \"GPL\",", "venom.json:5:21: duplicate key \"license\""},
        /* skills required */
        {"\"skills\": [", "\"skillz\": [", "venom.json:14: unknown key 'skillz' in the top level"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *text = patch(GOOD_JSON, cases[i].from, cases[i].to);
        char *err = parse_err(text, "venom.json", -EINVAL);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, cases[i].want, err);
        mem_free(err);
        mem_free(text);
    }
}

static void test_structural_errors(void **state)
{
    (void)state;
    char *err = parse_err("[1, 2]", "/p/venom.json", -EINVAL);
    assert_contains(err, "/p/venom.json:1: a manifest must be an object (a mapping) at the top level, got an array");
    mem_free(err);
    err = parse_err("", "/p/venom.yaml", -EINVAL);
    assert_contains(err, "/p/venom.yaml:1: a manifest must be an object (a mapping) at the top level, got null");
    mem_free(err);
    err = parse_err("name: a\nversion: '1'\ndescription: d\nlibrary: a.so\n", "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:1: missing required key 'skills' in the top level");
    mem_free(err);
    err = parse_err("name: a\nversion: '1'\ndescription: d\nlibrary: a.so\nskills: []\n", "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:5: 'skills' is empty");
    mem_free(err);
    err = parse_err("name: a\nversion: '1'\ndescription: d\nproviders: [{name: a}]\n", "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:4: the pack declares providers, so it needs a plugin");
    mem_free(err);
    err = parse_err("name: a\nversion: '1'\ndescription: d\nskills:\n  - name: s\n    description: d\n"
                    "    function: {symbol: f, returns: void}\n",
                    "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:5: skill 's' has a \"function\" without \"library\" and the pack has no");
    mem_free(err);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    char *text = patch(GOOD_YAML, "    description: x to the y\n", "    descripton: x to the y\n");
    char *err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:30: unknown key 'descripton' in skills[1]");
    assert_contains(err, "did you mean 'description'?");
    mem_free(err);
    mem_free(text);

    text = patch(GOOD_YAML, "        - {name: y, type: double}\n", "        - {name: y, type: complex}\n");
    err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:36: 'skills[1].function.params[1].type' has unknown type 'complex'");
    mem_free(err);
    mem_free(text);

    text = patch(GOOD_YAML, "license: MIT\n", "license: MIT\nname: again\n");
    err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:5:1: duplicate key 'name'");
    mem_free(err);
    mem_free(text);

    text = patch(GOOD_YAML, "  env: [HOME]\n", "  env: &e [HOME]\n  secrets2: *e\n");
    err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:13:8: anchors (&e) are not supported");
    mem_free(err);
    mem_free(text);

    text = patch(GOOD_YAML, "version: 1.0.0\n", "version: 1.0\n");
    err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:2: 'version' must be a string, got a number; write it in quotes");
    mem_free(err);
    mem_free(text);

    text = patch(GOOD_YAML, "  exec: true\n", "  exec: yes\n");
    err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:15: 'permissions.exec' must be a boolean, got a string");
    mem_free(err);
    mem_free(text);
}

/* "agents": {NAME: {role, skills, model, budget, kinds}} (docs/plan.md "Agents") */
static const char *AGENTS_YAML = "name: notes\n"
                                 "version: 1.0.0\n"
                                 "description: Notes\n"
                                 "skills:\n"
                                 "  - name: pow\n"
                                 "    description: x to the y\n"
                                 "    function: {library: libm.so.6, symbol: pow, returns: double}\n"
                                 "agents:\n"                                        /* 8 */
                                 "  counter:\n"                                     /* 9 */
                                 "    role: You count things.\n"                    /* 10 */
                                 "    skills: [text, fs.read]\n"                    /* 11 */
                                 "    kinds: [count]\n"                             /* 12 */
                                 "    model: local/m\n"                             /* 13 */
                                 "    budget: 0.25\n"                               /* 14 */
                                 "  helper: {role: Helps.}\n";                      /* 15 */

static void test_agents(void **state)
{
    (void)state;
    manifest *m = parse_ok(AGENTS_YAML, "/packs/notes/venom.yaml");
    assert_int_equal(m->n_agents, 2);
    assert_string_equal(m->agents[0].name, "counter");
    assert_int_equal(m->agents[0].line, 9);
    assert_int_equal(m->agents[0].skills_line, 11);
    json_t *want = json_pack("{s:s, s:[s, s], s:[s], s:s, s:f}", "role", "You count things.", "skills", "text",
                             "fs.read", "kinds", "count", "model", "local/m", "budget", 0.25);
    assert_true(json_equal(m->agents[0].def, want));
    json_decref(want);
    /* no skills: the agent's own pack */
    assert_string_equal(m->agents[1].name, "helper");
    assert_int_equal(m->agents[1].skills_line, 15);
    want = json_pack("{s:s, s:[s]}", "role", "Helps.", "skills", "notes");
    assert_true(json_equal(m->agents[1].def, want));
    json_decref(want);
    manifest_free(m);

    /* a pack without agents has none */
    m = parse_ok(GOOD_JSON, "/packs/fs/venom.json");
    assert_int_equal(m->n_agents, 0);
    assert_null(m->agents);
    manifest_free(m);

    static const bad_case cases[] = {
        {"  counter:\n", "  Counter.x:\n",
         "venom.yaml:9: agent name \"Counter.x\" is not valid; use lowercase letters, digits, '-' and '_'"},
        {"    role: You count things.\n", "    rol: You count things.\n",
         "venom.yaml:10: unknown key 'agents.counter.rol' (allowed: budget, kinds, model, role, skills); did you mean "
         "'role'?"},
        {"    skills: [text, fs.read]\n", "    skills: text\n",
         "venom.yaml:11: 'agents.counter.skills' must be a list of skills (\"pack\", \"pack.skill\" or \"pack.*\")"},
        {"    skills: [text, fs.read]\n", "    skills: [text, \"\"]\n", "venom.yaml:11: 'agents.counter.skills' must be"},
        {"    kinds: [count]\n", "    kinds: [1]\n",
         "venom.yaml:12: 'agents.counter.kinds' must be a list of task kinds"},
        {"    budget: 0.25\n", "    budget: -1\n",
         "venom.yaml:14: 'agents.counter.budget' must be a number >= 0 (money per step; 0 = no limit)"},
        {"    model: local/m\n", "    model: 3\n", "venom.yaml:13: 'agents.counter.model' must be a string"},
        {"  helper: {role: Helps.}\n", "  helper: Helps.\n",
         "venom.yaml:15: 'agents.helper' must be a mapping (role, skills, model, budget)"},
    };
    /* agents: a list instead of a mapping */
    const char *tail = strstr(AGENTS_YAML, "agents:\n");
    char *text = mem_printf("%.*sagents: [counter]\n", (int)(tail - AGENTS_YAML), AGENTS_YAML);
    char *err = parse_err(text, "venom.yaml", -EINVAL);
    assert_contains(err, "venom.yaml:8: 'agents' must be an object, got an array; write e.g. {\"counter\": ");
    mem_free(err);
    mem_free(text);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        text = patch(AGENTS_YAML, cases[i].from, cases[i].to);
        err = parse_err(text, "venom.yaml", -EINVAL);
        assert_contains(err, cases[i].want);
        mem_free(err);
        mem_free(text);
    }
}

static void test_limits_of_size_and_depth(void **state)
{
    (void)state;
    /* deep args schema */
    size_t depth = 70;
    char *deep = mem_alloc(depth * 16 + 256);
    assert_non_null(deep);
    size_t n = (size_t)snprintf(deep, 256, "{\"name\": \"a\", \"version\": \"1\", \"description\": \"d\", \"x\": ");
    for (size_t i = 0; i < depth; i++)
        n += (size_t)snprintf(deep + n, 16, "{\"k\": ");
    n += (size_t)snprintf(deep + n, 8, "1");
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '}';
    deep[n++] = '}';
    deep[n] = '\0';
    char *err = parse_err(deep, "venom.json", -E2BIG);
    assert_contains(err, "venom.json:1:");
    assert_contains(err, "nesting deeper than 64 levels");
    mem_free(err);
    mem_free(deep);

    size_t big = 17u * 1024 * 1024;
    char *text = mem_alloc(big + 1);
    assert_non_null(text);
    memset(text, ' ', big);
    text[big] = '\0';
    manifest *m = NULL;
    err = NULL;
    assert_int_equal(manifest_parse(text, big, "venom.json", &m, &err), -E2BIG);
    assert_contains(err, "venom.json: 17825792 bytes is larger than the limit");
    mem_free(err);
    mem_free(text);
}

static void test_find_and_load(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp();
    char *path = NULL, *err = NULL;
    assert_int_equal(manifest_find(dir, &path, &err), -ENOENT);
    assert_contains(err, "no venom.json or venom.yaml");
    mem_free(err);
    err = NULL;

    free(ts_write(dir, "venom.yaml", GOOD_YAML));
    assert_int_equal(manifest_find(dir, &path, &err), 0);
    char *want = mem_printf("%s/venom.yaml", dir);
    assert_string_equal(path, want);
    manifest *m = NULL;
    assert_int_equal(manifest_load(path, &m, &err), 0);
    assert_null(err);
    assert_string_equal(m->dir, dir);
    char *lib = mem_printf("%s/lib/fs.so", dir);
    assert_string_equal(m->library, lib);
    assert_int_equal(m->skills[1].line, 29);
    manifest_free(m);
    mem_free(lib);
    mem_free(path);
    mem_free(want);

    free(ts_write(dir, "venom.json", GOOD_JSON));
    assert_int_equal(manifest_find(dir, &path, &err), -EINVAL);
    assert_null(path);
    assert_contains(err, "has both venom.json and venom.yaml");
    mem_free(err);
    err = NULL;

    char *none = mem_printf("%s/nope/venom.json", dir);
    assert_int_equal(manifest_load(none, &m, &err), -ENOENT);
    assert_null(m);
    assert_contains(err, none);
    mem_free(err);
    mem_free(none);
    ts_rmtree(dir);
    free(dir);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    const char *texts[] = {GOOD_JSON, GOOD_YAML};
    const char *paths[] = {"/packs/fs/venom.json", "/packs/fs/venom.yaml"};
    for (int t = 0; t < 2; t++) {
        bool succeeded = false;
        long n;
        for (n = 0; n < 100000 && !succeeded; n++) {
            manifest *m = NULL;
            char *err = NULL;
            mem_fail_after(n);
            int rc = manifest_parse(texts[t], strlen(texts[t]), paths[t], &m, &err);
            mem_fail_after(-1);
            if (rc == 0) {
                succeeded = true;
                check_good(m, paths[t], t == 0 ? 15 : 18, t == 0 ? 19 : 29);
            } else if (rc != -ENOMEM) {
                fail_msg("%s: fail_after(%ld) gave %d (%s), not -ENOMEM", paths[t], n, rc, err ? err : "");
            } else {
                assert_null(m);
            }
            manifest_free(m);
            mem_free(err);
        }
        assert_true(succeeded);
        assert_true(n > 50); /* the good manifest really did need many allocations */
    }
}

static void test_skill_list_speed(void **state)
{
    (void)state;
    /* `venom skill list` reads ~200 manifests at start-up and must take < 20 ms
     * in all: 100 JSON + 100 YAML manifests, best of five rounds (other jobs
     * share the machine; CPU time, not wall time). Unloaded: about 8 ms. */
    double ms = 1e9;
    for (int round = 0; round < 5; round++) {
        struct timespec a, b;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        for (int i = 0; i < 200; i++) {
            manifest *m = NULL;
            const char *text = i % 2 ? GOOD_YAML : GOOD_JSON;
            assert_int_equal(manifest_parse(text, strlen(text), i % 2 ? "/p/fs/venom.yaml" : "/p/fs/venom.json", &m,
                                            NULL),
                             0);
            manifest_free(m);
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        double t = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        ms = t < ms ? t : ms;
    }
    const char *san = getenv("VENOM_SANITIZE");
    if (ms > 20.0 && !(san && *san))
        fail_msg("200 manifests took %.1f ms", ms);
}

int main(void)
{
    mem_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_json_and_yaml_agree),
        cmocka_unit_test(test_minimal_defaults_and_relative_dir),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_structural_errors),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_agents),
        cmocka_unit_test(test_limits_of_size_and_depth),
        cmocka_unit_test(test_find_and_load),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_skill_list_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
