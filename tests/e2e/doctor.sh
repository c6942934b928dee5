#!/usr/bin/env bash
# e2e: `venom doctor` — text report, --json object, usage errors.
set -u
: "${VENOM_BIN:?VENOM_BIN must point at the built venom binary}"

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/venom-doctor-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export VENOM_HOME="$tmp/home"
mkdir -p "$VENOM_HOME"

# JSON checks with jq, else python3.
json_get() { # json_get FILE FILTER  (jq syntax, a path like .cgroup.version)
    if command -v jq >/dev/null 2>&1; then
        jq -r "$2" "$1"
    else
        python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].strip(".").split("."):
    v=v[k] if isinstance(v,dict) and k in v else None
print("null" if v is None else (str(v).lower() if isinstance(v,bool) else v))' "$1" "$2"
    fi
}
json_valid() {
    if command -v jq >/dev/null 2>&1; then jq -e 'type == "object"' "$1" >/dev/null
    else python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1])), dict)' "$1"; fi
}

kernel=$(uname -r)

# --- text
"$VENOM_BIN" doctor >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "venom doctor exited $rc: $(cat "$tmp/err")"
grep -qF "$kernel" "$tmp/out" || fail "text output does not mention the kernel $kernel"
for name in "user namespaces" "namespaces" "landlock" "seccomp" "no_new_privs" "cgroups" "jansson" "sqlite3"; do
    grep -q "^ *$name " "$tmp/out" || fail "text output has no '$name' line"
done
last=$(tail -n 1 "$tmp/out")
case "$last" in
    "sandbox "*full:*|"sandbox "*degraded:*|"sandbox "*none:*) ;;
    *) fail "text output does not end with the sandbox summary: '$last'" ;;
esac

# --- JSON
"$VENOM_BIN" doctor --json >"$tmp/json" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "venom doctor --json exited $rc: $(cat "$tmp/err")"
if json_valid "$tmp/json"; then
    for key in kernel arch is_root userns userns_reason namespaces.mount namespaces.pid namespaces.net \
               namespaces.ipc namespaces.uts namespaces.cgroup landlock_abi seccomp seccomp_lib \
               cgroup.version cgroup.writable cgroup.path no_new_privs openat2 pidfd close_range \
               libraries.jansson libraries.sqlite3 libraries.curl sandbox summary; do
        [ "$(json_get "$tmp/json" ".$key")" != null ] || fail "--json lacks key $key"
    done
    [ "$(json_get "$tmp/json" .kernel)" = "$kernel" ] || fail "--json kernel is not $kernel"
    [ "$(json_get "$tmp/json" .arch)" = "$(uname -m)" ] || fail "--json arch is not $(uname -m)"
    want_root=false; [ "$(id -u)" = 0 ] && want_root=true
    [ "$(json_get "$tmp/json" .is_root)" = "$want_root" ] || fail "--json is_root is not $want_root"
    level=$(json_get "$tmp/json" .sandbox)
    summary=$(json_get "$tmp/json" .summary)
    case "$summary" in
        "$level:"*) ;;
        *) fail "--json summary '$summary' does not start with the level '$level'" ;;
    esac
    grep -qF "$summary" "$tmp/out" || fail "text and --json summaries differ"
else
    fail "venom doctor --json is not a JSON object: $(head -c 300 "$tmp/json")"
fi

# --- help and usage errors
"$VENOM_BIN" doctor --help >"$tmp/help" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "venom doctor --help exited $rc"
grep -q -- "--json" "$tmp/help" || fail "--help does not document --json"

"$VENOM_BIN" doctor --bogus >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] || fail "venom doctor --bogus exited $rc, want 2"
grep -q -- "--bogus" "$tmp/err" || fail "the usage error does not name --bogus: $(cat "$tmp/err")"
[ -s "$tmp/out" ] && fail "venom doctor --bogus printed a report on stdout"

"$VENOM_BIN" doctor extra >/dev/null 2>"$tmp/err"
rc=$?
[ "$rc" = 2 ] || fail "venom doctor extra exited $rc, want 2"
grep -q "extra" "$tmp/err" || fail "the usage error does not name the argument 'extra'"

if [ "$fails" -ne 0 ]; then
    echo "doctor.sh: $fails failure(s)" >&2
    exit 1
fi
echo "doctor.sh: ok"
