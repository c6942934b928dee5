#!/usr/bin/env bash
# venom run -f PLAN through the real binary: a plan with references, vars
# and when; validation errors (exit 2, file:line); two sleeping shell steps
# that overlap; retries until a file appears; a timeout; a failed step that
# skips its dependants (exit 1); `venom runs stop` from another process
# (exit 130, run.finished recorded). Every --json stream is validated
# against docs/events.schema.json. Uses the sandbox (the shell pack).
source "$VENOM_SRC/tests/support/e2e.sh"
SCHEMACHECK="$VENOM_OUT/bin/venom-schemacheck"
SCHEMA="$VENOM_SRC/docs/events.schema.json"
WD="$E2E_TMP/wd"
mkdir -p "$WD"
cd "$WD"
printf 'alpha beta\ngamma\n' >notes.txt

schema_ok() { # $1: label; validates $out line by line
  printf '%s\n' "$out" >"$E2E_TMP/ev.ndjson"
  if "$SCHEMACHECK" "$SCHEMA" "$E2E_TMP/ev.ndjson" >"$E2E_TMP/sc" 2>&1; then ok; else fail "$1: schema: $(head -5 "$E2E_TMP/sc")"; fi
}
# py EXPR: evaluated with ev = the events of $out, of(type) = those of a type
py() {
  if python3 -c '
import json,sys
ev=[json.loads(l) for l in sys.stdin.read().splitlines() if l.strip()]
of=lambda t:[e for e in ev if e["type"]==t]
by=lambda t,s:[e for e in of(t) if e.get("step")==s]
sys.exit(0 if ('"$1"') else 1)' <<<"$out"; then ok; else fail "events: $1"; fi
}

# 1. references, vars, when, a dependant of a skipped step
cat >refs.yaml <<'E'
name: refs
vars:
  file: notes.txt
  lines: 0
steps:
  - id: read
    skill: fs.read
    args: {path: "${vars.file}"}
  - id: count
    skill: text.count
    args: {text: "${steps.read.result/content}"}
  - id: head
    skill: text.head
    args: {text: "first: ${steps.read.result/content}", lines: 1}
    when: "${steps.count.result/lines} == 2"
  - id: never
    skill: text.head
    args: {text: x}
    when: "${steps.count.result/lines} != 2"
  - id: after
    skill: text.head
    args: {text: "${steps.never.result}"}
E
venom run -f refs.yaml
expect_rc 0 "refs"
expect_out 'count: done' "refs"
expect_out 'never: skipped (when_false' "refs"
expect_out 'after: skipped (dependency_skipped: never)' "refs"
expect_out '"lines":["first: alpha beta"]' "refs: a reference inside a string is its text"
venom run -f refs.yaml --json
expect_rc 0 "refs --json"
schema_ok "refs"
py 'of("plan.validated")[0]["plan"]["steps"][1]["depends_on"] == ["read"] and of("run.finished")[0]["plan"] == {"done": 3, "failed": 0, "skipped": 2}'
py 'by("step.finished","count")[0]["result"]["words"] == 3 and by("step.finished","count")[0]["attempts"] == 1'
py 'all(e["seq"] == i for i, e in enumerate(ev)) and ev[0]["type"] == "run.started" and ev[-1]["type"] == "run.finished"'
# the plan as recorded is a valid plan file (docs/plan.schema.json), and runs again
python3 -c 'import json,sys; [print(json.dumps(e["plan"])) for e in map(json.loads, sys.stdin) if e["type"] == "plan.validated"]' <<<"$out" >plan.json
if "$SCHEMACHECK" "$VENOM_SRC/docs/plan.schema.json" plan.json >"$E2E_TMP/sc" 2>&1; then ok; else fail "plan.schema.json: $(head -3 "$E2E_TMP/sc")"; fi
venom run -f plan.json
expect_rc 0 "the recorded plan runs again"
expect_out 'after: skipped (dependency_skipped: never)' "the recorded plan"
# --set fills a var (typed like its default)
printf 'one\n' >one.txt
venom run -f refs.yaml --set file=one.txt --json
py 'by("step.finished","count")[0]["result"]["lines"] == 1'
venom run -f refs.yaml --set nope=1
expect_rc 2 "--set of an unknown var"
expect_err "the plan has no var 'nope'" "--set unknown"
# 2. validation: every problem with its line, nothing runs
cat >bad.yaml <<'E'
steps:
  - id: a
    skill: fs.raed
    args: {path: notes.txt}
  - id: b
    skill: text.count
    args: {text: 5}
  - id: b
    agent: nobody
    instruction: hi
  - id: c
    skill: text.count
    args: {text: "${steps.zz.result}"}
