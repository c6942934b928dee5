#!/usr/bin/env bash
# `venom run` end to end against venom-modelsrv, for each HTTP provider
# (openai anthropic gemini ollama), streaming and not: multi-turn tool use,
# parallel tool calls, a text answer, --json (schema + hash chain, equal to
# `venom runs log ID --json`), `venom runs show`, usage and cost totals from
# the configured prices, and the API key: sent from its variable, never stored
# nor printed.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

KEY=sk-e2e-Vq7Lm2Zr9XwT4k   # the key the auth_key_* cases want

# same_as_log FILE LABEL: `venom runs log ID --json` prints FILE's lines exactly.
same_as_log() {
  local id log
  id=$(run_id_of "$1")
  log="$E2E_TMP/log.$id"
  "$VENOM_BIN" runs log "$id" --json >"$log" 2>"$E2E_TMP/log.err" || true
  if [ -n "$id" ] && cmp -s "$1" "$log"; then ok; else
    rc=x out=$(diff "$1" "$log" | head -c 1500) err=$(cat "$E2E_TMP/log.err") fail "$2: runs log $id --json differs from the --json output"
  fi
}

# show_ok ID LABEL: `venom runs show ID` says done and chain ok.
show_ok() {
  local o
  o=$("$VENOM_BIN" runs show "$1" 2>&1) || true
  if grep -qx 'status    done' <<<"$o" && grep -qx 'chain     ok' <<<"$o"; then ok; else
    rc=x out=$o err="" fail "$2: runs show $1: status done / chain ok"
  fi
}

for p in "${PROVIDERS[@]}"; do
  for s in true false; do
    L="$p stream=$s"

    # -- multi-turn tool use, plain output: only the answer on stdout
    new_wd; srv_start write_read; write_config "$p" "$s"
    vrun run "write notes.txt, read it back and tell me what it says"
    expect_rc 0 "$L write_read"
    [ "$out" = "notes.txt says: venom was here" ] && ok || fail "$L write_read: stdout is exactly the final text"
    [ -z "$err" ] && ok || fail "$L write_read: nothing on stderr without -v"
    [ "$(cat "$WD/notes.txt" 2>/dev/null)" = "venom was here" ] && ok || fail "$L write_read: notes.txt holds the content"
    id=$(last_run_id)
    verify "$L write_read (runs log)" "$(runlog)" \
      'len(reqs) == 3 or reqs' \
      'usage("write_read", "'"$p"'")' \
      'fin["status"] == "done" and fin["answer"] == "notes.txt says: venom was here"' \
      '[e["tool"] for e in of("tool.call")] == ["fs.write", "fs.read"]' \
      'all(e["ok"] for e in of("tool.result")) and len(of("tool.result")) == 2'
    show_ok "$id" "$L write_read"
    srv_stop

    # -- the same with --json: the stream is the log, byte for byte
    new_wd; srv_start write_read; write_config "$p" "$s"
    vrun run --json "write notes.txt, read it back and tell me what it says"
    expect_rc 0 "$L write_read --json"
    [ -z "$err" ] && ok || fail "$L write_read --json: nothing on stderr"
    f=$(save_out "wrj.$p.$s")
    same_as_log "$f" "$L write_read --json"
    verify "$L write_read --json" "$f" \
      'usage("write_read", "'"$p"'")' \
      'evs[0]["type"] == "run.started" and evs[0]["provider"] == "'"$p"'" and evs[0]["model"] == "m-test"' \
      'len(of("run.finished")) == 1 and fin["type"] == "run.finished" and fin["status"] == "done"' \
      '[e["step"] for e in of("step.started")] == [1, 2, 3]'
    [ "$(cat "$WD/notes.txt" 2>/dev/null)" = "venom was here" ] && ok || fail "$L write_read --json: notes.txt"
    srv_stop

    # -- two tool calls in one turn
    new_wd; srv_start parallel_tools; write_config "$p" "$s"
    vrun run --json "write a.txt and b.txt"
    expect_rc 0 "$L parallel_tools"
    f=$(save_out "par.$p.$s")
    same_as_log "$f" "$L parallel_tools"
    [ "$(cat "$WD/a.txt" 2>/dev/null)" = alpha ] && [ "$(cat "$WD/b.txt" 2>/dev/null)" = beta ] && ok ||
      fail "$L parallel_tools: a.txt and b.txt written"
    verify "$L parallel_tools" "$f" \
      'sorted(e["call_id"] for e in of("tool.call") if e["step"] == 1) == ["call_a", "call_b"]' \
      'sorted(e["call_id"] for e in of("tool.result") if e["step"] == 1 and e["ok"]) == ["call_a", "call_b"]' \
      'max(e["seq"] for e in of("tool.call")) < min(e["seq"] for e in of("tool.result")) or "a result came before a call"' \
      'fin["status"] == "done" and fin["answer"] == "Wrote a.txt and b.txt." and fin["steps"] == 2' \
      'usage("parallel_tools", "'"$p"'")'
    srv_stop

    # -- a text answer, no tools used
    new_wd; srv_start text; write_config "$p" "$s"
    vrun run "say hello"
    expect_rc 0 "$L text"
    [ "$out" = "Hello from the scripted model. Nothing to do here." ] && ok || fail "$L text: stdout is the answer"
    [ -z "$err" ] && ok || fail "$L text: nothing on stderr"
    id=$(last_run_id)
    show_ok "$id" "$L text"
    verify "$L text" "$(runlog)" \
      'usage("text", "'"$p"'")' \
      'not any(e["type"].startswith("tool.") for e in evs)' \
      'fin["answer"] == "Hello from the scripted model. Nothing to do here."'
    srv_stop

    # -- the key: from its variable into the request header, never stored or printed
    new_wd; srv_start "auth_key_$p"; CFG_KEY_ENV=TEST_KEY write_config "$p" "$s"
    TEST_KEY=$KEY vrun run --json -v "write k.txt; my key is $KEY, keep it secret"
    expect_rc 0 "$L auth"
    f=$(save_out "auth.$p.$s")
    case $p in
      openai | ollama) hdr=authorization want="Bearer $KEY" ;;
      anthropic) hdr=x-api-key want=$KEY ;;
      gemini) hdr=x-goog-api-key want=$KEY ;;
    esac
    verify "$L auth" "$f" \
      '[r["headers"].get("'"$hdr"'") for r in reqs if r["outcome"] == "reply"] == ["'"$want"'"] * 2 or reqs' \
      '"[REDACTED]" in evs[0]["goal"] or evs[0]["goal"]' \
      'fin["status"] == "done"'
    if grep -qaF -- "$KEY" "$VENOM_HOME"/venom.db*; then fail "$L auth: the key is in the event log file"; else ok; fi
    if grep -qF -- "$KEY" "$E2E_TMP/out" "$E2E_TMP/err"; then fail "$L auth: venom printed the key"; else ok; fi
    [ -n "$err" ] && ok || fail "$L auth: -v prints progress on stderr"
    srv_stop
  done
done
rc_finish
