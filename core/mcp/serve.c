/*
 * serve.c — venom's skills as an MCP stdio server (`venom mcp serve`).
 *
 * tools/list comes from the manifests (name "pack__skill", inputSchema =
 * the argument schema); tools/call goes through registry_call, so untrusted
 * packs run in the sandbox exactly as in `venom skill run`. A failing skill
 * is an isError result; protocol problems are JSON-RPC errors; nothing in
 * the input ends the loop but EOF.
 */
#include "util/common.h"

#include <poll.h>
#include <unistd.h>

#include "agent/agent.h"
#include "mcp/mcp.h"
#include "plugin/registry.h"
#include "util/err.h"
#include "util/jsonx.h"

typedef struct serve_tool {
    char name[160];
    const reg_skill *skill;
} serve_tool;

struct mcp_serve {
    registry *r;
    char *workdir;
    serve_tool *tools;
    size_t n_tools;
    json_t *list; /* the tools/list result */
};

static bool matches(const char *pat, const char *full)
{
    if (!strcmp(pat, full))
        return true;
    size_t n = strlen(pat);
    if (n > 2 && !strcmp(pat + n - 2, ".*"))
        return !strncmp(full, pat, n - 1);
    return !strchr(pat, '.') && !strncmp(full, pat, n) && full[n] == '.'; /* "fs" = "fs.*" */
}

int mcp_serve_new(registry *r, const char *const *skills, size_t n_skills, const char *workdir, mcp_serve **out,
                  char **err)
{
    *out = NULL;
    mcp_serve *s = mem_calloc(1, sizeof *s);
    size_t n = registry_skill_count(r);
    if (!s || !(s->tools = mem_calloc(n ? n : 1, sizeof *s->tools)) || !(s->list = json_array()) ||
        !(s->workdir = mem_strdup(workdir ? workdir : "."))) {
        mcp_serve_free(s);
        return err_set(err, -ENOMEM, "out of memory");
    }
    s->r = r;
    for (size_t k = 0; k < n_skills; k++) {
        bool hit = false;
        for (size_t i = 0; i < n && !hit; i++)
            hit = matches(skills[k], reg_skill_name(registry_skill_at(r, i)));
        if (!hit) {
            mcp_serve_free(s);
            return err_set(err, -EINVAL, "--skills: no skill matches '%s'; see 'venom skill list'", skills[k]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const reg_skill *sk = registry_skill_at(r, i);
        bool want = n_skills == 0;
        for (size_t k = 0; k < n_skills && !want; k++)
            want = matches(skills[k], reg_skill_name(sk));
        if (!want)
            continue;
        if (reg_skill_typed(sk)) { /* its schema comes from the library */
            char *lerr = NULL;
            int lrc = registry_load(r, sk, &lerr);
            mem_free(lerr);
            if (lrc < 0)
                continue;
        }
        serve_tool *t = &s->tools[s->n_tools];
        agent_tool_name(reg_skill_name(sk), t->name, sizeof t->name);
        bool clash = strlen(t->name) > 128;
        for (size_t j = 0; j < s->n_tools; j++)
            clash |= !strcmp(s->tools[j].name, t->name);
        if (clash)
            continue;
        t->skill = sk;
        const manifest_skill *ms = reg_skill_entry(sk);
        json_t *def = json_pack("{s:s, s:s, s:O}", "name", t->name, "description",
                                ms->description ? ms->description : reg_skill_name(sk), "inputSchema",
                                reg_skill_args_schema(sk));
        if (!def || json_array_append_new(s->list, def) < 0) {
            mcp_serve_free(s);
            return err_set(err, -ENOMEM, "out of memory");
        }
        s->n_tools++;
    }
    *out = s;
    return 0;
}

void mcp_serve_free(mcp_serve *s)
{
    if (!s)
        return;
    mem_free(s->tools);
    json_decref(s->list);
    mem_free(s->workdir);
    mem_free(s);
}

static char *text_result(const char *text, bool is_error, const json_t *structured, const json_t *id)
{
    json_t *res = json_pack("{s:[{s:s, s:s}]}", "content", "type", "text", "text", text);
    if (res && is_error)
        json_object_set_new(res, "isError", json_true());
    if (res && json_is_object(structured))
        json_object_set(res, "structuredContent", (json_t *)structured);
    char *line = res ? mcp_line_result(id, res) : NULL;
    json_decref(res);
    return line;
}

static char *call_tool(mcp_serve *s, const mcp_msg *m)
{
    const char *name = json_string_value(json_object_get(m->params, "name"));
    const json_t *args = json_object_get(m->params, "arguments");
    if (!json_is_object(m->params) || !name)
        return mcp_line_error(m->id, MCP_INVALID_PARAMS, "tools/call needs params {\"name\": string, \"arguments\": object}");
    if (args && !json_is_object(args) && !json_is_null(args))
        return mcp_line_error(m->id, MCP_INVALID_PARAMS, "tools/call: \"arguments\" must be an object");
    const serve_tool *t = NULL;
    for (size_t i = 0; i < s->n_tools && !t; i++)
        if (!strcmp(s->tools[i].name, name))
            t = &s->tools[i];
    if (!t) {
        char *msg = mem_printf("Unknown tool: %s", jsonx_clipped(name).s);
        char *line = msg ? mcp_line_error(m->id, MCP_INVALID_PARAMS, msg) : NULL;
        mem_free(msg);
        return line;
    }
    json_t *empty = NULL;
    if (!json_is_object(args))
        args = empty = json_object();
    registry_call_opts co = {.workdir = s->workdir};
    registry_result res = {0};
    char *err = NULL, *line = NULL;
    int rc = args ? registry_call(s->r, t->skill, args, &co, &res, &err) : -ENOMEM;
    if (rc == -ENOMEM) {
        line = NULL;
    } else if (rc < 0) {
        line = text_result(err ? err : "the skill failed", true, NULL, m->id);
    } else {
        char *text = json_is_string(res.value) ? NULL : json_dumps(res.value, JSON_COMPACT | JSON_ENCODE_ANY);
        line = text_result(text ? text : json_is_string(res.value) ? json_string_value(res.value) : "null", false,
                           res.value, m->id);
        mem_free(text);
    }
    json_decref(res.value);
    json_decref(empty);
    mem_free(err);
    return line;
}

int mcp_serve_handle(mcp_serve *s, const char *line, size_t len, char **reply)
{
    *reply = NULL;
    mcp_msg m;
    char *err = NULL;
    int rc = mcp_msg_parse(line, len, &m, &err);
    if (rc == -EBADMSG || rc == -EPROTO) {
        char *msg = mem_printf("%s: %s", rc == -EBADMSG ? "Parse error" : "Invalid Request", err ? err : "");
        *reply = msg ? mcp_line_error(m.id, rc == -EBADMSG ? MCP_PARSE_ERROR : MCP_INVALID_REQUEST, msg) : NULL;
        mem_free(msg);
        mem_free(err);
        mcp_msg_release(&m);
        return *reply ? 0 : -ENOMEM;
    }
    mem_free(err);
    if (rc < 0)
        return rc;
    if (m.kind != MCP_MSG_REQUEST) {
        mcp_msg_release(&m); /* notifications and responses get no reply */
        return 0;
    }
    if (!strcmp(m.method, "initialize")) {
        const char *v = json_string_value(json_object_get(m.params, "protocolVersion"));
        json_t *res = json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}}", "protocolVersion",
                                mcp_version_supported(v) ? v : MCP_PROTOCOL_VERSION, "capabilities", "tools",
                                "listChanged", 0, "serverInfo", "name", "venom", "version", VENOM_VERSION);
        *reply = res ? mcp_line_result(m.id, res) : NULL;
        json_decref(res);
    } else if (!strcmp(m.method, "ping")) {
        json_t *res = json_object();
        *reply = res ? mcp_line_result(m.id, res) : NULL;
        json_decref(res);
    } else if (!strcmp(m.method, "tools/list")) {
        const json_t *cursor = json_object_get(m.params, "cursor");
        if (cursor && !json_is_null(cursor)) {
            *reply = mcp_line_error(m.id, MCP_INVALID_PARAMS, "Invalid cursor (this server does not paginate)");
        } else {
            json_t *res = json_pack("{s:O}", "tools", s->list);
            *reply = res ? mcp_line_result(m.id, res) : NULL;
            json_decref(res);
        }
    } else if (!strcmp(m.method, "tools/call")) {
        *reply = call_tool(s, &m);
    } else {
        *reply = mcp_line_error(m.id, MCP_METHOD_NOT_FOUND, "Method not found");
    }
    mcp_msg_release(&m);
    return *reply ? 0 : -ENOMEM;
}

