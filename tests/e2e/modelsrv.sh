#!/usr/bin/env bash
# Smoke test of venom-modelsrv, the scripted model server: the four wire
# formats streaming and not (reassembled by a small parser), a fault with its
# retry header, request checks (400 in the API's shape), auth, a cut stream,
# a first-byte stall, and that the server exits by itself when idle.
source "$VENOM_SRC/tests/support/e2e.sh"
SRV="$VENOM_OUT/bin/venom-modelsrv"
DATA="$VENOM_SRC/tests/e2e/data/model"
[ -x "$SRV" ] || { echo "FAIL: $SRV not built (ninja venom-modelsrv)"; exit 1; }
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 0; }

# start CASE [ARGS...]: start a server, set PORT and SPID.
start() {
  local case=$1; shift
  rm -f "$E2E_TMP/port"
  "$SRV" --case "$case" --port-file "$E2E_TMP/port" --log "$E2E_TMP/log.ndjson" "$@" >"$E2E_TMP/srv.out" 2>>"$E2E_TMP/srv.err" &
  SPID=$!
  for _ in $(seq 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.05; done
  PORT=$(cat "$E2E_TMP/port")
  [ "$(head -1 "$E2E_TMP/srv.out")" = "port $PORT" ] && ok || { rc=x; out=$(cat "$E2E_TMP/srv.out"); err=""; fail "first stdout line is 'port N'"; }
}
stop() { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
# post PATH BODY [CURL ARGS...]: $out = body, $code = status, $rc = curl's exit code.
post() {
  local path=$1 body=$2; shift 2
  run curl -sS -o "$E2E_TMP/body" -w '%{http_code}' -H 'content-type: application/json' --max-time 10 \
    "$@" --data-binary "$body" "http://127.0.0.1:$PORT$path"
  code=$out
  out=$(cat "$E2E_TMP/body")
}
expect_code() { if [ "$code" = "$1" ]; then ok; else fail "${2:-} expected HTTP $1, got $code"; fi; }
# reassemble API MODE: parse $out as the API's wire format, print "text|name(args)|...|finish".
reassemble() {
  python3 "$E2E_TMP/reasm.py" "$1" "$2" <<<"$out"
}
cat >"$E2E_TMP/reasm.py" <<'PY'
import json, sys
api, mode = sys.argv[1], sys.argv[2]
raw = sys.stdin.read()
text, calls, finish, usage = "", {}, None, None
def sse(raw):
    for ev in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in ev.split("\n"):
            if line.startswith("event: "): name = line[7:]
            elif line.startswith("data: "): data.append(line[6:])
        if data: yield name, "\n".join(data)
if mode == "json":
    d = json.loads(raw)
    if api == "openai":
        m = d["choices"][0]["message"]; text = m["content"] or ""
        for i, c in enumerate(m.get("tool_calls") or []): calls[i] = [c["function"]["name"], c["function"]["arguments"]]
        finish, usage = d["choices"][0]["finish_reason"], d["usage"]["prompt_tokens"]
    elif api == "anthropic":
        for i, b in enumerate(d["content"]):
            if b["type"] == "text": text += b["text"]
            else: calls[i] = [b["name"], json.dumps(b["input"], separators=(",", ":"), ensure_ascii=False)]
        finish, usage = d["stop_reason"], d["usage"]["input_tokens"]
    elif api == "gemini":
        for i, p in enumerate(d["candidates"][0]["content"]["parts"]):
            if "text" in p: text += p["text"]
            else: calls[i] = [p["functionCall"]["name"], json.dumps(p["functionCall"]["args"], separators=(",", ":"), ensure_ascii=False)]
        finish, usage = d["candidates"][0]["finishReason"], d["usageMetadata"]["promptTokenCount"]
    elif api == "ollama":
        text = d["message"]["content"]
        for i, c in enumerate(d["message"].get("tool_calls") or []): calls[i] = [c["function"]["name"], json.dumps(c["function"]["arguments"], separators=(",", ":"), ensure_ascii=False)]
        finish, usage = d["done_reason"], d["prompt_eval_count"]
elif api == "openai":
    evs = list(sse(raw)); assert evs[-1][1] == "[DONE]", "no [DONE]"
    for _, data in evs[:-1]:
        d = json.loads(data)
        if d.get("usage"): usage = d["usage"]["prompt_tokens"]
        for ch in d["choices"]:
            dl = ch["delta"]; text += dl.get("content") or ""
            for tc in dl.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], ["", ""])
                if "name" in tc.get("function", {}): c[0] = tc["function"]["name"]
                c[1] += tc["function"].get("arguments", "")
            finish = ch["finish_reason"] or finish