E
venom run -f bad.yaml --json
expect_rc 2 "invalid plan"
expect_err "bad.yaml:3: step 'a': unknown skill 'fs.raed'; did you mean 'fs.read'" "unknown skill"
expect_err "bad.yaml:7: step 'b': argument 'text': expected a string" "schema"
expect_err "bad.yaml:8: duplicate step id 'b' (first at line 5)" "duplicate"
expect_err "bad.yaml:9: step 'b': unknown agent 'nobody'" "agent"
expect_err "bad.yaml:13: step 'c': the reference \${steps.zz.result} names no step 'zz'" "dangling"
[ -z "$out" ] && ok || fail "an invalid plan printed events"
printf 'steps:\n  - {id: a, skill: text.count, args: {text: "${steps.c.result/lines}"}}\n  - {id: b, skill: text.count, args: {text: "${steps.a.result/lines}"}}\n  - {id: c, skill: text.count, args: {text: x}, depends_on: [b]}\n' >cyc.yaml
venom run -f cyc.yaml
expect_rc 2 "cycle"
expect_err "the steps form a cycle: a -> c -> b -> a" "cycle"
printf 'steps:\n  - id: a\n    skill: text.count\n    retires: 2\n' >key.yaml
venom run -f key.yaml
expect_rc 2 "unknown key"
expect_err "key.yaml:4: unknown key 'retires'" "unknown key"
expect_err "did you mean 'retries'?" "unknown key"
venom run -f missing.yaml
expect_rc 2 "missing file"

# an agent step (the offline provider) in the same run, its events tagged
printf 'agents:\n  counter:\n    role: "You count things."\n    skills: [text, fs.read]\n' >"$VENOM_HOME/config.yaml"
printf 'steps:\n  - {id: ask, agent: counter, instruction: "count the words of notes.txt"}\n  - {id: echo, skill: text.head, args: {text: "${steps.ask.result}", lines: 1}}\n' >agent.yaml
venom run -f agent.yaml --json
expect_rc 0 "agent step"
schema_ok "agent step"
py 'by("step.finished","ask")[0]["result"].startswith("2 lines, 3 words") and by("step.finished","echo")[0]["result"]["lines"] == [by("step.finished","ask")[0]["result"]]'
py 'len(of("run.started")) == 1 and len(of("run.finished")) == 1 and all(e["plan_step"] == "ask" for e in of("tool.call") + of("model.request")) and len(of("tool.call")) >= 1'
printf 'steps:\n  - {id: ask, agent: countr, instruction: "x"}\n' >agent_bad.yaml
venom run -f agent_bad.yaml
expect_rc 2 "unknown agent"
expect_err "agent_bad.yaml:2: step 'ask': unknown agent 'countr' (did you mean 'counter'?)" "unknown agent"
rm "$VENOM_HOME/config.yaml"

# 3. parallel: two 300 ms sleeps overlap
cat >par.yaml <<'E'
steps:
  - {id: s1, skill: shell.exec, args: {command: "sleep 0.3"}}
  - {id: s2, skill: shell.exec, args: {command: "sleep 0.3"}}
