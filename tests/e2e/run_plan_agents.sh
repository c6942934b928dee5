#!/usr/bin/env bash
# Agents in plans through the real binary (docs/plan.md "Agents"):
# 1. an agent step with no named agent goes to auction on the offline
#    provider: --json shows auction.bid (one per eligible agent) and
#    auction.won before step.started; the outcome moves the agent's success
#    rate in the next run's bids; a step no agent can take fails validation.
# 2. routing of agent steps: a two-model catalog on two venom-modelsrv: a
#    plan's agent step gets a route.decided with plan_step and its kind; an
#    agent's model: restricts the choice (agent_model); a model: naming no
#    catalog model fails the step saying so.
# 3. venom runs pause / resume / stop from another process on a plan of
#    sleeping steps (--parallel 1): paused, the in-flight step finishes and
#    nothing new starts; resumed, the run completes done; stopped while
#    paused, it ends interrupted (exit 130).
# Every stream validates against docs/events.schema.json. The sleeping steps
# use the sandbox (the shell pack), so the name matches CI's run_plan tests.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

new_wd
printf 'alpha beta\ngamma\n' >"$WD/notes.txt"

# -- 1. the auction (offline provider)
cat >"$VENOM_HOME/config.yaml" <<'E'
agents:
  counter: {role: "You count things.", skills: [text, fs.read]}
  generalist: {role: "You do anything."}
  writer: {skills: [fs], kinds: [write]}
E
cat >"$WD/auction.yaml" <<'E'
steps:
  - id: ask
    instruction: "count the words of notes.txt"
    needs: [text, fs.read]
    kind: count
  - {id: echo, skill: text.head, args: {text: "${steps.ask.result}", lines: 1}}
E
vrun run -f auction.yaml --json
expect_rc 0 "auction"
verify "auction" "$(save_out auction.1)" \
  '[e["agent"] for e in of("auction.bid")] == ["counter", "generalist"]' \
  '[e["rank"] for e in of("auction.bid")] == [1, 2] and all(e["step"] == "ask" and e["kind"] == "count" for e in of("auction.bid"))' \
  'abs(of("auction.bid")[0]["score"] - 0.7) < 1e-9 and of("auction.bid")[0]["match"] == 0.75 and of("auction.bid")[0]["success_rate"] == 0.5' \
  'abs(of("auction.bid")[1]["score"] - 0.6) < 1e-9 and of("auction.bid")[1]["cost"] == 0' \
  'of("auction.won")[0]["agent"] == "counter" and of("auction.won")[0]["bids"] == 2' \
  '[e for e in of("step.started") if e["step"] == "ask"][0]["agent"] == "counter"' \
  'of("auction.won")[0]["seq"] < [e for e in of("step.started") if e["step"] == "ask"][0]["seq"]' \
  '[e for e in of("step.finished") if e["step"] == "ask"][0]["result"].startswith("2 lines, 3 words")' \
  'of("plan.validated")[0]["plan"]["steps"][0]["agent"] == "auto" and of("plan.validated")[0]["plan"]["steps"][0]["needs"] == ["text", "fs.read"]' \
  'fin["status"] == "done"'
# the recorded plan is a valid plan file
python3 -c 'import json,sys; [print(json.dumps(e["plan"])) for e in map(json.loads, open(sys.argv[1])) if e["type"] == "plan.validated"]' \
  "$E2E_TMP/auction.1" >"$WD/recorded.json"
if "$SCHEMACHECK" "$VENOM_SRC/docs/plan.schema.json" "$WD/recorded.json" >"$E2E_TMP/sc" 2>&1; then ok; else
  fail "plan.schema.json: $(head -3 "$E2E_TMP/sc")"; fi
