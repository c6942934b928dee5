#!/usr/bin/env bash
# `venom run` / `venom runs` command line: usage errors exit 2 with a message
# saying what is wrong and record nothing; `runs show` of a bad id exits 2;
# `runs list --json` is JSON; piped output is the answer alone (progress on
# stderr only with -v); a missing API key variable exits 4 naming it.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

new_wd; srv_start text; write_config openai true

# usage ARGS... -- TEXT...: `venom ARGS` exits 2 and stderr has each TEXT.
usage_err() {
  local a=() t
  while [ "$1" != -- ]; do a+=("$1"); shift; done
  shift
  vrun "${a[@]}"
  expect_rc 2 "venom ${a[*]}"
  [ -z "$out" ] && ok || fail "venom ${a[*]}: nothing on stdout"
  for t in "$@"; do expect_err "$t" "venom ${a[*]}"; done
}
usage_err run -- "what is the goal?" "usage: venom run"
usage_err run "" -- "what is the goal?"
usage_err run --frobnicate "x" -- "unknown option '--frobnicate'" "usage: venom run"
usage_err run --max-steps abc "x" -- "--max-steps 'abc'" "whole number from 1 to"
usage_err run --max-steps 0 "x" -- "--max-steps '0'" "whole number from 1 to"
usage_err run "x" --max-steps -- "--max-steps needs a value"
usage_err run --timeout -1 "x" -- "--timeout '-1'"
usage_err run --max-cost lots "x" -- "--max-cost 'lots'"
usage_err run "a" "b" -- "one goal only"
usage_err run --provider opnai "x" -- "unknown provider 'opnai'" "did you mean 'openai'"
usage_err run --skills nosuch "x" -- "no skill matches 'nosuch'" "venom skill list"
usage_err run --skills fs.wrte "x" -- "no skill matches 'fs.wrte'" "did you mean 'fs.write'"
usage_err run --workdir "$E2E_TMP/nonexistent" "x" -- "--workdir" "No such file"
usage_err runs show nosuch -- "'nosuch' is not a run id" "venom runs list"
usage_err runs show r00000000000000000 -- "no run 'r00000000000000000'"
usage_err runs log nosuch -- "'nosuch' is not a run id"
usage_err runs show -- "which run?"
usage_err runs frob -- "unknown subcommand 'frob'"

# none of that started a run (the server was never asked either)
vrun runs list --json
if [ ! -e "$VENOM_HOME/venom.db" ] || [ "$out" = "[]" ]; then ok; else fail "usage errors recorded runs"; fi
[ "$(wc -c <"$SRV_LOG")" = 0 ] && ok || fail "usage errors reached the model server"

for p in "${PROVIDERS[@]}"; do
  for s in true false; do
    L="$p stream=$s"
    # -- piped: the answer alone on stdout, nothing on stderr
    new_wd; srv_start tool_write; write_config "$p" "$s"
    vrun run "write hello.txt"
    expect_rc 0 "$L piped"
    [ "$out" = "Done: hello.txt holds one line." ] && ok || fail "$L piped: stdout is only the answer"
    [ -z "$err" ] && ok || fail "$L piped: stderr is empty without -v"
    [ "$(cat "$WD/hello.txt" 2>/dev/null)" = "hello world" ] && ok || fail "$L piped: hello.txt written"

    # -- -v: the same answer, progress on stderr
    new_wd; srv_start tool_write; write_config "$p" "$s"
    vrun run -v "write hello.txt"
    expect_rc 0 "$L -v"
    [ "$out" = "Done: hello.txt holds one line." ] && ok || fail "$L -v: stdout is only the answer"
    expect_err "venom: step 1: asking $p" "$L -v"
    expect_err "step 1: fs.write" "$L -v"
    expect_err "venom: step 2: asking $p" "$L -v"
    expect_err " done" "$L -v: says the run is done"
    id=$(last_run_id)
    expect_err "run $id done" "$L -v: names the run"
  done

  # -- the key variable is not set: exit 4 naming it, before any request
  new_wd; srv_start text; CFG_KEY_ENV=NOPE_UNSET write_config "$p" true
  (unset NOPE_UNSET; vrun run "x"; echo "$rc" >"$E2E_TMP/rc"; echo "$err" >"$E2E_TMP/errsave")
  rc=$(cat "$E2E_TMP/rc") err=$(cat "$E2E_TMP/errsave") out=""
  expect_rc 4 "$p NOPE_UNSET"
  expect_err "NOPE_UNSET" "$p NOPE_UNSET: names the variable"
  expect_err "api_key_env" "$p NOPE_UNSET: names the setting"
  [ "$(wc -c <"$SRV_LOG")" = 0 ] && ok || fail "$p NOPE_UNSET: no request was sent"
done

# on a terminal (script(1) gives a pty) the answer streams to stdout as it
# comes and ends with a newline; stderr is kept out of the pty
NRUNS=16
if command -v script >/dev/null; then
  for p in "${PROVIDERS[@]}"; do
    new_wd; srv_start text; write_config "$p" true
    (cd "$WD" && timeout 20 script -qec "\"$VENOM_BIN\" run 'say hello' 2>\"$E2E_TMP/tty.err\"; echo \"rc=\$?\"" /dev/null) \
      >"$E2E_TMP/tty.out" 2>&1 || true
    out=$(tr -d '\r' <"$E2E_TMP/tty.out") err=$(cat "$E2E_TMP/tty.err") rc=x
    [ "$out" = $'Hello from the scripted model. Nothing to do here.\nrc=0' ] && ok || fail "$p tty: the answer streamed, then a newline"
    NRUNS=$((NRUNS + 1))
  done
else
  echo "note: script(1) not found: terminal output not checked"
fi

# runs list --json: an array of the runs above, newest first, each with an id and status
vrun runs list --json
expect_rc 0 "runs list --json"
if [ "$HAVE_PY" = 1 ]; then
  python3 -c '
import json, sys
a = json.loads(sys.stdin.read())
assert isinstance(a, list) and len(a) == int(sys.argv[1]), len(a)
assert all(r["status"] == "done" and r["id"].startswith("r") for r in a), a
assert a[0]["started"] >= a[-1]["started"]
' "$NRUNS" <<<"$out" && ok || fail "runs list --json: $NRUNS done runs as a JSON array"
fi
vrun runs list
expect_rc 0 "runs list"
[ "$(grep -c ' done ' <<<"$out")" = "$NRUNS" ] && ok || fail "runs list: $NRUNS done runs"
rc_finish
