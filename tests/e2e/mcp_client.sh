#!/usr/bin/env bash
# MCP servers as skills: real servers from npm (server-everything,
# server-filesystem) registered with `venom mcp add`, run in venom's sandbox,
# called through `venom skill run NAME.tool` and by the agent (`venom run`
# with the offline provider); tool errors (isError), confinement to
# --allow-path, and servers that hang or crash.
source "$VENOM_SRC/tests/support/e2e.sh"
source "$VENOM_SRC/tests/e2e/lib/mcp_setup.sh"
EV="$MCP_NM/.bin/mcp-server-everything"
FS="$MCP_NM/.bin/mcp-server-filesystem"
cd "$E2E_TMP"

# --- add / list / tools
venom mcp add ev -- "$EV"
expect_rc 0 "mcp add ev"
expect_out "ev.echo" "mcp add lists the tools"
expect_out "ev.get-sum" "mcp add lists the tools"
[ -f "$VENOM_HOME/mcp.json" ] && ok || fail "mcp.json was not written"
venom mcp list
expect_rc 0 "mcp list"
expect_out "ev" "mcp list"
venom mcp list --json
expect_json 'd[0]["name"] == "ev" and any(t["name"] == "echo" for t in d[0]["tools"])'
venom mcp tools ev --json
expect_json 'any(t["name"] == "get-sum" and t["inputSchema"]["type"] == "object" for t in d)'
venom mcp add ev -- "$EV"
expect_rc 2 "a second server named ev"
expect_err "already registered" "duplicate name"
venom mcp add json -- "$EV"
expect_rc 2 "a server named like the json pack"
expect_err "installed pack" "pack name clash"
venom mcp add nope -- /nonexistent/server
expect_rc 1 "a missing command"
expect_err "not found" "missing command"

# --- the tools as skills
venom skill list
expect_out "ev.echo" "skill list shows MCP tools"
venom skill info ev.get-sum --json
expect_json 'd["isolation"] == "sandbox" and "a" in d["args"]["properties"]'
venom skill run ev.echo message=hello
expect_rc 0 "ev.echo"
[ "$out" = "Echo: hello" ] && ok || fail "ev.echo output"
venom skill run ev.get-sum a=2 b=40 --json
expect_rc 0 "ev.get-sum"
expect_json 'd["result"] == "The sum of 2 and 40 is 42."'
venom skill run ev.get-structured-content location=Chicago --json
expect_rc 0 "structuredContent"
expect_json 'isinstance(d["result"], dict) and "temperature" in d["result"]'
venom skill run ev.get-env --json
expect_json '"PATH" in d["result"] and "VENOM_HOME" not in d["result"]'
venom skill run ev.echo
expect_rc 2 "missing argument checked against the inputSchema"
expect_err "message" "missing argument"

# --- filesystem server confined to its --allow-path
mkdir -p data outside
echo "inside text" >data/in.txt
echo "secret text" >outside/secret.txt
venom mcp add files --allow-path "$E2E_TMP/data:rw" -- "$FS" "$E2E_TMP/data"
expect_rc 0 "mcp add files"
venom skill run files.read_text_file path="$E2E_TMP/data/in.txt"
expect_rc 0 "read inside"
expect_out "inside text" "read inside"
venom skill run files.write_file path="$E2E_TMP/data/new.txt" content=written
expect_rc 0 "write inside (rw)"
[ "$(cat data/new.txt)" = "written" ] && ok || fail "fs.write_file did not write"
# the server refuses (isError -> exit 1 with its message)
venom skill run files.read_text_file path="$E2E_TMP/outside/secret.txt"
expect_rc 1 "read outside the allowed dir"
expect_err "Access denied" "isError text"
# the server allowed a directory it was not given by --allow-path: the
# sandbox hides it, so it cannot start
venom mcp add files2 --allow-path "$E2E_TMP/data" -- "$FS" "$E2E_TMP/outside"
expect_rc 1 "a server arguing for a path outside the sandbox"
expect_err "mcp server 'files2'" "names the server"
grep -q files2 "$VENOM_HOME/mcp.json" && fail "files2 must not be registered" || ok

# --- venom run: the offline provider picks an MCP tool
venom run "echo the message 'hello-mcp'" --skills ev.echo
expect_rc 0 "venom run with ev.echo"
expect_out "Echo: hello-mcp" "agent called ev.echo"

# --- a tool that no longer exists on the server
python3 - "$VENOM_HOME/mcp.json" <<'PY'
import json, sys
p = sys.argv[1]; d = json.load(open(p))
d["servers"]["ev"]["tools"].append({"name": "vanished", "description": "gone", "inputSchema": {"type": "object"}})
json.dump(d, open(p, "w"))
PY
venom skill run ev.vanished
expect_rc 1 "a tool the server no longer has"
expect_err "has no tool 'vanished'" "vanished tool"
venom mcp refresh ev
expect_rc 0 "mcp refresh"
venom skill run ev.vanished
expect_rc 2 "after refresh the tool is gone"

# --- servers that never answer, or crash
cat >hang.sh <<'SH'
#!/bin/sh
echo "hanging on purpose" >&2
exec sleep 1000
SH
cat >crash.sh <<'SH'
#!/bin/sh
echo "boom: cannot start" >&2
exit 3
SH
chmod +x hang.sh crash.sh
start=$(date +%s)
venom mcp add hang --timeout 2 -- "$E2E_TMP/hang.sh"
expect_rc 1 "a server that never answers"
expect_err "no answer to initialize within 2 s" "timeout message"
expect_err "hanging on purpose" "stderr tail in the message"
[ $(( $(date +%s) - start )) -lt 15 ] && ok || fail "the timeout took too long"
venom mcp add crash -- "$E2E_TMP/crash.sh"
expect_rc 1 "a server that crashes"
expect_err "exited with status 3" "crash message"
expect_err "boom: cannot start" "crash stderr"

# --- remove
venom mcp remove files
expect_rc 0 "mcp remove"
venom skill run files.read_text_file path=x
expect_rc 2 "removed server's tools are gone"
venom mcp remove files
expect_rc 2 "remove twice"
finish