elif api == "anthropic":
    names = [n for n, _ in sse(raw)]
    assert names[0] == "message_start" and names[-1] == "message_stop" and "ping" in names, names
    for name, data in sse(raw):
        d = json.loads(data); assert d["type"] == name
        if name == "message_start": usage = d["message"]["usage"]["input_tokens"]
        if name == "content_block_start" and d["content_block"]["type"] == "tool_use": calls[d["index"]] = [d["content_block"]["name"], ""]
        if name == "content_block_delta":
            dl = d["delta"]
            if dl["type"] == "text_delta": text += dl["text"]
            else: calls[d["index"]][1] += dl["partial_json"]
        if name == "message_delta": finish = d["delta"]["stop_reason"]
elif api == "gemini":
    chunks = [json.loads(x) for _, x in sse(raw)] if mode == "sse" else json.loads(raw)
    for d in chunks:
        c = d["candidates"][0]
        for p in c["content"]["parts"]:
            if "text" in p: text += p["text"]
            else: calls[len(calls)] = [p["functionCall"]["name"], json.dumps(p["functionCall"]["args"], separators=(",", ":"), ensure_ascii=False)]
        finish = c.get("finishReason") or finish; usage = d["usageMetadata"]["promptTokenCount"]
elif api == "ollama":
    lines = [json.loads(l) for l in raw.split("\n") if l]
    assert lines[-1]["done"] is True and all(not l["done"] for l in lines[:-1])
    for d in lines:
        text += d["message"]["content"]
        for c in d["message"].get("tool_calls") or []: calls[len(calls)] = [c["function"]["name"], json.dumps(c["function"]["arguments"], separators=(",", ":"), ensure_ascii=False)]
    finish, usage = lines[-1]["done_reason"], lines[-1]["prompt_eval_count"]
print("|".join([text] + ["%s(%s)" % (calls[k][0], calls[k][1]) for k in sorted(calls)] + [str(finish), str(usage)]))
PY

# --- the four APIs, streaming and not, on a repeating case with text and two tool calls
cat >"$E2E_TMP/all.json" <<'JSON'
{"name": "all", "repeat": true, "turns": [{"chunk": 5, "reply": {"text": "Writing two files, naïvely.",
  "tool_calls": [{"id": "call_1", "name": "fs__write", "arguments": {"path": "a.txt", "content": "é1"}},
                 {"id": "call_2", "name": "fs__read", "arguments": {"path": "a.txt"}}],
  "usage": {"input": 7, "output": 4, "cached": 3}}}]}