static int write_all(int fd, const char *s, char **err)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        ssize_t w = write(fd, s + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return err_set(err, -EPIPE, "cannot write to the client: %s", strerror(errno));
        off += (size_t)w;
    }
    return 0;
}

int mcp_serve_run(mcp_serve *s, int in_fd, int out_fd, char **err)
{
    mcp_linebuf lb;
    mcp_linebuf_init(&lb, MCP_MAX_LINE);
    char chunk[65536];
    int rc = 0;
    bool eof = false;
    while (rc == 0 && !eof) {
        ssize_t n = read(in_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = err_set(err, -errno, "cannot read stdin: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            eof = true;
            if (lb.len > lb.start) /* a last line without '\n' */
                rc = mcp_linebuf_append(&lb, "\n", 1);
        } else {
            rc = mcp_linebuf_append(&lb, chunk, (size_t)n);
        }
        if (rc < 0) {
            rc = err_set(err, rc, "out of memory");
            break;
        }
        const char *line;
        size_t len;
        int nr;
        while (rc == 0 && (nr = mcp_linebuf_next(&lb, &line, &len)) != 0) {
            char *reply = NULL;
            if (nr == -E2BIG)
                reply = mcp_line_error(NULL, MCP_INVALID_REQUEST, "Invalid Request: message longer than 10 MiB");
            else if (len == 0)
                continue;
            else if (mcp_serve_handle(s, line, len, &reply) < 0)
                rc = err_set(err, -ENOMEM, "out of memory");
            if (reply)
                rc = write_all(out_fd, reply, err);
            mem_free(reply);
        }
    }
    mcp_linebuf_release(&lb);
    return rc;
}
