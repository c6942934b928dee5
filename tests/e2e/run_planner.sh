#!/usr/bin/env bash
# `venom run "goal"` plans first (docs/plan.md "Planning a goal"), against
# venom-modelsrv over the OpenAI wire: a fenced plan that runs and gets an
# answer turn, the plan cache (a hit on the same goal asks no planning call,
# --no-cache bypasses it), a plan repaired after validation errors, a planner
# that gives up after planner.repairs, low confidence (headless: exit 2 and the
# questions; --yes: it runs), an agent step, --plan-only (YAML that `venom run
# -f` runs, and --json) — every stream checked against the event schema.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

# cfg: the openai entry for the server on $PORT, planning on, planner.repairs 1.
cfg() { CFG_PLANNER='{mode: plan, repairs: 1}' write_config openai false; }
nreq() { grep -c '"outcome":"reply"' "$SRV_LOG" || true; }

# -- a plan from the model: runs, answer turn, stored in the cache
new_wd; srv_start plan_valid; cfg
vrun run --json "Count the lines of notes.txt"
expect_rc 0 "valid plan"
f=$(save_out valid)
verify "valid plan" "$f" \
  'evs[0]["mode"] == "goal" and fin["status"] == "done" and fin["answer"] == "notes.txt has 3 lines."' \
  '[e["action"] for e in of("plan.cache")] == ["miss", "stored"]' \
  'of("plan.created")[0]["source"] == "model" and of("plan.created")[0]["confidence"] == 0.9' \
  '[e["purpose"] for e in of("plan.requested")] == ["plan", "answer"]' \
  '"output_schema" in json.dumps(evs[0]["tools"]) and of("plan.requested")[0]["request"]["metadata"]["purpose"] == "plan"' \
  'of("plan.requested")[0]["request"]["tool_choice"] == "none"' \
  '[e["step"] for e in of("step.finished")] == ["w", "n"] and of("step.finished")[1]["result"]["lines"] == 3' \
  'fin["plan"] == {"done": 2, "failed": 0, "skipped": 0} and fin["usage"]["input_tokens"] == 380' \
  'len(reqs) == 2 and reqs[1]["body"]["messages"][-1]["role"] == "tool"'
[ "$(cat "$WD/notes.txt")" = "$(printf 'one\ntwo\nthree')" ] && ok || fail "valid plan: notes.txt written"
srv_stop

# -- the same goal (other case, spaces, a full stop): the cached plan, no planning call
new_wd; srv_start plan_cached; cfg
vrun run --json "  count THE lines of   notes.txt.  "
expect_rc 0 "cache hit"
f=$(save_out hit)
verify "cache hit" "$f" \
  '[e["action"] for e in of("plan.cache")] == ["hit"] and of("plan.cache")[0]["key"] == "count the lines of notes.txt"' \
  'of("plan.created")[0]["source"] == "cache" and of("plan.validated")[0]["source"] == "cache"' \
  '[e["purpose"] for e in of("plan.requested")] == ["answer"]' \
  'len(reqs) == 1 or reqs' \
  'fin["status"] == "done" and fin["answer"] == "Still 3 lines."'
srv_stop

# -- --no-cache: planned again, nothing read or written
new_wd; srv_start plan_valid; cfg
vrun run --json --no-cache "Count the lines of notes.txt"
expect_rc 0 "--no-cache"
f=$(save_out nocache)
verify "--no-cache" "$f" 'not of("plan.cache")' 'of("plan.created")[0]["source"] == "model"' 'fin["status"] == "done"'
srv_stop

# -- --plan-only: YAML on stdout, nothing run, nothing recorded; `run -f` runs it
new_wd; srv_start plan_valid; cfg
before=$("$VENOM_BIN" runs list 2>/dev/null | wc -l)
vrun run --plan-only --no-cache "Count the lines of notes.txt"
expect_rc 0 "--plan-only"
[ "$(nreq)" = 1 ] && ok || fail "--plan-only: one planning call"
[ ! -e "$WD/notes.txt" ] && ok || fail "--plan-only: nothing ran"
[ "$("$VENOM_BIN" runs list 2>/dev/null | wc -l)" = "$before" ] && ok || fail "--plan-only: no run recorded"
grep -q '^steps:' <<<"$out" && grep -q 'skill: "fs.write"' <<<"$out" && ok || fail "--plan-only: YAML plan"
printf '%s\n' "$out" >"$WD/plan.yaml"
vrun run -f plan.yaml
expect_rc 0 "--plan-only then -f"
[ "$(cat "$WD/notes.txt" 2>/dev/null | wc -l)" = 3 ] && ok || fail "-f of the --plan-only YAML wrote notes.txt"
grep -q '^n: done' <<<"$out" && ok || fail "-f of the --plan-only YAML: step n done"
srv_stop
new_wd; srv_start plan_valid; cfg
vrun run --plan-only --json --no-cache "Count the lines of notes.txt"
expect_rc 0 "--plan-only --json"
python3 -c 'import json,sys; p=json.load(sys.stdin); assert [s["id"] for s in p["steps"]] == ["w", "n"]' <<<"$out" &&
  ok || fail "--plan-only --json: the plan as JSON"
