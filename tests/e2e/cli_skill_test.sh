#!/usr/bin/env bash
# venom skill test: a pack made with `venom skill new` (its .so compiled
# here with cc) passes; a wrong expected result, a manifest declaring a
# skill the .so does not register, a pack without a .so for this host's
# triplet and a bad manifest fail with exit 1 and a message saying what and
# where; the build-dir rule; --json. Everything runs in the sandbox.
source "$VENOM_SRC/tests/support/e2e.sh"
cd "$E2E_TMP"
triplet=$(cc -print-multiarch 2>/dev/null || true)
[ -n "$triplet" ] || triplet=$(gcc -dumpmachine)

# make_pack DIR NAME [--typed]: scaffold NAME and compile its .so into DIR
make_pack() {
  local dir=$1 name=$2; shift 2
  venom skill new "$name" --dir "$E2E_TMP/src" "$@"; expect_rc 0 "skill new $name"
  mkdir -p "$dir/lib/$triplet"
  cp "$E2E_TMP/src/$name/venom.json" "$dir/"
  run cc -std=c17 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I"$VENOM_SRC/sdk/include" \
     -o "$dir/lib/$triplet/$name.so" "$E2E_TMP/src/$name/skill.c"
  expect_rc 0 "compile $name"
}
mkdir -p src
make_pack "$E2E_TMP/b/pack/hello" hello
make_pack "$E2E_TMP/typed" adder --typed

venom skill test;                    expect_rc 2; expect_err "usage: venom skill test DIR"
venom skill test a b;                expect_rc 2; expect_err "unexpected 'b'"
venom skill test --frob x;           expect_rc 2; expect_err "unexpected '--frob'"

# ---- passing: the pack dir, and a build dir with exactly one pack below it
venom skill test b/pack/hello
expect_rc 0 "pack dir"; expect_out "ok    load:"; expect_out "skills: greet"
expect_out 'ok    hello.greet example 1 {"name":"Ada"} -> {"text":"Hello, Ada!"}'
expect_out "ok    hello.greet example 2"; expect_out "2 examples: 2 passed, 0 failed"
venom skill test b
expect_rc 0 "build dir"; expect_out "pack  hello 0.1.0 (b/pack/hello, "
venom skill test typed
expect_rc 0 "typed"; expect_out "typed: add"; expect_out 'adder.add example 1 {"a":2,"b":3} -> 5'
venom skill test b/pack/hello --json
expect_rc 0
expect_json 'd["ok"] and d["passed"]==2 and d["failed"]==0 and d["registered"]["skills"]==["greet"] and d["examples"][0]["result"]=={"text":"Hello, Ada!"}'

# ---- a wrong expected result: the diff names the place
cp -r b/pack/hello wrong
sed -i 's/"Hello, Grace Hopper!"/"Hi, Grace!"/' wrong/venom.json
venom skill test wrong
expect_rc 1 "wrong result"; expect_out "ok    hello.greet example 1"
expect_out 'FAIL  hello.greet example 2 {"name":"Grace Hopper"}: at /text: expected "Hi, Grace!", got "Hello, Grace Hopper!"'
expect_out "2 examples: 1 passed, 1 failed"
venom skill test wrong --json
expect_rc 1; expect_json 'not d["ok"] and d["failed"]==1 and d["examples"][1]["ok"]==False and "at /text" in d["examples"][1]["error"]'

# an example without "result" only has to succeed; a failing call is a FAIL
python3 - wrong/venom.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["skills"][0]["examples"] = [{"args": {"name": "Bo"}}, {"args": {"name": ""}, "result": {"text": "Hello, !"}}]
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
venom skill test wrong
expect_rc 1 "no result / bad args"; expect_out 'ok    hello.greet example 1 {"name":"Bo"} -> {"text":"Hello, Bo!"}'
expect_out 'FAIL  hello.greet example 2 {"name":""}: the skill failed ('; expect_out "argument 'name'"

# ---- the manifest declares a skill the .so does not register
cp -r b/pack/hello ghost
python3 - ghost/venom.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["skills"].append({"name": "wave", "description": "Wave at someone"})
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
venom skill test ghost
expect_rc 1 "unregistered skill"; expect_out "FAIL  load:"
expect_err "declares skill 'wave' but the plugin did not register it"
venom skill test ghost --json
expect_rc 1; expect_json 'not d["ok"] and "wave" in d["error"]'

# ---- no .so for this host's triplet
cp -r b/pack/hello arch
mv "arch/lib/$triplet" arch/lib/sparc64-linux-gnu
venom skill test arch
expect_rc 1 "no .so for the host"
expect_err "arch/venom.json:5: 'library' (\"lib/\${triplet}/hello.so\"): the pack has no library for this machine ($triplet)"
expect_err "the pack has libraries for: sparc64-linux-gnu"

# ---- a bad manifest: file and line
cp -r b/pack/hello badm
sed -i 's/"description": "Greet someone by name"/"descripton": "Greet someone by name"/' badm/venom.json
venom skill test badm
expect_rc 1 "bad manifest"; expect_err "badm/venom.json:10: unknown key 'descripton'"

# ---- what DIR may be
venom skill test nowhere;  expect_rc 1; expect_err "nowhere: no such directory"
mkdir empty
venom skill test empty;    expect_rc 1; expect_err "no pack here"
venom skill test .;        expect_rc 1; expect_err "pack dirs found below it"

finish