# counter's success counts in the next auction: 2/3
vrun run -f auction.yaml --json
expect_rc 0 "auction again"
verify "auction again" "$(save_out auction.2)" \
  'abs(of("auction.bid")[0]["success_rate"] - 2 / 3) < 1e-9 and of("auction.bid")[0]["agent"] == "counter"' \
  'abs(of("auction.won")[0]["score"] - (0.4 * 0.75 + 0.4 * 2 / 3 + 0.2)) < 1e-9'
# without needs, counter and generalist tie on match: the statistics decide;
# writer takes kinds write only
printf 'steps:\n  - {id: any, agent: auto, instruction: "count the words of notes.txt", kind: count}\n' >"$WD/any.yaml"
vrun run -f any.yaml --json
expect_rc 0 "auction, no needs"
verify "auction, no needs" "$(save_out auction.3)" \
  '[e["agent"] for e in of("auction.bid")] == ["counter", "generalist"]' \
  'of("auction.won")[0]["agent"] == "counter" and of("auction.bid")[0]["success_rate"] == 0.75'
# validation: no agent can take the step; a named agent that lacks a need
printf 'agents:\n  counter: {skills: [text, fs.read]}\n  writer: {skills: [fs], kinds: [write]}\n' >"$VENOM_HOME/config.yaml"
cat >"$WD/noone.yaml" <<'E'
steps:
  - id: w
    instruction: "write it"
    needs: [shell]
    kind: write
  - {id: n, agent: writer, instruction: "count", needs: text.count}
  - {id: u, instruction: "x", needs: [nosuchpack]}
E
vrun run -f noone.yaml --json
expect_rc 2 "no eligible agent"
expect_err "noone.yaml:2: step 'w': no agent can take it (counter lacks shell; writer lacks shell)" "no eligible agent"
expect_err "noone.yaml:6: step 'n': agent 'writer' cannot take it: it lacks text.count" "named agent lacks a need"
expect_err "noone.yaml:7: step 'u': needs 'nosuchpack', which is no installed skill or pack" "unknown need"
[ -z "$out" ] && ok || fail "an invalid plan printed events"

# -- 2. routing of agent steps: a/m-a (cheap) and b/m-b (dear), both healthy
srv_start route_text; PA=$PORT
srv_start route_text; PB=$PORT
cat >"$VENOM_HOME/config.yaml" <<EOF
providers:
  a: {plugin: openai, base_url: "http://127.0.0.1:$PA/v1", api_key_env: "", model: m-a, stream: false, retries: 1,
      timeouts: {first_byte_ms: 5000, idle_ms: 5000}}
  b: {plugin: openai, base_url: "http://127.0.0.1:$PB/v1", api_key_env: "", model: m-b, stream: false, retries: 1,
      timeouts: {first_byte_ms: 5000, idle_ms: 5000}}
models:
  - {provider: a, model: m-a, input_per_mtok: 1, output_per_mtok: 2, quality: 0.6, latency_ms: 900}
  - {provider: b, model: m-b, input_per_mtok: 10, output_per_mtok: 30, quality: 0.7, latency_ms: 300}
agents:
  pinned: {skills: [text], model: b/m-b}
  free: {skills: [text], kinds: [digest]}
  lost: {skills: [text], model: nowhere}
EOF
cat >"$WD/routed.yaml" <<'E'
steps:
  - {id: one, agent: pinned, instruction: "answer", kind: summarise}
  - {id: two, instruction: "answer", needs: text, kind: digest}
