#!/usr/bin/env bash
# `venom run` limits against venom-modelsrv, for each HTTP provider, streaming
# and not: --max-steps, --max-cost (before a call that would pass it, and
# after a call that did) and --timeout (during a stalled response) stop the run
# with exit 3, status limit and a reason naming the limit.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

for p in "${PROVIDERS[@]}"; do
  for s in true false; do
    L="$p stream=$s"

    # -- --max-steps 1 on a three-turn case: one model turn, then the limit
    new_wd; srv_start write_read; write_config "$p" "$s"
    vrun run --max-steps 1 "write notes.txt and read it"
    expect_rc 3 "$L max-steps"
    [ -z "$out" ] && ok || fail "$L max-steps: no answer on stdout"
    expect_err "limit: max-steps" "$L max-steps"
    verify "$L max-steps" "$(runlog)" \
      'fin["status"] == "limit" and "max-steps" in fin["reason"] and fin["steps"] == 1 and fin["answer"] is None' \
      'evs[0]["limits"]["max_steps"] == 1' \
      'len(reqs) == 1 or reqs' \
      'len(of("tool.result")) == 1 and of("tool.result")[0]["ok"]'
    [ "$(cat "$WD/notes.txt" 2>/dev/null)" = "venom was here" ] && ok || fail "$L max-steps: the first turn's tool call ran"

    # -- --max-cost below the first call's estimate: no call at all
    new_wd; srv_start write_read; write_config "$p" "$s"
    vrun run --max-cost 0.000001 "write notes.txt and read it"
    expect_rc 3 "$L max-cost (before)"
    expect_err "max-cost" "$L max-cost (before)"
    verify "$L max-cost (before)" "$(runlog)" \
      'fin["status"] == "limit" and fin["reason"].startswith("max-cost") and fin["cost"] == 0' \
      'fin["steps"] == 0 and not of("step.started") and not of("model.request") or fin' \
      'reqs == [] or reqs'

    # -- output-heavy prices: the first turn costs 0.025 (25 output tokens at
    # 1000/Mtok), past --max-cost 0.02; the estimate of the next one is tiny
    new_wd; srv_start write_read; PRICE_IN=0.001 PRICE_CACHED=0.001 PRICE_OUT=1000 write_config "$p" "$s"
    vrun run --json --max-cost 0.02 "write notes.txt and read it"
    expect_rc 3 "$L max-cost (after)"
    verify "$L max-cost (after)" "$(save_out "cost.$p.$s")" \
      'fin["status"] == "limit" and fin["reason"].startswith("max-cost: spent 0.025") and fin["steps"] == 1 or fin' \
      'abs(fin["cost"] - (200 * 0.001 + 25 * 1000) / 1e6) < 1e-12 or fin["cost"]' \
      'evs[0]["limits"]["max_cost"] == 0.02' \
      'len(reqs) == 1 or reqs'

    # -- --timeout 1 while the server stalls for 5 s (streaming: mid-stream
    # after 2 events; not streaming: before the headers); idle/first-byte
    # timeouts are longer, so the run's own timeout must stop it
    new_wd
    if [ "$s" = true ]; then srv_start stall_long; else srv_start stall_long_first; fi
    CFG_TIMEOUTS='{first_byte_ms: 10000, idle_ms: 10000}' write_config "$p" "$s"
    vrun -t 10 run --timeout 1 "answer slowly"
    expect_rc 3 "$L timeout"
    [ "$ELAPSED_MS" -lt 2500 ] && ok || fail "$L timeout: took $ELAPSED_MS ms (limit 1 s)"
    [ -z "$out" ] && ok || fail "$L timeout: no partial answer on stdout"
    expect_err "timeout" "$L timeout"
    verify "$L timeout" "$(runlog)" \
      'fin["status"] == "limit" and fin["reason"].startswith("timeout") and fin["answer"] is None or fin' \
      'fin["duration_ms"] < 2000 or fin["duration_ms"]' \
      'evs[0]["limits"]["timeout_ms"] == 1000' \
      'len(of("model.error")) == 1 and not of("model.response")' \
      'len(reqs) == 1 or reqs'
    srv_stop
  done
done
rc_finish