srv_stop

# -- an invalid plan, repaired on the second answer
new_wd; srv_start plan_repair; cfg
vrun run --json "count the words of a b"
expect_rc 0 "repair"
f=$(save_out repair)
verify "repair" "$f" \
  'len(of("plan.invalid")) == 1 and any("text.cnt" in x for x in of("plan.invalid")[0]["errors"])' \
  '[e["purpose"] for e in of("plan.requested")] == ["plan", "repair", "answer"]' \
  'of("plan.created")[0]["attempts"] == 2 and fin["answer"] == "2 words."' \
  '"unknown skill" in reqs[1]["body"]["messages"][-1]["content"]'
srv_stop

# -- invalid every time: given up after 1 + planner.repairs answers, exit 1
new_wd; srv_start plan_giveup; cfg
vrun run "do something impossible"
expect_rc 1 "give up"
grep -q 'no valid plan after 2 answers' <<<"$err" && ok || fail "give up: the error says so"
[ "$(nreq)" = 2 ] && ok || fail "give up: exactly 2 planning calls"
verify "give up" "$(runlog)" 'len(of("plan.invalid")) == 2 and fin["status"] == "failed"' 'not of("step.started")'
srv_stop

# -- not sure: headless exit 2 with the questions; --yes runs the plan
new_wd; srv_start plan_unsure; cfg
vrun run "count them"
expect_rc 2 "unsure"
grep -q 'Which file do you mean?' <<<"$out" && ok || fail "unsure: the questions on stdout"
grep -q 'undecided' <<<"$err" && grep -q -- '--yes' <<<"$err" && ok || fail "unsure: stderr says undecided and --yes"
verify "unsure" "$(runlog)" 'fin["status"] == "undecided" and of("plan.undecided")[0]["has_plan"] is True' \
  'not of("step.started")'
srv_stop
new_wd; srv_start plan_unsure; cfg
vrun run --yes --no-cache "count them"
expect_rc 0 "unsure --yes"
[ "$out" = "3 words." ] && ok || fail "unsure --yes: the answer"
srv_stop

# -- an open-ended goal: one default agent step; its answer is the run's
new_wd; srv_start plan_agent; cfg
vrun run --json --no-cache "greet me"
expect_rc 0 "agent step"
f=$(save_out agent)
verify "agent step" "$f" 'fin["answer"] == "Hello from the agent step."' \
  '[e["purpose"] for e in of("plan.requested")] == ["plan"]' \
  'any(e.get("plan_step") == "s1" for e in of("model.request"))'
srv_stop

# -- with a model catalog: planned by the configured provider, the agent step routed
new_wd; srv_start plan_agent; cfg
printf 'models:\n  - {provider: openai, model: m-test, quality: 0.8}\n' >>"$VENOM_HOME/config.yaml"
vrun run --json --no-cache --route-seed 5 "greet me"
expect_rc 0 "agent step, routed"
f=$(save_out routed)
verify "agent step, routed" "$f" 'fin["answer"] == "Hello from the agent step."' \
  '[e["purpose"] for e in of("plan.requested")] == ["plan"]' \
  'len(of("route.decided")) == 1 and of("route.decided")[0]["plan_step"] == "s1"' \
  'of("route.decided")[0]["choice"] == "openai/m-test" and of("route.decided")[0]["seed"] == 5'
srv_stop

# -- --no-plan: the goal as one agent loop (no plan.* events)
new_wd; srv_start text; cfg
vrun run --json --no-plan "say hello"
expect_rc 0 "--no-plan"
f=$(save_out noplan)
verify "--no-plan" "$f" 'not any(e["type"].startswith("plan.") for e in evs)' 'fin["status"] == "done"'
srv_stop

rc_finish
