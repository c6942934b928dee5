#!/usr/bin/env bash
# venom skill install|remove|verify and venom trust end to end: a signed
# pack installed from a file, a file:// URL and an http:// URL (a server on
# 127.0.0.1), an unsigned one only with --allow-unsigned (then sandboxed), a
# plugin that does not register what its manifest declares (refused by the
# sandboxed probe), a tampered .so refused at load, the TTY confirmation.
source "$VENOM_SRC/tests/support/e2e.sh"

P="$E2E_TMP/good"
mkdir -p "$P"
cp "$VENOM_FIXTURES/good/venom.json" "$VENOM_FIXTURES/good/good.so" "$P/"
M="$E2E_TMP/missing"
mkdir -p "$M"
cp "$VENOM_FIXTURES/missing_skill/"* "$M/"
cd "$E2E_TMP"
S="$VENOM_HOME/skills"

venom help skill;                expect_rc 0; expect_out "venom skill install PACK|URL"
venom help trust;                expect_rc 0; expect_out "venom trust add"
venom skill install;             expect_rc 2; expect_err "usage: venom skill install"
venom trust;                     expect_rc 2; expect_err "which subcommand"
venom skill install nosuch.tar.gz; expect_rc 1; expect_err "no such file"
venom skill install ftp://x/y.tar.gz; expect_rc 1; expect_err "unsupported URL scheme"

venom pack build "$P";           expect_rc 0
venom pack keygen --out "$E2E_TMP/k.key"; expect_rc 0
PUB=$out

# unsigned: refused, then installed with --allow-unsigned and always sandboxed
venom skill install good-1.0.0.tar.gz; expect_rc 1; expect_err "is not signed"; expect_err "--allow-unsigned"
[ "$(ls -A "$S")" = ".venom.lock.lck" ] && ok || fail "something was left in $S: $(ls -A "$S")"
venom skill install good-1.0.0.tar.gz --allow-unsigned
expect_rc 0; expect_out "installed good 1.0.0"; expect_out "always runs sandboxed"
expect_err "NOT signed"; expect_err "secrets: TOKEN"; expect_err "runs:      in the sandbox"
venom skill info good.echo --json; expect_rc 0; expect_json 'd["isolation"]=="sandbox"'
venom skill run good.echo n=3 --json; expect_rc 0; expect_json 'd["result"]=={"n":3}'
# a workdir that is the sandbox's build place (and holds the pack): still the real /tmp inside
venom skill run good.echo n=4 --workdir /tmp --json; expect_rc 0; expect_json 'd["result"]=={"n":4}'

# signed by a key we do not trust, then trusted
venom pack sign good-1.0.0.tar.gz --key "$E2E_TMP/k.key"; expect_rc 0
venom skill install good-1.0.0.tar.gz; expect_rc 1; expect_err "which you do not trust"
venom trust add "$PUB" --label release; expect_rc 0; expect_out "trusted key"
KID=$(sed -n 's/^trusted key \([0-9a-f]*\):.*/\1/p' <<<"$out")
venom trust list;                expect_rc 0; expect_out "$KID"; expect_out "release"
venom trust list --json;         expect_rc 0; expect_json 'd[0]["key_id"]=="'"$KID"'"'
venom skill install "file://$E2E_TMP/good-1.0.0.tar.gz" --json
expect_rc 0; expect_json 'd["ok"] and d["trusted"] and d["signed"] and d["key_id"]=="'"$KID"'" and d["previous"]=="1.0.0"'
venom skill info good.echo --json; expect_rc 0; expect_json 'd["isolation"]=="in-process"'
venom skill install good-1.0.0.tar.gz; expect_rc 0; expect_out "already installed"
python3 - "$S/venom.lock" "$KID" <<'EOF' && ok || fail "lock file"
import json, sys
d = json.load(open(sys.argv[1]))["packs"]["good"]
assert d["version"] == "1.0.0" and d["signer"]["key_id"] == sys.argv[2], d
assert d["source"].startswith("/") and d["source"].endswith("good-1.0.0.tar.gz"), d["source"]
assert set(d["files"]) == {"CONTENTS.json", "SIGNATURE.json", "good.so", "venom.json"}, d["files"]
assert len(d["contents_sha256"]) == 64
EOF
venom skill verify;              expect_rc 0; expect_out "ok   good 1.0.0, signed by $KID"

# a tampered .so: refused at load, reported by verify, repaired by reinstalling
printf 'x' >>"$S/good/good.so"
venom skill run good.echo n=1;   expect_rc 4; expect_err "good.so was modified after it was installed"
venom skill verify --json;       expect_rc 1; expect_json 'not d["ok"] and "good.so was modified" in d["packs"][0]["problems"][0]'
venom skill install good-1.0.0.tar.gz; expect_rc 0; expect_out "installed good 1.0.0"
venom skill run good.echo n=1 --json; expect_rc 0; expect_json 'd["result"]=={"n":1}'