E
# two agent steps at once: every event still reaches stdout once, in seq
# order (the schema check below refuses anything else)
vrun run -f routed.yaml --json --route-seed 7
expect_rc 0 "routed agent steps"
verify "routed agent steps" "$(save_out routed)" \
  '[e["plan_step"] for e in of("route.decided")] in (["one", "two"], ["two", "one"])' \
  '[e for e in of("route.decided") if e["plan_step"] == "one"][0]["kind"] == "summarise"' \
  '[e for e in of("route.decided") if e["plan_step"] == "one"][0]["choice"] == "b/m-b"' \
  '[c.get("dropped") for c in [e for e in of("route.decided") if e["plan_step"] == "one"][0]["candidates"]] == ["agent_model", None]' \
  '[e for e in of("route.decided") if e["plan_step"] == "two"][0]["kind"] == "digest" and not any("dropped" in c for c in [e for e in of("route.decided") if e["plan_step"] == "two"][0]["candidates"])' \
  'of("auction.won")[0]["agent"] == "free" and of("auction.won")[0]["bids"] == 2' \
  'all(e["provider"] + "/" + e["request"]["model"] == [d for d in of("route.decided") if d["plan_step"] == e["plan_step"]][0]["choice"] for e in of("model.request"))' \
  '[e for e in of("step.finished") if e["step"] == "one"][0]["result"] == "Answer from the routed model."' \
  'fin["status"] == "done" and fin["plan"]["done"] == 2'
# costs: free may use any model (the cheapest: a/m-a), pinned only b/m-b;
# lost (its model is in no catalog) does not bid. "answer": 1000 + 6 / 4 tokens in
verify "auction with prices" "$E2E_TMP/routed" \
  'abs([e for e in of("auction.bid") if e["agent"] == "free"][0]["cost"] - (1001 * 1 + 500 * 2) / 1e6) < 1e-12' \
  'abs([e for e in of("auction.bid") if e["agent"] == "pinned"][0]["cost"] - (1001 * 10 + 500 * 30) / 1e6) < 1e-12' \
  'abs([e for e in of("auction.bid") if e["agent"] == "pinned"][0]["score"] - (0.4 * 0.75 + 0.4 * 0.5)) < 1e-9' \
  'not [e for e in of("auction.bid") if e["agent"] == "lost"]'
# --provider pins agent steps: no routing
vrun run -f routed.yaml --json --provider a
expect_rc 0 "pinned plan"
verify "pinned plan" "$(save_out pinned)" 'not of("route.decided") and all(e["provider"] == "a" for e in of("model.request"))'
# an agent whose model: names no catalog model
printf 'steps:\n  - {id: l, agent: lost, instruction: "answer"}\n' >"$WD/lost.yaml"
vrun run -f lost.yaml --json
expect_rc 1 "agent model not in the catalog"
verify "agent model not in the catalog" "$(save_out lost)" \
  '"agent lost: model '"'"'nowhere'"'"' names no model of the catalog" in of("step.finished")[0]["error"]'
rm "$VENOM_HOME/config.yaml"

# -- 3. pause / resume / stop from another process
cat >"$WD/sleepy.yaml" <<'E'
steps:
  - {id: s1, skill: shell.exec, args: {command: "sleep 1"}}
  - {id: s2, skill: shell.exec, args: {command: "sleep 0.3"}}
  - {id: s3, skill: shell.exec, args: {command: "sleep 0.3"}}
  - {id: s4, skill: shell.exec, args: {command: "sleep 0.3"}}
