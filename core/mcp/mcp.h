/*
 * mcp.h — the Model Context Protocol over stdio: venom as a client of MCP
 * servers (each run inside venom's sandbox, its tools offered as skills
 * "NAME.tool"), and venom's own skills served to other MCP clients.
 *
 * Layers, bottom up:
 *   - framing: JSON-RPC 2.0, one message per line (a growable line buffer
 *     capped at MCP_MAX_LINE), classified by shape (mcp_msg_parse);
 *   - readers for what servers send (tools/list pages, tools/call results);
 *   - the registered servers ($VENOM_HOME/mcp.json, written atomically);
 *   - the client (mcp_client_*): spawn in the sandbox, handshake, requests
 *     with per-request deadlines, server requests and notifications answered
 *     while waiting, clean shutdown;
 *   - the server (mcp_serve_*): venom's registry as MCP tools.
 * Protocol revisions: we send 2025-11-25 and accept MCP_VERSIONS.
 * Reference: docs/mcp.md, docs/internals/mcp.md, wire-formats.md §6.
 */
#ifndef VENOM_MCP_MCP_H
#define VENOM_MCP_MCP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MCP_PROTOCOL_VERSION "2025-11-25"
#define MCP_MAX_LINE (10u << 20)     /* one message, as the reference SDK */
#define MCP_DEFAULT_TIMEOUT_S 30u    /* per request */
#define MCP_MAX_TOOLS 4096
#define MCP_MAX_PAGES 256

/* JSON-RPC error codes. */
#define MCP_PARSE_ERROR (-32700)
#define MCP_INVALID_REQUEST (-32600)
#define MCP_METHOD_NOT_FOUND (-32601)
#define MCP_INVALID_PARAMS (-32602)
#define MCP_INTERNAL_ERROR (-32603)

/* True for a protocol revision this implementation speaks. */
bool mcp_version_supported(const char *v);

/* ------------------------------------------------------------ framing */

/* Bytes in, complete lines out. */
typedef struct mcp_linebuf {
    char *data;
    size_t len, cap, start; /* data[start..len) is unread */
    size_t max;             /* longest accepted line */
} mcp_linebuf;
void mcp_linebuf_init(mcp_linebuf *b, size_t max);
void mcp_linebuf_release(mcp_linebuf *b);
/* Append bytes; -ENOMEM. */
int mcp_linebuf_append(mcp_linebuf *b, const void *p, size_t n) __attribute__((warn_unused_result));
/* The next complete line, without its '\n' (and a trailing '\r'), NUL
 * terminated, borrowed until the next call: 1. No complete line yet: 0.
 * A line (complete or not) longer than max: -E2BIG (the buffer is then
 * emptied). */
int mcp_linebuf_next(mcp_linebuf *b, const char **line, size_t *len) __attribute__((warn_unused_result));

typedef enum mcp_msg_kind {
    MCP_MSG_REQUEST = 1,      /* method + id */
    MCP_MSG_NOTIFICATION = 2, /* method, no id */
    MCP_MSG_RESPONSE = 3,     /* no method: id + result or error */
} mcp_msg_kind;

/* One incoming message; the pointers borrow from root. */
typedef struct mcp_msg {
    mcp_msg_kind kind;
    json_t *root;
    const char *method;
    const json_t *id;     /* string or integer; a response to an unparsable request may have null */
    const json_t *params; /* may be NULL */
    const json_t *result; /* responses: exactly one of result / error */
    const json_t *error;  /* {"code": int, "message": string, ...} */
} mcp_msg;

/* Parse and classify one line. -EBADMSG: not JSON (reply -32700); -EPROTO:
 * JSON but not a JSON-RPC 2.0 message (reply -32600). *err says what is
 * wrong. On error m->root is NULL, except for -EPROTO where it holds the
 * parsed value when an id could be read (m->id, for the reply). */
int mcp_msg_parse(const char *line, size_t len, mcp_msg *m, char **err) __attribute__((warn_unused_result));
void mcp_msg_release(mcp_msg *m);

/* A JSON-RPC line (with its '\n') for a request, notification, result or
 * error. mem_free the result; NULL when out of memory. */
char *mcp_line_request(json_int_t id, const char *method, const json_t *params);
char *mcp_line_notification(const char *method, const json_t *params);
char *mcp_line_result(const json_t *id, const json_t *result);
char *mcp_line_error(const json_t *id, int code, const char *message);

/* ------------------------------------------------------------ readers */

/* Read one tools/list result: append each tool, as {"name", "description",
 * "inputSchema"[, "title"]}, to the array acc; *next_cursor borrows the
 * page's nextCursor (NULL at the end). -EPROTO with *err naming the tool
 * and the field otherwise; -E2BIG past MCP_MAX_TOOLS. Tool names are
 * 1..128 characters of [A-Za-z0-9_.-]. */
int mcp_tools_page(const json_t *result, json_t *acc, const char **next_cursor, char **err)
    __attribute__((warn_unused_result));

/* Map a tools/call result. Success (0): *value is structuredContent when
 * present, else the text of the content items joined by '\n' when every
 * item is text, else the content array as is; an empty content is null.
 * isError (1): *message is the text items joined by "; " (or a fixed
 * sentence). -EPROTO when the result is not a CallToolResult. */
