#!/usr/bin/env bash
# venom's CLI end to end: --version, help, skill list/info/run, every loader
# rejection as the user sees it, crashes attributed to the plugin, config.
source "$VENOM_SRC/tests/support/e2e.sh"
export VENOM_SYSTEM_SKILLS=""   # only the packs this test installs

# the header's ABI version: messages below are built from it
ABI_MAJOR=$(sed -n 's/^#define VENOM_ABI_MAJOR \([0-9]*\)$/\1/p' "$VENOM_SRC/sdk/include/venom/venom.h")
ABI_MINOR=$(sed -n 's/^#define VENOM_ABI_MINOR \([0-9]*\)$/\1/p' "$VENOM_SRC/sdk/include/venom/venom.h")
ABI="$ABI_MAJOR.$ABI_MINOR"; ABI_NEXT_MAJOR="$((ABI_MAJOR + 1)).$ABI_MINOR"; ABI_NEWER="$ABI_MAJOR.$((ABI_MINOR + 3))"
venom --version;            expect_rc 0; expect_out "venom "; expect_out "ABI $ABI"
venom help;                 expect_rc 0; expect_out "skill"; expect_out "doctor"
venom help skill;           expect_rc 0; expect_out "venom skill run NAME"
venom help nonsense;        expect_rc 2; expect_err "no help for 'nonsense'"
venom skil list;            expect_rc 2; expect_err "unknown command 'skil'"; expect_err "did you mean 'skill'"
venom;                      expect_rc 2; expect_out "commands:"
venom skill;                expect_rc 2; expect_err "which subcommand"
venom skill frob;           expect_rc 2; expect_err "unknown subcommand 'frob'"

venom skill list;           expect_rc 0; expect_out "no skills installed"
for f in good crash_call crash_init wrong_major newer_minor bad_magic no_entry unresolved init_fail \
         missing_skill extra_skill late_register desc_small; do install_fixture "$f"; done

# The fixtures are not first-party: trusted here so that they run in-process
# (the sandboxed behaviour is checked at the end and in tests/e2e/sandbox_*.sh).
TRUST='trust: [good, crash_call, crash_init, wrong_major, newer_minor, bad_magic, no_entry, unresolved, init_fail, missing_skill, extra_skill, late_register, desc_small, dup]'
echo "$TRUST" > "$VENOM_HOME/config.yaml"

# list: manifests only
venom skill list;           expect_rc 0; expect_out "good.echo"; expect_out "Return the arguments"; expect_out "wrong_major.echo"
venom skill list --json;    expect_rc 0; expect_json 'any(s["name"]=="good.host" for s in d["skills"]) and d["problems"]==[]'
venom skill list --bogus;   expect_rc 2; expect_err "unknown option '--bogus'"

# info
venom skill info good.echo; expect_rc 0; expect_out "good 1.0.0"; expect_out '"maxLength": 8'; expect_out "examples:"
venom skill info good.echo --json; expect_rc 0; expect_json 'd["args"]["properties"]["n"]["minimum"]==1 and d["permissions"]["env"]==["VENOM_FIXTURE_VAR"]'
venom skill info good.ecko; expect_rc 2; expect_err "unknown skill 'good.ecko'; did you mean 'good.echo'"
venom skill info;           expect_rc 2; expect_err "which skill"

# run: typed key=value arguments, JSON output
venom skill run good.echo n=3 s=hi flag=true 'list=[1,2]' --json
expect_rc 0; expect_json 'd=={"ok":True,"skill":"good.echo","result":{"n":3,"s":"hi","flag":True,"list":[1,2]}}'
venom skill run good.echo --args-json '{"n":2}' s=x
expect_rc 0; expect_out '"n": 2'; expect_out '"s": "x"'
venom skill run good.echo n=0;       expect_rc 2; expect_err "argument 'n'"; expect_err ">= 1"
venom skill run good.echo n=abc;     expect_rc 2; expect_err "argument 'n': 'abc' is not an integer"
venom skill run good.echo s=waytoolongstring; expect_rc 2; expect_err "argument 's'"
venom skill run good.echo nn=1;      expect_rc 2; expect_err "nn"
venom skill run good.echo justaword; expect_rc 2; expect_err "expected key=value, got 'justaword'"
venom skill run good.echo --args-json '[1]'; expect_rc 2; expect_err "not a JSON object"
venom skill run good.echo --frob;    expect_rc 2; expect_err "unknown option '--frob'"
venom skill run host;                expect_rc 2; expect_err "did you mean 'good.host'"
venom skill run good.hots;           expect_rc 2; expect_err "did you mean 'good.host'"
venom skill run good.fail;           expect_rc 1; expect_err "deliberate failure from the fixture"
venom skill run good.fail --json;    expect_rc 1; expect_json 'd["ok"]==False and d["code"]==-14 and "deliberate" in d["error"]'
venom skill run good.bad_result;     expect_rc 1; expect_err "does not match its result schema"; expect_err "count"

# every host function, from inside a real call
mkdir -p "$E2E_TMP/work"; echo "hello from input" > "$E2E_TMP/work/input.txt"
VENOM_FIXTURE_VAR=forty-two run "$VENOM_BIN" skill run good.host --workdir "$E2E_TMP/work" --json
expect_rc 0
expect_json 'r["alloc"] and r["progress"]==0 and r["cancelled"]==0 and r["valid"]==0 and r["invalid"]==-14 and r["invalid_msg"]'
expect_json 'r["env"]==0 and r["env_value"]=="forty-two" and r["env_denied"]==-4'
expect_json 'r["fs"]==0 and r["content"]=="hello from input" and r["escape"]==-4'
expect_json 'r["secret"]==-3 and r["http"]==-4 and r["stream"]==0 and r["register_in_call"]==-6 and r["has_json_validate"]'  # TOKEN: declared, not in the vault