JSON
start "$E2E_TMP/all.json" --idle-exit 60
CALLS='fs__write({"path":"a.txt","content":"é1"})|fs__read({"path":"a.txt"})'
OA='{"model":"m","messages":[{"role":"user","content":"hi"}]'
post /v1/chat/completions "$OA}"; expect_code 200 "openai json"
[ "$(reassemble openai json)" = "Writing two files, naïvely.|$CALLS|tool_calls|10" ] && ok || fail "openai json: $(reassemble openai json)"
post /v1/chat/completions "$OA,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"; expect_code 200 "openai sse"
expect_out 'data: [DONE]'; expect_out '"choices":[]'
[ "$(reassemble openai sse)" = "Writing two files, naïvely.|$CALLS|tool_calls|10" ] && ok || fail "openai sse: $(reassemble openai sse)"
[ "$(grep -c '"arguments":"' <<<"$out")" -gt 4 ] && ok || fail "openai: arguments split over several deltas"
post /chat/completions "$OA,\"stream\":true}"; expect_code 200 "openai sse, no usage"
if grep -q '"usage"' <<<"$out"; then fail "usage without include_usage"; else ok; fi
AN='{"model":"m","max_tokens":64,"messages":[{"role":"user","content":"hi"}]'
post /v1/messages "$AN}" -H 'anthropic-version: 2023-06-01'; expect_code 200 "anthropic json"
[ "$(reassemble anthropic json)" = "Writing two files, naïvely.|$CALLS|tool_use|7" ] && ok || fail "anthropic json: $(reassemble anthropic json)"
post /v1/messages "$AN,\"stream\":true}" -H 'anthropic-version: 2023-06-01'; expect_code 200 "anthropic sse"
expect_out 'event: message_stop'; expect_out '"cache_read_input_tokens":3'
[ "$(reassemble anthropic sse)" = "Writing two files, naïvely.|$CALLS|tool_use|7" ] && ok || fail "anthropic sse: $(reassemble anthropic sse)"
GE='{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
post /v1beta/models/gem:generateContent "$GE"; expect_code 200 "gemini json"
[ "$(reassemble gemini json)" = "Writing two files, naïvely.|$CALLS|STOP|10" ] && ok || fail "gemini json: $(reassemble gemini json)"
post '/v1beta/models/gem:streamGenerateContent?alt=sse' "$GE"; expect_code 200 "gemini sse"
expect_out '"finishReason":"STOP"'
[ "$(reassemble gemini sse)" = "Writing two files, naïvely.|$CALLS|STOP|10" ] && ok || fail "gemini sse: $(reassemble gemini sse)"
post /v1beta/models/gem:streamGenerateContent "$GE"; expect_code 200 "gemini json array"
[ "$(reassemble gemini array)" = "Writing two files, naïvely.|$CALLS|STOP|10" ] && ok || fail "gemini array: $(reassemble gemini array)"
OL='{"model":"m","messages":[{"role":"user","content":"hi"}]'
post /api/chat "$OL}"; expect_code 200 "ollama ndjson (stream by default)"
expect_out '"done":true'
[ "$(reassemble ollama ndjson)" = "Writing two files, naïvely.|$CALLS|stop|7" ] && ok || fail "ollama ndjson: $(reassemble ollama ndjson)"
post /api/chat "$OL,\"stream\":false}"; expect_code 200 "ollama json"
[ "$(reassemble ollama json)" = "Writing two files, naïvely.|$CALLS|stop|7" ] && ok || fail "ollama json: $(reassemble ollama json)"
run curl -sS "http://127.0.0.1:$PORT/v1/models"; expect_out '"object":"list"'
run curl -sS "http://127.0.0.1:$PORT/api/tags"; expect_out '"models":[{"name":"modelsrv-test:latest"'
post /api/embed '{"model":"e","input":["a","b"]}'; expect_code 200 "embed"
python3 -c 'import json,sys; e=json.loads(sys.argv[1])["embeddings"]; assert len(e)==2 and abs(sum(x*x for x in e[0])-1)<1e-3' "$out" && ok || fail "embed: two unit vectors"

# --- request checks: 400 in each API's shape, and the log says why
post /v1/messages "$OA}" -H 'anthropic-version: 2023-06-01'; expect_code 400 "anthropic without max_tokens"
expect_out '"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}'
post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_9","content":"x"}]}'
expect_code 400 "openai orphan tool message"; expect_out "must be a response to a preceeding message with 'tool_calls'"
post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"call_9","type":"function","function":{"name":"x","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_9","content":"x"}]}'
expect_code 400 "openai tool result for an id never issued"; expect_out 'was never issued'
post /v1/messages '{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"call_1","name":"fs__write","input":{}}]},{"role":"user","content":"no result"}]}' -H 'anthropic-version: 2023-06-01'
expect_code 400 "anthropic tool_use without tool_result"; expect_out '`tool_use` ids were found without `tool_result` blocks immediately after: call_1'
post /v1beta/models/gem:generateContent '{"contents":[{"role":"system","parts":[{"text":"hi"}]}]}'
expect_code 400 "gemini bad role"; expect_out '"status":"INVALID_ARGUMENT"'
post /api/chat '{"messages":[{"role":"user","content":"hi"}]}'; expect_code 400 "ollama without model"; expect_out '{"error":"model is required"}'
post /v1/chat/completions '{not json'; expect_code 400 "not JSON"; expect_out 'We could not parse the JSON body'
run grep -c '"problem":"max_tokens: Field required"' "$E2E_TMP/log.ndjson"; expect_out 1

