# Helpers for the skill-pack end-to-end scripts (tests/e2e/skills_*.sh), sourced.
# Sets $top (temp dir, removed on exit) with $top/work (the cwd) and
# $top/outside, VENOM_HOME, and: vrun SKILL ARGS... (sets OUT, RC),
# check DESC RC PYTHON_EXPR, expect_file PATH CONTENT; counts $fails.
set -euo pipefail

: "${VENOM_BIN:?VENOM_BIN must point at the built venom binary}"
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
export VENOM_HOME="$top/home"
mkdir -p "$VENOM_HOME" "$top/work" "$top/outside"
cd "$top/work"

fails=0
# vrun SKILL ARGS... : run with --json; sets OUT (stdout) and RC.
vrun() {
    set +e
    OUT=$("$VENOM_BIN" skill run "$@" --json 2>"$top/stderr")
    RC=$?
    set -e
}
# check DESCRIPTION EXPECTED_RC PYTHON_EXPR: r is the parsed JSON line.
check() {
    local what=$1 want=$2 expr=$3
    if [ "$RC" != "$want" ]; then
        echo "FAIL $what: exit $RC, expected $want; stdout: $OUT; stderr: $(cat "$top/stderr")"
        fails=$((fails + 1))
        return
    fi
    if ! OUT="$OUT" python3 -c '
import json, os, sys
r = json.loads(os.environ["OUT"])
ok = eval(sys.argv[1])
sys.exit(0 if ok else 1)' "$expr"; then
        echo "FAIL $what: '$expr' does not hold for: $OUT"
        fails=$((fails + 1))
        return
    fi
    echo "ok   $what"
}
# expect_file PATH CONTENT
expect_file() {
    if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
        echo "FAIL file $1 holds '$(cat "$1" 2>/dev/null)', expected '$2'"
        fails=$((fails + 1))
    else
        echo "ok   file $1"
    fi
}