# over http from a server on 127.0.0.1 (through a redirect too); a 404 is a clear error
cat >"$E2E_TMP/serve.py" <<'EOF'
import http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/latest":
            self.send_response(302); self.send_header("Location", "/good-1.0.0.tar.gz"); self.end_headers(); return
        super().do_GET()
    def log_message(self, *a): pass
os.chdir(sys.argv[1])
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("port", s.server_port, flush=True)
s.serve_forever()
EOF
python3 "$E2E_TMP/serve.py" "$E2E_TMP" >"$E2E_TMP/http.log" 2>&1 &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null || true; rm -rf "$E2E_TMP"' EXIT
PORT=
for _ in $(seq 50); do
  PORT=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$E2E_TMP/http.log" | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
venom skill remove good;         expect_rc 0; expect_out "removed good 1.0.0"
venom skill install "http://127.0.0.1:$PORT/good-1.0.0.tar.gz"; expect_rc 0; expect_out "installed good 1.0.0"
venom skill install "http://127.0.0.1:$PORT/nope.tar.gz"; expect_rc 1; expect_err "HTTP 404"
venom skill remove good;         expect_rc 0
venom skill install "http://127.0.0.1:$PORT/latest"; expect_rc 0; expect_out "installed good 1.0.0"
kill $HTTP_PID 2>/dev/null || true

# remove, twice; a directory venom did not install is left alone
venom skill remove good;         expect_rc 0
[ ! -e "$S/good" ] && ok || fail "good still installed"
venom skill remove good;         expect_rc 1; expect_err "no pack 'good' is installed"
venom skill remove ../etc;       expect_rc 2; expect_err "not a pack name"
mkdir "$S/mine"; echo hi >"$S/mine/x"
venom skill remove mine;         expect_rc 1; expect_err "was not installed by 'venom skill install'"
[ -f "$S/mine/x" ] && ok || fail "a hand-made directory was touched"
rm -rf "$S/mine"

# a plugin that does not register a skill its manifest declares: the sandboxed probe refuses it
venom pack build "$M" -o missing.tar.gz; expect_rc 0
venom skill install missing.tar.gz --allow-unsigned
expect_rc 1; expect_err "was not installed"; expect_err "did not register"
[ "$(ls "$S")" = "venom.lock" ] && ok || fail "left behind: $(ls "$S")"

# a pack built for another machine only: it builds here, but does not install here
if [ "$(uname -m)" = x86_64 ]; then
  X="$E2E_TMP/cross"
  mkdir -p "$X/lib/aarch64-linux-gnu"
  printf '%s\n' '{"name": "cross", "version": "1.0.0", "description": "arm64 only",' \
    ' "library": "lib/${triplet}/cross.so", "skills": [{"name": "s", "description": "d"}]}' >"$X/venom.json"
  # an ELF header for EM_AARCH64 (183 = 0xb7)
  printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\003\000\267\000' >"$X/lib/aarch64-linux-gnu/cross.so"
  venom pack build "$X" -o cross.tar.gz; expect_rc 0
  venom skill install cross.tar.gz --allow-unsigned; expect_rc 1; expect_err "x86_64-linux-gnu"
  [ ! -e "$S/cross" ] && ok || fail "cross was installed"
fi

# on a terminal, the permissions are shown and an answer other than y cancels
if command -v script >/dev/null; then
  printf 'n\n' | script -qec "'$VENOM_BIN' skill install '$E2E_TMP/good-1.0.0.tar.gz'" /dev/null >"$E2E_TMP/tty" 2>&1 || true
  grep -q "Install good 1.0.0? \[y/N\]" "$E2E_TMP/tty" && grep -q "not installed" "$E2E_TMP/tty" && ok \
    || fail "tty prompt: $(cat "$E2E_TMP/tty")"
  [ ! -e "$S/good" ] && ok || fail "installed although the answer was n"
  printf 'y\n' | script -qec "'$VENOM_BIN' skill install '$E2E_TMP/good-1.0.0.tar.gz'" /dev/null >"$E2E_TMP/tty" 2>&1 || true
  [ -d "$S/good" ] && ok || fail "not installed although the answer was y: $(cat "$E2E_TMP/tty")"
fi

# trust remove: the installed pack now runs sandboxed
venom trust remove "$KID";       expect_rc 0
venom skill info good.echo --json; expect_rc 0; expect_json 'd["isolation"]=="sandbox"'
venom trust remove "$KID";       expect_rc 1; expect_err "no trusted key"

finish
