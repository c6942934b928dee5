#!/usr/bin/env bash
# venom pack build|keygen|sign|verify end to end: a pack dir made here, a
# deterministic archive, a key, a signature, and tampered archives refused
# with exit 1 and a message naming the entry.
source "$VENOM_SRC/tests/support/e2e.sh"

P="$E2E_TMP/src"
mkdir -p "$P/data"
cat >"$P/venom.json" <<'EOF'
{"name": "demo", "version": "2.0.0", "description": "a demo pack", "library": "demo.so",
 "skills": [{"name": "hello", "description": "Say hello"}]}
EOF
echo "# demo" >"$P/README.md"
printf 'alpha\nbeta\n' >"$P/data/words.txt"
head -c 50000 /dev/zero | tr '\0' v >"$P/demo.so"; chmod 755 "$P/demo.so"
cd "$E2E_TMP"

venom help pack;                 expect_rc 0; expect_out "venom pack sign PACK --key FILE"
venom pack;                      expect_rc 2; expect_err "which subcommand"
venom pack frob;                 expect_rc 2; expect_err "unknown subcommand 'frob'"
venom pack build;                expect_rc 2; expect_err "usage: venom pack build DIR"

# build: default name, deterministic
venom pack build "$P";           expect_rc 0; expect_out "built demo-2.0.0.tar.gz"; expect_out "files:     4"
[ -f demo-2.0.0.tar.gz ] && ok || fail "no demo-2.0.0.tar.gz"
sleep 1
venom pack build "$P" -o again.tar.gz; expect_rc 0
cmp -s demo-2.0.0.tar.gz again.tar.gz && ok || fail "two builds of the same dir differ"
tar tzf demo-2.0.0.tar.gz >"$E2E_TMP/list"
grep -qx "demo/CONTENTS.json" "$E2E_TMP/list" && grep -qx "demo/data/words.txt" "$E2E_TMP/list" && ok || fail "entries: $(cat "$E2E_TMP/list")"

venom pack verify demo-2.0.0.tar.gz; expect_rc 0; expect_out "valid"; expect_out "signed:    no"
venom pack verify demo-2.0.0.tar.gz --json
expect_rc 0; expect_json 'd["ok"] and d["pack"]=="demo" and d["version"]=="2.0.0" and d["signed"]==False and d["files"]==4'

# keygen: default place, 0600, never overwritten
venom pack keygen;               expect_rc 0; expect_out "ed25519:"; expect_err "key id"
PUB=$out
[ "$(stat -c %a "$VENOM_HOME/keys/pack.key")" = 600 ] && ok || fail "key mode"
venom pack keygen;               expect_rc 1; expect_err "already exists"
venom pack keygen --out "$E2E_TMP/other.key"; expect_rc 0

# sign, verify signed
venom pack sign demo-2.0.0.tar.gz; expect_rc 2; expect_err "--key FILE"
venom pack sign demo-2.0.0.tar.gz --key "$VENOM_HOME/keys/pack.key"; expect_rc 0; expect_out "signed:    yes"
venom pack verify demo-2.0.0.tar.gz --json
expect_rc 0; expect_json "d['signed'] and d['key']=='$PUB' and len(d['key_id'])==16"
KEYID=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["key_id"])' <<<"$out")
venom pack verify demo-2.0.0.tar.gz; expect_rc 0; expect_out "id $KEYID"

# tampering: unpack with tar, change, repack
mkdir x && tar xzf demo-2.0.0.tar.gz -C x
echo "# changed" >x/demo/README.md
tar czf changed.tar.gz -C x demo
venom pack verify changed.tar.gz; expect_rc 1; expect_err "demo/README.md"
venom pack verify changed.tar.gz --json; expect_rc 1; expect_json 'd["ok"]==False and "README.md" in d["error"]'
rm -rf x && mkdir x && tar xzf demo-2.0.0.tar.gz -C x
echo extra >x/demo/extra.txt
tar czf extra.tar.gz -C x demo
venom pack verify extra.tar.gz;  expect_rc 1; expect_err "demo/extra.txt' is not listed"
rm -rf x && mkdir x && tar xzf demo-2.0.0.tar.gz -C x
ln -s /etc/passwd x/demo/link
tar czf link.tar.gz -C x demo
venom pack verify link.tar.gz;   expect_rc 1; expect_err "demo/link' is a symbolic link"
rm -rf x && mkdir x && tar xzf demo-2.0.0.tar.gz -C x
sed -i 's/"2\.0\.0"/"2.0.1"/' x/demo/CONTENTS.json
tar czf resigned.tar.gz -C x demo
venom pack verify resigned.tar.gz; expect_rc 1; expect_err "signature"; expect_err "$KEYID"
# ...which signing again fixes (CONTENTS.json is self-consistent: only the version changed)
venom pack sign resigned.tar.gz --key "$E2E_TMP/other.key"; expect_rc 0
venom pack verify resigned.tar.gz --json; expect_rc 0; expect_json 'd["version"]=="2.0.1" and d["key_id"]!="'"$KEYID"'"'

# not a pack
echo "hello" >notapack.tar.gz
venom pack verify notapack.tar.gz; expect_rc 1; expect_err "not a readable pack archive"
venom pack verify missing.tar.gz;  expect_rc 1; expect_err "missing.tar.gz"

# a dir with a symlink does not build
ln -s README.md "$P/alias.md"
venom pack build "$P" -o bad.tar.gz; expect_rc 1; expect_err "alias.md is a symbolic link"
[ ! -e bad.tar.gz ] && ok || fail "bad.tar.gz was written"
finish