stop
# --- it exits by itself after --idle-exit (a server of its own: a loaded
# machine may pause longer than a short idle time between the checks above)
start "$E2E_TMP/all.json" --idle-exit 2
for _ in $(seq 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SPID" 2>/dev/null; then rc=x; out=""; err=""; fail "server still running 10 s after --idle-exit 2"; stop; else ok; wait "$SPID"; rc=$?; expect_rc 0 "idle exit"; fi

# --- a fault: 429 with retry-after-ms, then the answer
start "$DATA/fault_429.json"
post /v1/chat/completions "$OA}" -D "$E2E_TMP/hdr"; expect_code 429 "fault"
expect_out '"code":"rate_limit_exceeded"'
grep -qi '^retry-after-ms: 50' "$E2E_TMP/hdr" && ok || fail "retry-after-ms header"
post /v1/chat/completions "$OA}"; expect_code 200 "after the fault"; expect_out 'Answer after a rate limit.'
post /v1/chat/completions "$OA}"; expect_code 500 "exhausted"; expect_out 'case exhausted'
stop

# --- auth: 401 in the API's shape without the key
start "$DATA/auth.json"
post /v1/chat/completions "$OA}"; expect_code 401 "no key"; expect_out '"type":"invalid_request_error"'
post /v1/messages "$AN}" -H 'anthropic-version: 2023-06-01' -H 'authorization: Bearer wrong'; expect_code 401 "wrong key"
expect_out '"authentication_error"'
post /v1/chat/completions "$OA}" -H 'Authorization: Bearer test-key'; expect_code 200 "right key"
stop

# --- a cut stream: curl sees a transfer closed mid-body
start "$DATA/cut.json"
post /v1/chat/completions "$OA,\"stream\":true}"
[ "$rc" = 18 ] && ok || fail "cut: curl exit 18 (partial transfer), got $rc"
if grep -qF 'data: [DONE]' <<<"$out"; then fail "cut stream has [DONE]"; else ok; fi
post /v1/chat/completions "$OA,\"stream\":true}"; expect_code 200 "after the cut"; expect_out 'data: [DONE]'
stop

# --- a stall before the headers: a 1 s client timeout fires; the next request is answered at once
start "$DATA/stall.json"
post /v1/chat/completions "$OA}" --max-time 1
[ "$rc" = 28 ] && ok || fail "stall: curl timeout (exit 28), got $rc"
post /v1/chat/completions "$OA}" --max-time 2; expect_code 200 "after the stall"; expect_out 'Answer after a stall.'
stop

# --- SIGTERM ends it cleanly; a broken case file is a clear error
start "$DATA/text.json"
kill -TERM "$SPID"; wait "$SPID"; rc=$?; expect_rc 0 "SIGTERM"
printf '{"name":"x","turns":[{"reply":{"txt":"typo"}}]}' >"$E2E_TMP/bad.json"
run "$SRV" --case "$E2E_TMP/bad.json"; expect_rc 2 "bad case"; expect_err "turns[0].reply: unknown key 'txt'"
for f in "$DATA"/*.json; do
  run timeout 5 "$SRV" --check --case "$f"; expect_rc 0 "case $f loads"; expect_out "case $(basename "$f" .json): "
done
finish