E
venom run -f par.yaml --parallel 2 --json
expect_rc 0 "parallel"
schema_ok "parallel"
# both started before either finished
py 'max(e["seq"] for e in of("step.started")) < min(e["seq"] for e in of("step.finished"))'
py 'all(e["ok"] and e["duration_ms"] >= 290 for e in of("step.finished"))'
# --parallel 1 runs them one after the other
venom run -f par.yaml --parallel 1 --json
py 'by("step.finished","s1")[0]["seq"] < by("step.started","s2")[0]["seq"] or by("step.finished","s2")[0]["seq"] < by("step.started","s1")[0]["seq"]'

# 4. retries: the reader fails until the maker has written the file
cat >retry.yaml <<'E'
steps:
  - {id: maker, skill: shell.exec, args: {command: "sleep 0.3; echo made > late.txt"}}
  - {id: reader, skill: fs.read, args: {path: late.txt}, retries: 8}
E
rm -f late.txt
venom run -f retry.yaml --json
expect_rc 0 "retry"
schema_ok "retry"
py 'len(by("step.retry","reader")) >= 1 and by("step.finished","reader")[0]["ok"] and by("step.finished","reader")[0]["attempts"] == len(by("step.retry","reader")) + 1'
py 'by("step.finished","reader")[0]["result"]["content"] == "made\n"'
py 'all(e["delay_ms"] >= 100 for e in of("step.retry"))'

# 5. timeout, failure, dependants skipped, exit 1
cat >timeout.yaml <<'E'
steps:
  - {id: slow, skill: shell.exec, args: {command: "sleep 5"}, timeout: 0.3, retries: 1}
  - {id: next, skill: text.count, args: {text: "${steps.slow.result/stdout}"}}
  - {id: other, skill: text.count, args: {text: "independent"}}
E
t0=$(date +%s%3N)
venom run -f timeout.yaml --json
t1=$(date +%s%3N)
expect_rc 1 "timeout"
schema_ok "timeout"
[ $((t1 - t0)) -lt 4000 ] && ok || fail "a 0.3 s timeout took $((t1 - t0)) ms"
py 'by("step.finished","slow")[0]["status"] == "failed" and "timeout" in by("step.finished","slow")[0]["error"] and by("step.finished","slow")[0]["attempts"] == 2'
py 'by("step.skipped","next")[0]["reason"] == "dependency_failed" and by("step.finished","other")[0]["ok"]'
py 'of("run.finished")[0]["status"] == "failed"'

# 6. venom runs stop from another process
cat >long.yaml <<'E'
steps:
  - {id: long, skill: shell.exec, args: {command: "sleep 20"}}
  - {id: later, skill: text.count, args: {text: "${steps.long.result/stdout}"}}
E
"$VENOM_BIN" run -f long.yaml --json >"$E2E_TMP/long.out" 2>"$E2E_TMP/long.err" &
bg=$!
id=""
for _ in $(seq 100); do
  id=$(grep -o '"run_id":"r[0-9A-Z]*"' "$E2E_TMP/long.out" 2>/dev/null | head -1 | cut -d'"' -f4 || true)
  grep -q '"step.started"' "$E2E_TMP/long.out" 2>/dev/null && [ -n "$id" ] && break
  sleep 0.05
done
[ -n "$id" ] && ok || fail "the background run printed no run id"
venom runs stop "$id"
expect_rc 0 "runs stop"
expect_out "stop requested for run $id" "runs stop"
t0=$(date +%s%3N)
set +e; timeout 15 tail --pid=$bg -f /dev/null; wait $bg; rc=$?; set -e
t1=$(date +%s%3N)
expect_rc 130 "a stopped run"
[ $((t1 - t0)) -lt 5000 ] && ok || fail "stop took $((t1 - t0)) ms"
out=$(cat "$E2E_TMP/long.out")
schema_ok "stop"
py 'of("run.finished")[0]["status"] == "interrupted" and of("run.finished")[0]["reason"] == "stopped by venom runs stop"'
py 'by("step.skipped","later")[0]["reason"] in ("run_stopped", "dependency_failed")'
venom runs show "$id" --json
expect_out '"status":"interrupted"' "runs show after stop"
venom runs stop "$id"
expect_rc 2 "stop of a finished run"
expect_err "is not running" "stop of a finished run"
finish