int mcp_call_result(const json_t *result, json_t **value, char **message, char **err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ registered servers */

typedef struct mcp_server {
    char *name;
    char **argv;      /* argv[0] absolute; NULL terminated */
    size_t argc;
    char **env;       /* "K=V", NULL terminated */
    size_t n_env;
    char **ro, **rw;  /* --allow-path entries (absolute) */
    size_t n_ro, n_rw;
    bool network;
    uint32_t timeout_s;
    json_t *tools;    /* cached tools/list (array, see mcp_tools_page) */
    json_t *info;     /* serverInfo and protocolVersion at the last listing, or NULL */
} mcp_server;

typedef struct mcp_config {
    mcp_server *v;
    size_t n;
} mcp_config;

/* Server names: as pack names (lowercase letters, digits, '-', '_'). */
bool mcp_name_ok(const char *name);
/* Read path (a missing file is an empty list). -EINVAL with *err "<path>:
 * servers.NAME.field: problem; fix" on a bad file. */
int mcp_config_load(const char *path, mcp_config **out, char **err) __attribute__((warn_unused_result));
/* Write atomically (temporary file, fsync, rename). */
int mcp_config_save(const mcp_config *c, const char *path, char **err) __attribute__((warn_unused_result));
mcp_server *mcp_config_find(const mcp_config *c, const char *name);
/* Add a copy of s (its name must be new): -EEXIST. */
int mcp_config_add(mcp_config *c, const mcp_server *s, char **err) __attribute__((warn_unused_result));
/* Remove by name: -ENOENT. */
int mcp_config_remove(mcp_config *c, const char *name);
void mcp_config_free(mcp_config *c);
/* The entry as JSON (for mcp.json and `venom mcp list --json`). */
json_t *mcp_server_json(const mcp_server *s);
void mcp_server_release(mcp_server *s);

/* The sandbox policy of a server, from its entry (docs/mcp.md
 * "Permissions"): system dirs, the command and its package directory,
 * the allowed paths, network if declared, exec, env + PATH/HOME. */
struct sandbox_policy;
int mcp_server_policy(const mcp_server *s, struct sandbox_policy **out, char **err)
    __attribute__((warn_unused_result));

/* The server as a pack for the registry: name = the server's, one skill
 * per cached tool (args schema = its inputSchema), permissions from the
 * entry (shown by `venom skill info`). config_path names it in messages. */
struct manifest;
int mcp_server_manifest(const mcp_server *s, const char *config_path, struct manifest **out, char **err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------ client */

typedef struct mcp_client mcp_client;

/* Start s's server in its sandbox and complete the initialize handshake.
 * Errors name the server and include its last stderr lines. */
int mcp_client_start(const mcp_server *s, mcp_client **out, char **err) __attribute__((warn_unused_result));
/* The current tool list (tools/list, all pages; again after the server
 * sent notifications/tools/list_changed). Borrowed until the next call. */
int mcp_client_tools(mcp_client *c, const json_t **tools, char **err) __attribute__((warn_unused_result));
/* serverInfo + protocolVersion of the handshake (borrowed). */
const json_t *mcp_client_info(const mcp_client *c);

/* Return codes of mcp_client_call (besides 0). */
#define MCP_E_TOOL (-EIO)         /* the tool ran and reported isError: *err is its text */
#define MCP_E_NOTOOL (-ENOENT)    /* the server has no such tool (any more) */
#define MCP_E_TIMEOUT (-ETIMEDOUT)
#define MCP_E_CANCELLED (-ECANCELED)

/* tools/call; *value (new reference) on success. Other failures (the
 * server died, a JSON-RPC error, a bad reply): -EPROTO / -EPIPE with *err.
 * Calls on one client are serialised. Thread-safe. */
int mcp_client_call(mcp_client *c, const char *tool, const json_t *args, atomic_int *cancel, json_t **value,
                    char **err) __attribute__((warn_unused_result));
/* Close stdin, wait 2 s, SIGTERM, wait 1 s, SIGKILL; free. NULL is fine. */
void mcp_client_free(mcp_client *c);

/* ------------------------------------------------------------ server */

struct registry;
typedef struct mcp_serve mcp_serve;

/* Serve the registry's skills (only those matching skills[] — "pack.skill"
 * or "pack.*" — when n_skills > 0); calls run through registry_call in
 * workdir. -EINVAL when a --skills entry matches nothing. */
int mcp_serve_new(struct registry *r, const char *const *skills, size_t n_skills, const char *workdir,
                  mcp_serve **out, char **err) __attribute__((warn_unused_result));
/* Handle one input line; *reply is the line to write (with '\n'), or NULL
 * (notifications, responses). Never fails on bad input (that gets an error
 * reply); -ENOMEM only. */
int mcp_serve_handle(mcp_serve *s, const char *line, size_t len, char **reply) __attribute__((warn_unused_result));
/* Read lines from in_fd until EOF, write replies to out_fd. 0 at EOF. */
int mcp_serve_run(mcp_serve *s, int in_fd, int out_fd, char **err) __attribute__((warn_unused_result));
void mcp_serve_free(mcp_serve *s);

#endif
