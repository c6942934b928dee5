# Shared helpers for tests/e2e/*.sh (source it). Each script runs with
# VENOM_BIN, VENOM_SRC, VENOM_BUILD, VENOM_OUT, VENOM_FIXTURES from CTest.
set -euo pipefail
: "${VENOM_BIN:?run through ctest (VENOM_BIN unset)}"
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/venom-e2e-XXXXXX")
trap 'rm -rf "$E2E_TMP"' EXIT
export VENOM_HOME="$E2E_TMP/home"
mkdir -p "$VENOM_HOME/skills"
E2E_FAILS=0
E2E_CHECKS=0

# run CMD... : runs it, sets $rc, $out (stdout) and $err (stderr); never exits.
run() {
  set +e
  "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
  rc=$?
  set -e
  out=$(cat "$E2E_TMP/out")
  err=$(cat "$E2E_TMP/err")
}
# venom ARGS... : run the binary under test.
venom() { run "$VENOM_BIN" "$@"; }

fail() { echo "FAIL: $*"; echo "  rc=$rc"; echo "  stdout: ${out:0:2000}"; echo "  stderr: ${err:0:2000}"; E2E_FAILS=$((E2E_FAILS+1)); }
ok() { E2E_CHECKS=$((E2E_CHECKS+1)); }
expect_rc() { if [ "$rc" = "$1" ]; then ok; else fail "${2:-} expected exit $1"; fi; }
expect_out() { if grep -qF -- "$1" <<<"$out"; then ok; else fail "${2:-} stdout lacks: $1"; fi; }
expect_err() { if grep -qF -- "$1" <<<"$err"; then ok; else fail "${2:-} stderr lacks: $1"; fi; }
expect_no_err() { if grep -qF -- "$1" <<<"$err"; then fail "${2:-} stderr has: $1"; else ok; fi; }
# expect_json PYTHON_EXPR : evaluates with d = json.loads(stdout); must be true.
expect_json() {
  if python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); r=d.get("result") if isinstance(d,dict) else None; sys.exit(0 if ('"$1"') else 1)' <<<"$out"; then ok
  else fail "json check: $1"; fi
}
# install_fixture NAME [DIR] : make a fixture pack visible as a user skill pack.
install_fixture() { ln -s "$VENOM_FIXTURES/$1" "${2:-$VENOM_HOME/skills}/$1"; }
finish() {
  echo "$((E2E_CHECKS)) passed, $E2E_FAILS failed"
  [ "$E2E_FAILS" = 0 ]
}
