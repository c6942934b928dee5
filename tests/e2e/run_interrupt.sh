#!/usr/bin/env bash
# Interrupting `venom run` while the model server stalls, for each HTTP
# provider, streaming and not: SIGINT and SIGTERM end the run within 2 s with
# exit 130 and a final run.finished "interrupted"; after kill -9 the next
# venom that opens the log (venom runs list) appends run.finished "killed".
# The hash chain stays valid in every case.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

# start_bg FILE: venom run --json in the background (pid in VPID), stdout to
# FILE; returns once its model.request is out (the server is then stalling).
start_bg() {
  (cd "$WD" && exec "$VENOM_BIN" run --json "answer slowly") >"$1" 2>"$1.err" &
  VPID=$!
  BG_PIDS+=("$VPID")
  local i
  for i in $(seq 250); do grep -q '"type":"model.request"' "$1" 2>/dev/null && break; sleep 0.02; done
  grep -q '"type":"model.request"' "$1" || { rc=x out=$(cat "$1") err=$(cat "$1.err"); fail "no model.request within 5 s"; }
  sleep 0.2 # let the request reach the server (streaming: past the first events)
}
# stop_bg SIGNAL: send it, wait for the process (at most 5 s), set rc and ELAPSED_MS.
stop_bg() {
  local t0 i st
  t0=$(now_ms)
  kill -"$1" "$VPID"
  for i in $(seq 250); do
    st=$(awk '{ print $3 }' "/proc/$VPID/stat" 2>/dev/null) || st=gone
    [ "$st" = Z ] || [ "$st" = gone ] && break
    sleep 0.02
  done
  ELAPSED_MS=$(($(now_ms) - t0))
  kill -KILL "$VPID" 2>/dev/null || true
  set +e
  wait "$VPID" 2>/dev/null
  rc=$?
  set -e
}
# show_has ID LINE...: `venom runs show ID` prints each LINE exactly.
show_has() {
  local id=$1 o l
  shift
  o=$("$VENOM_BIN" runs show "$id" 2>&1) || true
  for l in "$@"; do
    if grep -qxF -- "$l" <<<"$o"; then ok; else rc=x out=$o err="" fail "runs show $id: '$l'"; fi
  done
}

for p in "${PROVIDERS[@]}"; do
  for s in true false; do
    L="$p stream=$s"
    if [ "$s" = true ]; then c=stall_long; else c=stall_long_first; fi

    for sig in INT TERM; do
      new_wd; srv_start "$c"; CFG_TIMEOUTS='{first_byte_ms: 10000, idle_ms: 10000}' write_config "$p" "$s"
      f="$E2E_TMP/sig$sig.$p.$s.ndjson"
      start_bg "$f"
      stop_bg "$sig"
      out=$(cat "$f") err=$(cat "$f.err")
      expect_rc 130 "$L SIG$sig"
      [ "$ELAPSED_MS" -lt 2000 ] && ok || fail "$L SIG$sig: exit took $ELAPSED_MS ms"
      verify "$L SIG$sig" "$f" \
        'fin["type"] == "run.finished" and fin["status"] == "interrupted" and fin["answer"] is None or fin' \
        'len(of("run.finished")) == 1' \
        'len(of("model.error")) == 1 and not of("model.response")' \
        'len(reqs) == 1 or reqs'
      id=$(run_id_of "$f")
      show_has "$id" "status    interrupted" "chain     ok"
      same=$("$VENOM_BIN" runs log "$id" --json | cmp - "$f" 2>&1) && ok || fail "$L SIG$sig: runs log --json = the --json output ($same)"
      srv_stop
    done

    # -- kill -9: nothing is written at the time; the next venom marks the run
    new_wd; srv_start "$c"; CFG_TIMEOUTS='{first_byte_ms: 10000, idle_ms: 10000}' write_config "$p" "$s"
    f="$E2E_TMP/kill.$p.$s.ndjson"
    start_bg "$f"
    stop_bg KILL 2>/dev/null # (no "Killed" job notice)
    expect_rc 137 "$L kill -9"
    id=$(run_id_of "$f")
    list=$("$VENOM_BIN" runs list 2>&1) || true
    if grep -qE "^$id +killed " <<<"$list"; then ok; else rc=x out=$list err="" fail "$L kill -9: runs list shows $id killed"; fi
    g="$E2E_TMP/kill.$p.$s.log.ndjson"
    "$VENOM_BIN" runs log "$id" --json >"$g"
    if head -n "$(wc -l <"$f")" "$g" | cmp -s - "$f"; then ok; else fail "$L kill -9: the log starts with what --json printed"; fi
    verify "$L kill -9" "$g" \
      'fin["type"] == "run.finished" and fin["status"] == "killed" and len(of("run.finished")) == 1 or fin' \
      'len(evs) == len(open("'"$f"'").readlines()) + 1'
    show_has "$id" "status    killed" "chain     ok"
    # a second look does not mark it again
    "$VENOM_BIN" runs list >/dev/null 2>&1 || true
    n=$("$VENOM_BIN" runs log "$id" --json | grep -c '"type":"run.finished"') || true
    [ "$n" = 1 ] && ok || fail "$L kill -9: one run.finished after a second venom runs list ($n)"
    srv_stop
  done
done
rc_finish
