#!/usr/bin/env bash
# The two example packs of docs/examples/, used as a third-party author and
# a user would: install the SDK into a temporary prefix, build each example
# from its directory with CMake and find_package(venom), install the packs
# as directories in $VENOM_HOME/skills, and run them sandboxed against a
# scripted HTTP server on 127.0.0.1:
#   http-fetch    an allowlisted host works; an unlisted one is refused
#   secret-token  the token comes from the vault (VENOM_VAULT_KEY, then the
#                 key file); a missing, an undeclared, a wrong-key secret
#                 fail with their messages; the token is never in the
#                 output, the result, or venom.db after a `venom run`.
source "$VENOM_SRC/tests/support/e2e.sh"
unset VENOM_SYSTEM_SKILLS VENOM_VAULT_KEY
prefix="$E2E_TMP/prefix"
work="$E2E_TMP/work"
mkdir -p "$work"
cd "$work"
TOKEN="tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# ---- the scripted server: /page, /api (wants "Bearer $TOKEN"), /echo
# (repeats the Authorization header), /leak (a page that holds the token)
python3 - "$E2E_TMP/port" "$TOKEN" <<'PY' &
import http.server, json, sys
port_file, token = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization")
        if self.path == "/page":
            status, body = 200, "hello from the test server\n"
        elif self.path == "/api":
            good = auth == "Bearer " + token
            status, body = (200 if good else 401), json.dumps({"authorized": good, "user": "ada" if good else None})
        elif self.path == "/echo":
            status, body = 200, "you sent: %s" % auth
        elif self.path == "/leak":
            status, body = 200, "the token is " + token
        else:
            status, body = 404, "no such page"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
