#!/usr/bin/env bash
# `venom run` against a misbehaving model server, for each HTTP provider,
# streaming and not: 429/500/529 and a first-byte stall are retried; a stream
# cut, a malformed chunk or an in-stream error end the run with exit 4
# (provider_error) and no answer; bad tool arguments and unknown tools go back
# to the model as error results; 401, 400 and a refused connection give exit 4
# with a message saying what to fix, 401/400 without a retry.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

for p in "${PROVIDERS[@]}"; do
  for s in true false; do
    L="$p stream=$s"

    # -- retried HTTP errors: the first answer for turn 0 is the fault, the second the reply
    for c in fault_429:429 fault_500:500 fault_529:529; do
      st=${c#*:} c=${c%:*}
      new_wd; srv_start "$c"; write_config "$p" "$s"
      vrun run --json "answer"
      expect_rc 0 "$L $c"
      [ -z "$err" ] && ok || fail "$L $c: a retried fault prints nothing"
      verify "$L $c" "$(save_out "$c.$p.$s")" \
        '[(r["turn"], r["status"], r["outcome"]) for r in reqs] == [(0, '"$st"', "fault"), (0, 200, "reply")] or reqs' \
        'fin["status"] == "done" and fin["answer"].startswith("Answer after") and fin["steps"] == 1' \
        'not of("model.error")'
      srv_stop
    done

    # -- nothing for 3 s before the headers; first_byte_ms 400 gives up and retries
    new_wd; srv_start stall; CFG_TIMEOUTS='{first_byte_ms: 400, idle_ms: 5000}' write_config "$p" "$s"
    vrun run --json "answer"
    expect_rc 0 "$L stall"
    verify "$L stall" "$(save_out "stall.$p.$s")" 'len(reqs) == 2 or reqs' \
      'fin["status"] == "done" and fin["answer"] == "Answer after a stall."'
    srv_stop

    # -- a cut before anything arrived (mid first event; not streaming: mid body) is retried
    new_wd; srv_start cut_first; write_config "$p" "$s"
    vrun run --json "answer"
    expect_rc 0 "$L cut_first"
    verify "$L cut_first" "$(save_out "cut_first.$p.$s")" 'len(reqs) == 2 or reqs' \
      'fin["status"] == "done" and fin["answer"] == "Answer after an early cut."'
    srv_stop

    if [ "$s" = true ]; then
      # -- a stream cut after 2 events: not retried (events were consumed), exit 4, no answer
      new_wd; srv_start cut; write_config "$p" "$s"
      vrun run "answer"
      expect_rc 4 "$L cut"
      [ -z "$out" ] && ok || fail "$L cut: no partial answer on stdout"
      expect_err "provider_error" "$L cut"
      expect_err "cut off" "$L cut"
      verify "$L cut" "$(runlog)" \
        'fin["status"] == "provider_error" and "cut off" in fin["reason"] and fin["answer"] is None' \
        'len(of("model.error")) == 1 and not of("model.response")' \
        'len(reqs) == 1 or reqs'
      srv_stop

      # -- HTTP 200, then the API's error event inside the stream
      new_wd; srv_start stream_error; write_config "$p" "$s"
      vrun run "answer"
      expect_rc 4 "$L stream_error"
      [ -z "$out" ] && ok || fail "$L stream_error: no partial answer on stdout"
      expect_err "reported an error" "$L stream_error"
      verify "$L stream_error" "$(runlog)" \
        'fin["status"] == "provider_error" and "reported an error" in fin["reason"] and fin["answer"] is None' \
        'len(reqs) == 1 or reqs'
      srv_stop
    fi

    # -- a chunk (not streaming: the body) that is not JSON: exit 4, not retried
    new_wd; srv_start malformed; write_config "$p" "$s"
    vrun run "answer"
    expect_rc 4 "$L malformed"
    [ -z "$out" ] && ok || fail "$L malformed: no partial answer on stdout"
    verify "$L malformed" "$(runlog)" \
      'fin["status"] == "provider_error" and ("malformed" in fin["reason"] or "not a JSON" in fin["reason"]) or fin' \
      'len(reqs) == 1 or reqs'
    srv_stop

    # -- tool arguments that are not JSON: an error result goes back to the model
    new_wd; srv_start bad_args; write_config "$p" "$s"
    vrun run --json "write x.txt"
    expect_rc 0 "$L bad_args"
    [ ! -e "$WD/x.txt" ] && ok || fail "$L bad_args: nothing written"
    verify "$L bad_args" "$(save_out "bad_args.$p.$s")" \
      'fin["answer"] == "The arguments were broken; nothing was written."' \
      'of("tool.call")[0]["args"] is None and "x.txt" in of("tool.call")[0]["args_raw"]' \
      'of("tool.result")[0]["ok"] is False and "not a JSON object" in of("tool.result")[0]["error"]' \
      'len(reqs) == 2 and "not a JSON object" in json.dumps(reqs[1]["body"]) or reqs' \
      'fin["status"] == "done"'
    srv_stop

    # -- a tool that does not exist: same
    new_wd; srv_start unknown_tool; write_config "$p" "$s"
    vrun run --json "do it"
    expect_rc 0 "$L unknown_tool"
    verify "$L unknown_tool" "$(save_out "unknown_tool.$p.$s")" \
      'fin["answer"] == "That tool does not exist."' \
      'of("tool.result")[0]["ok"] is False and "unknown tool" in of("tool.result")[0]["error"]' \
      'len(reqs) == 2 and "unknown tool" in json.dumps(reqs[1]["body"]) and "nope__missing" in json.dumps(reqs[1]["body"]) or reqs' \
      'fin["status"] == "done"'
    srv_stop

    # -- the server wants a key, none configured: 401 (Gemini: 403), not retried
    new_wd; srv_start "auth_key_$p"; write_config "$p" "$s"
    vrun run "answer"
    expect_rc 4 "$L no key"
    expect_err "api_key_env" "$L no key: says to set api_key_env"
    verify "$L no key" "$(runlog)" \
      '[(r["status"], r["outcome"]) for r in reqs] == [(403 if "'"$p"'" == "gemini" else 401, "auth")] or reqs' \
      'fin["status"] == "provider_error" and "api_key_env" in fin["reason"]'
    srv_stop

    # -- a 400 (the case only accepts model m-test): not retried
    new_wd; srv_start expect_model; write_config "$p" "$s"
    vrun run --model m-other "answer"
    expect_rc 4 "$L 400"
    expect_err "HTTP 400" "$L 400"
    expect_err "expectation failed" "$L 400: the server's message"
    verify "$L 400" "$(runlog)" \
      '[r["status"] for r in reqs] == [400] or reqs' \
      'fin["status"] == "provider_error" and evs[0]["model"] == "m-other"'
    srv_stop

    # -- nothing listens on base_url's port
    new_wd; SRV_LOG=""; CFG_RETRIES=1 CFG_URL=$(base_url "$p" "$(closed_port)") write_config "$p" "$s"
    vrun run "answer"
    expect_rc 4 "$L refused"
    expect_err "cannot connect" "$L refused"
    expect_err "check base_url" "$L refused"
    expect_err "after 2 attempts" "$L refused: retried once (retries: 1)"
    verify "$L refused" "$(runlog)" 'fin["status"] == "provider_error" and "cannot connect" in fin["reason"]'
  done
done
rc_finish