E
# count TYPE FILE: how many events of TYPE the stream holds so far
count() { grep -c "\"type\":\"$1\"" "$2" 2>/dev/null || true; }
# wait_for TYPE FILE N: until the stream holds N events of TYPE (10 s at most)
wait_for() {
  local i
  for i in $(seq 200); do [ "$(count "$1" "$2")" -ge "$3" ] && return 0; sleep 0.05; done
  return 1
}
# bg_plan NAME: start sleepy.yaml in the background; sets BG, BG_OUT, RID
bg_plan() {
  BG_OUT="$E2E_TMP/$1.out"
  (cd "$WD" && exec timeout -k 2 60 "$VENOM_BIN" run -f sleepy.yaml --parallel 1 --json) >"$BG_OUT" 2>"$E2E_TMP/$1.err" &
  BG=$!
  BG_PIDS+=("$BG")
  wait_for step.started "$BG_OUT" 1 || fail "$1: no step started"
  RID=$(grep -o '"run_id":"r[0-9A-Z]*"' "$BG_OUT" | head -1 | cut -d'"' -f4)
  [ -n "$RID" ] && ok || fail "$1: no run id"
}
# paused_checks NAME: after run.paused, the in-flight step finishes and no new one starts
paused_checks() {
  wait_for run.paused "$BG_OUT" 1 && ok || fail "$1: no run.paused event"
  sleep 0.2 # a step taken just before the pause may log its start just after it
  local started
  started=$(count step.started "$BG_OUT")
  wait_for step.finished "$BG_OUT" "$started" && ok || fail "$1: the in-flight step did not finish while paused"
  sleep 1.2
  [ "$(count step.started "$BG_OUT")" = "$started" ] && ok || fail "$1: a step started while paused"
  [ "$started" -lt 4 ] && ok || fail "$1: every step had started before the pause took effect"
  kill -0 "$BG" 2>/dev/null && ok || fail "$1: the paused run exited"
  venom runs show "$RID" --json
  expect_out '"status":"running"' "$1: runs show while paused"
}

bg_plan pause
venom runs pause "$RID"
expect_rc 0 "runs pause"
paused_checks pause
venom runs resume "$RID"
expect_rc 0 "runs resume"
set +e; wait "$BG"; rc=$?; set -e
expect_rc 0 "a resumed run"
verify "pause/resume" "$BG_OUT" \
  'len(of("run.paused")) == 1 and len(of("run.resumed")) == 1 and of("run.paused")[0]["by"] == "venom runs"' \
  'of("run.paused")[0]["seq"] < of("run.resumed")[0]["seq"]' \
  "(lambda w: w[-1][0] == 'step.finished' or w)([(e['type'], e.get('step'), e['ts']) for e in evs if of('run.paused')[0]['seq'] <= e['seq'] <= of('run.resumed')[0]['seq']][1:-1])" \
  'len([e for e in of("step.started") if of("run.paused")[0]["seq"] < e["seq"] < of("run.resumed")[0]["seq"]]) <= 1' \
  '(lambda t: t(of("run.resumed")[0]) - t([e for e in of("step.finished") if e["seq"] < of("run.resumed")[0]["seq"]][-1]) >= 1.0)(lambda e: __import__("datetime").datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp())' \
  'len([e for e in of("step.started") if e["seq"] > of("run.resumed")[0]["seq"]]) >= 1' \
  'fin["status"] == "done" and fin["plan"] == {"done": 4, "failed": 0, "skipped": 0}'
# (paused while the step in flight ran, or just as the next one was taken:
# that one finishes too; then nothing starts for over a second, until resume)
# the stored log says the same
venom runs log "$RID" --json
[ "$(grep -c '"type":"run\.\(paused\|resumed\)"' <<<"$out")" = 2 ] && ok || fail "runs log lacks run.paused/run.resumed"

bg_plan stop
venom runs pause "$RID"
expect_rc 0 "runs pause (then stop)"
paused_checks "pause then stop"
venom runs stop "$RID"
expect_rc 0 "runs stop while paused"
t0=$(now_ms)
set +e; wait "$BG"; rc=$?; set -e
expect_rc 130 "a run stopped while paused"
[ $(($(now_ms) - t0)) -lt 5000 ] && ok || fail "stop while paused took $(($(now_ms) - t0)) ms"
verify "stop while paused" "$BG_OUT" \
  'fin["status"] == "interrupted" and fin["reason"] == "stopped by venom runs stop"' \
  'len(of("run.resumed")) == 0 and all(e["reason"] == "run_stopped" for e in of("step.skipped"))' \
  'fin["plan"]["done"] + fin["plan"]["skipped"] == 4 and fin["plan"]["skipped"] >= 1'
venom runs show "$RID" --json
expect_out '"status":"interrupted"' "runs show after stop"

rc_finish