# rejections, one line each naming the file and the reason
venom skill run wrong_major.echo;  expect_rc 4; expect_err "wrong_major.so: built for venom ABI $ABI_NEXT_MAJOR but this host speaks ABI $ABI"
venom skill run newer_minor.echo;  expect_rc 4; expect_err "needs a host with ABI $ABI_NEWER or newer"
venom skill run bad_magic.echo;    expect_rc 4; expect_err "bad magic 0xdeadbeef"
venom skill run no_entry.echo;     expect_rc 4; expect_err "missing entry symbol venom_plugin_entry"
venom skill run unresolved.echo;   expect_rc 4; expect_err "undefined symbol: venom_fixture_no_such_function"
venom skill run init_fail.echo;    expect_rc 4; expect_err "init failed (code -14): cannot reach the fixture's database"
venom skill run desc_small.echo;   expect_rc 4; expect_err "skill descriptor too small"
venom skill run missing_skill.echo; expect_rc 4; expect_err "declares skill 'ghost' but the plugin did not register it"
venom skill run extra_skill.echo;  expect_rc 4; expect_err "registered skill 'extra' which manifest"
venom skill run late_register.late_register --json
expect_rc 0; expect_json 'd["result"]["register_rc"]==-6'; expect_err "late_register.so: register_skill called outside init"

# crashes: the process dies, the report names the plugin and the phase
venom skill run crash_call.echo n=1; expect_rc 0
venom skill run crash_call.crash;  expect_rc 139; expect_err "plugin 'crash_call'"; expect_err "crashed in call crash_call.crash: SEGV"
venom skill run crash_init.echo;   expect_rc 139; expect_err "plugin 'crash_init'"; expect_err "crashed in init: SEGV"

# duplicate pack names in one directory: both named, the second ignored
install_fixture dup_a; install_fixture dup_b
venom skill list; expect_rc 0; expect_err "duplicate pack 'dup', already provided by"; expect_err "dup_a/venom.json"; expect_err "dup_b/venom.json"
# a project pack shadows a user pack of the same name, silently
mkdir -p "$E2E_TMP/proj/.venom/skills"; install_fixture dup_b "$E2E_TMP/proj/.venom/skills"
(cd "$E2E_TMP/proj" && run "$VENOM_BIN" skill info dup.echo --json && echo "$out" > "$E2E_TMP/info.json")
out=$(cat "$E2E_TMP/info.json"); expect_json '"/proj/.venom/skills/dup_b/" in d["manifest"]'

# configuration: unknown keys are errors with the line; env overrides
printf 'log_level: info\ncolour: never\n' > "$VENOM_HOME/config.yaml"
venom skill list; expect_rc 2; expect_err "config.yaml:2: unknown key 'colour'"; expect_err "did you mean 'color'"
printf 'log_level: loud\n' > "$VENOM_HOME/config.yaml"
venom skill list; expect_rc 2; expect_err "config.yaml:1: 'log_level' must be one of error, warn, info, debug"
printf 'log_level: info\n%s\n' "$TRUST" > "$VENOM_HOME/config.yaml"
run "$VENOM_BIN" skill run good.host --workdir "$E2E_TMP/work"; expect_rc 0; expect_err "venom[good]: info: host skill running"
VENOM_LOG_LEVEL=error run "$VENOM_BIN" skill run good.host --workdir "$E2E_TMP/work"; expect_no_err "host skill running"
VENOM_LOG_LEVEL=chatty run "$VENOM_BIN" skill list; expect_rc 2; expect_err "VENOM_LOG_LEVEL='chatty'"
venom --log-level debug skill run good.host --workdir "$E2E_TMP/work"; expect_rc 0; expect_err "progress  50% half way"
rm "$VENOM_HOME/config.yaml"

# untrusted now: the same packs run in a sandboxed worker; venom survives
venom skill info good.echo;        expect_rc 0; expect_out "isolation:  sandbox (the manifest asks for in-process, but the pack is not trusted"
venom skill run good.echo n=4 --json; expect_rc 0; expect_json 'r=={"n":4}'
venom skill run good.echo n=0;     expect_rc 2; expect_err "argument 'n'"
venom skill run good.fail;         expect_rc 1; expect_err "deliberate failure from the fixture"
crashed="the skill crashed (SIGSEGV)"; [ -n "${VENOM_SANITIZE:-}" ] && crashed="without a result" # ASan's handler exits 1
venom skill run crash_call.crash;  expect_rc 1; expect_err "crash_call.crash: "; expect_err "$crashed"
venom skill run crash_init.echo;   expect_rc 1; expect_err "$crashed"
venom skill run wrong_major.echo;  expect_rc 4; expect_err "built for venom ABI $ABI_NEXT_MAJOR but this host speaks ABI $ABI"
venom skill run init_fail.echo;    expect_rc 4; expect_err "cannot reach the fixture's database"
VENOM_FIXTURE_VAR=seven run "$VENOM_BIN" skill run good.host --workdir "$E2E_TMP/work" --json
expect_rc 0; expect_json 'r["env_value"]=="seven" and r["content"]=="hello from input" and r["escape"]==-4 and r["env_denied"]==-4'

finish