srv_pid=$!
trap 'kill $srv_pid 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
for _ in $(seq 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.1; done
PORT=$(cat "$E2E_TMP/port")
base="http://127.0.0.1:$PORT"

# no_token WHAT : the token is in neither stdout nor stderr of the last run
no_token() {
  if grep -qF -- "$TOKEN" <<<"$out$err"; then fail "$1: the token appears in the output"; else ok; fi
}

# ---- the SDK, installed; each example built from docs/examples as is
run cmake --install "$VENOM_BUILD" --prefix "$prefix"
expect_rc 0 "cmake --install"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
for ex in http-fetch:http_fetch secret-token:secret_token; do
  dir=${ex%%:*} name=${ex##*:}
  src="$VENOM_SRC/docs/examples/$dir"
  for f in "$name.c" venom.json CMakeLists.txt README.md; do
    [ -f "$src/$f" ] && ok || fail "docs/examples/$dir lacks $f"
  done
  run cmake -S "$src" -B "$E2E_TMP/build-$dir" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="-std=c17 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror"
  expect_rc 0 "configure docs/examples/$dir"
  run cmake --build "$E2E_TMP/build-$dir"
  expect_rc 0 "build docs/examples/$dir"
  run nm -D --defined-only "$E2E_TMP/build-$dir/$name.so"
  syms=$(awk '{print $NF}' <<<"$out" | sort -u)
  [ "$syms" = venom_plugin_entry ] && ok || fail "$name.so must export only venom_plugin_entry, exports: $(echo $syms)"
  mkdir -p "$VENOM_HOME/skills/$name"
  cp "$E2E_TMP/build-$dir/$name.so" "$src/venom.json" "$VENOM_HOME/skills/$name/"
done

venom skill info http_fetch.get
expect_rc 0; expect_out "isolation:  sandbox"; expect_out "network:    hosts"
venom skill info secret_token.call
expect_rc 0; expect_out "isolation:  sandbox"

# ---- http-fetch: brokered HTTP with a host allowlist, sandboxed
venom skill run http_fetch.get url="$base/page" --json
expect_rc 0 "allowlisted host"
expect_json 'd["ok"] and r["status"]==200 and r["body"]=="hello from the test server\n" and r["headers"]["content-type"].startswith("text/plain")'
venom skill run http_fetch.get url="$base/missing" --json
expect_rc 0 "a 404 is an answer"; expect_json 'r["status"]==404'
venom skill run http_fetch.get url="http://localhost:$PORT/page"
expect_rc 1 "unlisted host"
expect_err "http_fetch.get: http: host 'localhost' port $PORT is not in http_fetch's permissions.network.hosts"
venom skill run http_fetch.get url="http://127.0.0.2:$PORT/page" --json
expect_rc 1; expect_json 'not d["ok"] and d["code"]==-4 and "host '"'"'127.0.0.2'"'"'" in d["error"]'
venom skill run http_fetch.get url="file:///etc/passwd"
expect_rc 2 "the schema wants http(s)"; expect_err "url"

# ---- secret-token: the vault
venom skill run secret_token.call url="$base/api"
expect_rc 1 "no secret yet"
expect_err "there is no secret 'API_TOKEN' in the vault; store it with: venom secrets set API_TOKEN"

# the key from VENOM_VAULT_KEY (CI): no key file is made
export VENOM_VAULT_KEY=$(head -c 32 /dev/urandom | base64)
run sh -c 'printf "%s\n" "$1" | "$VENOM_BIN" secrets set API_TOKEN' sh "$TOKEN"
expect_rc 0 "secrets set (piped)"; expect_out "stored secret API_TOKEN"; no_token "secrets set"
[ ! -e "$VENOM_HOME/vault.key" ] && ok || fail "a key file was made although VENOM_VAULT_KEY is set"
venom secrets list
expect_rc 0; expect_out "API_TOKEN"; no_token "secrets list"
venom secrets list --json
expect_rc 0; expect_json 'len(d["secrets"])==1 and d["secrets"][0]["name"]=="API_TOKEN" and set(d["secrets"][0])=={"name","created","updated"}'
if grep -qaF -- "$TOKEN" "$VENOM_HOME/venom.db" "$VENOM_HOME/venom.db-wal" 2>/dev/null; then
  fail "the token is in clear in venom.db"; else ok; fi

venom skill run secret_token.call url="$base/api" --json
expect_rc 0 "the token from the vault"
expect_json 'r["status"]==200 and json.loads(r["body"])=={"authorized":True,"user":"ada"}'
no_token "secret_token.call"
venom skill run secret_token.call url="$base/api" secret=OTHER_TOKEN
expect_rc 1 "undeclared secret"
expect_err "secret 'OTHER_TOKEN' is not declared in the manifest's permissions.secrets"
venom skill run secret_token.call url="$base/echo"
expect_rc 1 "an echoing server"; expect_err "the response contains the token; it is not returned"; no_token "echo"
venom skill run secret_token.call url="http://localhost:$PORT/api"
expect_rc 1; expect_err "host 'localhost'"; no_token "unlisted host"

# a wrong key: a clear error, never bytes
VENOM_VAULT_KEY=$(head -c 32 /dev/urandom | base64) venom skill run secret_token.call url="$base/api"
expect_rc 1 "wrong key"; expect_err "secret 'API_TOKEN' was stored with another vault key"; no_token "wrong key"
VENOM_VAULT_KEY=not-a-key venom skill run secret_token.call url="$base/api"
expect_rc 2 "a malformed key is a configuration error"; expect_err "VENOM_VAULT_KEY is set but is not a vault key"

# the key file: made by the first set without VENOM_VAULT_KEY, mode 0600
unset VENOM_VAULT_KEY
export MY_TOKEN_VAR="$TOKEN"
venom secrets set API_TOKEN --from-env MY_TOKEN_VAR
expect_rc 0; expect_out "replaced secret API_TOKEN"; expect_err "created the vault key $VENOM_HOME/vault.key"; no_token "--from-env"
unset MY_TOKEN_VAR
[ "$(stat -c %a "$VENOM_HOME/vault.key")" = 600 ] && ok || fail "vault.key mode $(stat -c %a "$VENOM_HOME/vault.key")"
venom skill run secret_token.call url="$base/api" --json
expect_rc 0 "the token with the key file"; expect_json 'json.loads(r["body"])["authorized"]'
chmod 644 "$VENOM_HOME/vault.key"
venom skill run secret_token.call url="$base/api"
expect_rc 1 "key file readable by others"; expect_err "is readable by others (mode 0644); run: chmod 600"
chmod 600 "$VENOM_HOME/vault.key"

# ---- a `venom run` that reads the secret, then fetches a page holding it:
# from the moment the secret is handed out it is scrubbed from the log
venom run "call the API at $base/api with the API token, then fetch the page $base/leak" --json
expect_rc 0 "venom run with the examples"
no_token "venom run"
# planned: the two steps run the two skills
expect_out '"skill":"secret_token.call"'; expect_out '"skill":"http_fetch.get"'
expect_out "the token is [REDACTED]"
rid=$(head -1 <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
venom runs log "$rid" --json
expect_rc 0; no_token "runs log"; expect_out "the token is [REDACTED]"
venom runs show "$rid"
expect_rc 0; no_token "runs show"
if grep -qaF -- "$TOKEN" "$VENOM_HOME/venom.db" "$VENOM_HOME/venom.db-wal" 2>/dev/null; then
  fail "the token reached venom.db"; else ok; fi
run python3 - "$VENOM_HOME/venom.db" "$TOKEN" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("SELECT count(*) FROM events WHERE instr(body, ?) > 0", (sys.argv[2],)).fetchone()[0]
r = db.execute("SELECT count(*) FROM events WHERE instr(body, '[REDACTED]') > 0").fetchone()[0]
g = db.execute("SELECT count(*) FROM runs WHERE instr(goal, ?) > 0 OR instr(coalesce(summary, ''), ?) > 0",
               (sys.argv[2], sys.argv[2])).fetchone()[0]
print(n, r, g)
sys.exit(0 if n == 0 and r > 0 and g == 0 else 1)
PY
expect_rc 0 "events: no token, [REDACTED] instead"

# the control: a run that never reads the secret records the page as it is
# (so the check above can fail)
ctl="$E2E_TMP/control"
mkdir -p "$ctl/skills"
cp -r "$VENOM_HOME/skills/http_fetch" "$ctl/skills/"
VENOM_HOME="$ctl" venom run "fetch the page $base/leak" --json
expect_rc 0 "control run"
if grep -qaF -- "$TOKEN" "$ctl/venom.db" "$ctl/venom.db-wal" 2>/dev/null; then ok; else
  fail "control: the page's token should be recorded when no secret was read"; fi

# ---- rm: the skill then says how to set it again
venom secrets rm API_TOKEN
expect_rc 0; expect_out "removed secret API_TOKEN"
venom skill run secret_token.call url="$base/api"
expect_rc 1; expect_err "venom secrets set API_TOKEN"

finish
