#!/usr/bin/env bash
# `venom mcp serve`: venom's skills as an MCP stdio server, driven by the
# official TypeScript SDK client (a third-party client) and by raw lines
# (malformed JSON, invalid requests, unknown methods, EOF).
source "$VENOM_SRC/tests/support/e2e.sh"
source "$VENOM_SRC/tests/e2e/lib/mcp_setup.sh"
WD="$E2E_TMP/wd"
mkdir -p "$WD"
cd "$WD"
printf 'one two three\nfour\n' >notes.txt

# --- the SDK client: list, call, an isError result, an unknown tool, ping
export CALL_TOOL=text__count CALL_ARGS='{"path":"notes.txt"}' BAD_ARGS='{"path":"missing.txt"}'
run timeout 60 node "$VENOM_SRC/tests/mcp/sdk_client.mjs" "$MCP_NM" "$VENOM_BIN" --skills text,json.get --workdir "$WD"
expect_rc 0 "SDK client session"
python3 - "$out" <<'PY' && ok || fail "SDK client results"
import json, sys
d = json.loads(sys.argv[1])
names = [t["name"] for t in d["tools"]]
assert "text__count" in names and "json__get" in names, names
assert not any(n.startswith("fs__") for n in names), names   # --skills filters
assert all(t["type"] == "object" for t in d["tools"])
assert d["server"]["name"] == "venom"
c = d["call"]
assert not c.get("isError"), c
assert "4" in c["content"][0]["text"] or "words" in c["content"][0]["text"], c
b = d["bad"]
assert b.get("isError") is True, b
assert "missing.txt" in b["content"][0]["text"], b
assert d["unknown"]["code"] == -32602, d["unknown"]
assert d["ping"] == {}, d["ping"]
PY

# --- raw lines: errors answered, the server keeps going, stdout only JSON
printf '%s\n' \
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}' \
  'this is not json' \
  '{"jsonrpc":"2.0","id":2}' \
  '[{"jsonrpc":"2.0","id":3,"method":"ping"}]' \
  '{"jsonrpc":"1.0","id":4,"method":"ping"}' \
  '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
  '{"jsonrpc":"2.0","id":5,"method":"bogus/method"}' \
  '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"nope","arguments":{}}}' \
  '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"text__count","arguments":"x"}}' \
  '{"jsonrpc":"2.0","id":"s8","method":"ping"}' \
  '{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}' \
  >"$E2E_TMP/in.txt"
run timeout 30 "$VENOM_BIN" mcp serve --workdir "$WD" <"$E2E_TMP/in.txt"
expect_rc 0 "serve exits 0 at EOF"
python3 - "$out" <<'PY' && ok || fail "raw replies"
import json, sys
lines = sys.argv[1].splitlines()
msgs = [json.loads(l) for l in lines]          # stdout: only JSON-RPC lines
by = {}
for m in msgs:
    assert m["jsonrpc"] == "2.0", m
    by.setdefault(json.dumps(m.get("id")), []).append(m)
assert by["1"][0]["result"]["protocolVersion"] == "2025-06-18"
nulls = [m["error"]["code"] for m in by["null"]]
assert nulls.count(-32700) == 1 and nulls.count(-32600) == 1, nulls   # not json; the batch
assert by["2"][0]["error"]["code"] == -32600
assert by["4"][0]["error"]["code"] == -32600
assert by["5"][0]["error"]["code"] == -32601
assert by["6"][0]["error"]["code"] == -32602
assert by["7"][0]["error"]["code"] == -32602
assert by['"s8"'][0]["result"] == {}
assert by["9"][0]["result"]["protocolVersion"] == "2025-11-25"
assert len(msgs) == 10, len(msgs)   # the notification got no reply
PY
finish
