#!/usr/bin/env bash
# Routing end to end (docs/routing.md): a catalog of two models on two
# provider entries, each a venom-modelsrv. The seed decides the pick (the
# same seed the same pick, both models picked over several seeds); a model
# whose server answers HTTP 500 past the retries makes the run fall back to
# the other and finish; a day budget stops a run before the call that would
# pass it (exit 3, budget.exceeded), also once earlier runs spent it; venom
# router stats shows the calls; venom feedback moves a posterior.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

# route_config PORT_A PORT_B [EXTRA YAML]: two openai entries, a catalog of
# both. a/m-a: cheap, slow, worse; b/m-b: dear, fast, better (a trade-off:
# both on the Pareto frontier).
route_config() {
  cat >"$VENOM_HOME/config.yaml" <<EOF
providers:
  a: {plugin: openai, base_url: "http://127.0.0.1:$1/v1", api_key_env: "", model: m-a, stream: false, retries: 1,
      timeouts: {first_byte_ms: 5000, idle_ms: 5000}}
  b: {plugin: openai, base_url: "http://127.0.0.1:$2/v1", api_key_env: "", model: m-b, stream: false, retries: 1,
      timeouts: {first_byte_ms: 5000, idle_ms: 5000}, models: {m-b: {input_per_mtok: 10, output_per_mtok: 30}}}
models:
  - {provider: a, model: m-a, input_per_mtok: 1, output_per_mtok: 2, quality: 0.6, latency_ms: 900}
  - {provider: b, model: m-b, quality: 0.7, latency_ms: 300, capabilities: [tools, json]}
planner: {mode: agent}   # routing of the agent loop itself; planned runs: run_planner.sh
${3:-}
EOF
}
# fresh_home: an empty VENOM_HOME with the current config (no posteriors, no spend).
fresh_home() {
  local cfg=$VENOM_HOME/config.yaml
  export VENOM_HOME=$(mktemp -d "$E2E_TMP/home.XXXXXX")
  cp "$cfg" "$VENOM_HOME/config.yaml"
}

# -- two healthy servers: the seed picks
srv_start route_text; PA=$PORT; LOG_A=$SRV_LOG
srv_start route_text; PB=$PORT; LOG_B=$SRV_LOG
route_config "$PA" "$PB"
new_wd
declare -A picks=()
for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
  fresh_home
  vrun run --json --route-seed "$seed" "answer"
  expect_rc 0 "seed $seed"
  f=$(save_out "seed.$seed")
  choice=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if "route.decided" in l][0]["choice"])' "$f")
  picks[$choice]=1
  verify "seed $seed" "$f" \
    'of("route.decided")[0]["seed"] == '"$seed"' and evs[0]["provider"] == "router"' \
    '[e["provider"] + "/" + e["request"]["model"] for e in of("model.request")] == [of("route.decided")[0]["choice"]]' \
    'of("route.decided")[0]["frontier"] == ["a/m-a", "b/m-b"] or of("route.decided")[0]' \
    'all("draw" in c and "score" in c for c in of("route.decided")[0]["candidates"])' \
    'fin["status"] == "done" and fin["answer"] == "Answer from the routed model."'
  if [ "$seed" = 3 ]; then
    # the same seed again (fresh statistics): the same draws and choice
    fresh_home
    vrun run --json --route-seed 3 "answer"
    g=$(save_out "seed.3.again")
    same=$(python3 -c '
import json, sys
def dec(p): return [ {k: v for k, v in json.loads(l).items() if k not in ("run_id", "ts", "prev", "hash", "seq")}
                     for l in open(p) if "route.decided" in l][0]
print(dec(sys.argv[1]) == dec(sys.argv[2]))' "$f" "$g")
    [ "$same" = True ] && ok || fail "seed 3 twice: route.decided differs"
  fi
done
[ "${#picks[@]}" = 2 ] && ok || fail "over 12 seeds both models are picked (got: ${!picks[*]})"
# b/m-b's price comes from providers.b.models, a/m-a's from the catalog: 100 in + 20 out
f=$E2E_TMP/seed.1
verify "cost from the right price" "$f" \
  'abs(fin["cost"] - ((100 * 1 + 20 * 2) if of("route.decided")[0]["choice"] == "a/m-a" else (100 * 10 + 20 * 30)) / 1e6) < 1e-12'

# -- --provider pins the run: no routing
fresh_home
vrun run --json --no-plan --provider a "answer"
expect_rc 0 "pinned"
verify "pinned" "$(save_out pinned)" 'not of("route.decided") and evs[0]["provider"] == "a"'

# -- b answers 500 past its retry: the run falls back to a and finishes
srv_stop
srv_start fault_500_always; PBAD=$PORT; LOG_BAD=$SRV_LOG
# b dominates a now (cheaper, better, faster): always the first pick
route_config "$PA" "$PBAD"
sed -i 's/quality: 0.7, latency_ms: 300/quality: 0.9, latency_ms: 100, input_per_mtok: 0.5, output_per_mtok: 1/' \
  "$VENOM_HOME/config.yaml"
fresh_home
vrun run --json --route-seed 1 "answer"
expect_rc 0 "fallback"
SRV_LOG=$LOG_BAD verify "fallback" "$(save_out fallback)" \
  'of("route.decided")[0]["choice"] == "b/m-b" and of("route.decided")[0]["frontier"] == ["b/m-b"]' \
  'len(of("route.fallback")) == 1 and of("route.fallback")[0]["from"] == "b/m-b" and of("route.fallback")[0]["to"] == "a/m-a"' \
  '"HTTP 500" in of("route.fallback")[0]["why"]' \
  'len(of("model.error")) == 1 and [e["provider"] for e in of("model.request")] == ["b", "a"]' \
  '[(r["status"], r["outcome"]) for r in reqs] == [(500, "fault"), (500, "fault")] or reqs' \
  'fin["status"] == "done" and fin["answer"] == "Answer from the routed model." and fin["steps"] == 1'

# -- router stats: the failure on b, the success on a
vrun router stats --json
expect_rc 0 "router stats"
python3 - "$E2E_TMP/out" <<'PY' && ok || fail "router stats --json"
import json, sys
d = json.load(open(sys.argv[1]))
m = {r["model"]: r for r in d["models"]}
assert m["b/m-b"]["calls"] == 1 and m["b/m-b"]["failures"] == 1 and m["b/m-b"]["success_rate"] == 0, m
assert m["a/m-a"]["calls"] == 1 and m["a/m-a"]["successes"] == 1 and m["a/m-a"]["retries"] == 1, m
assert m["a/m-a"]["posterior_mean"] > 0.5 > m["b/m-b"]["posterior_mean"], m
assert abs(m["a/m-a"]["cost"] - (100 * 1 + 20 * 2) / 1e6) < 1e-12 and m["a/m-a"]["mean_latency_ms"] > 0, m
assert abs(d["spend"]["total"] - (100 * 1 + 20 * 2) / 1e6) < 1e-12, d["spend"]
PY
vrun router stats
expect_out "a/m-a" "router stats (text)"
expect_out "POSTERIOR" "router stats (text)"

# -- feedback moves the posterior of the model that answered (a/m-a)
id=$(run_id_of "$E2E_TMP/fallback")
vrun feedback "$id" bad --json
expect_rc 0 "feedback bad"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [m["model"] for m in d["models"]] == ["a/m-a"], d
assert d["models"][0]["after"] < d["models"][0]["before"], d' "$E2E_TMP/out" && ok || fail "feedback bad lowers the posterior"
vrun feedback "$id" bad
expect_rc 2 "feedback twice"
expect_err "already has the feedback 'bad'" "feedback twice"
vrun feedback "${id:0:12}" good
expect_rc 0 "feedback changed (by prefix)"
expect_out "a/m-a (agent): posterior" "feedback good"
vrun router stats --json
python3 -c '
import json, sys
m = {r["model"]: r for r in json.load(open(sys.argv[1]))["models"]}
assert m["a/m-a"]["alpha"] == 3 and m["a/m-a"]["beta"] == 1, m["a/m-a"]' "$E2E_TMP/out" && ok \
  || fail "good after bad: alpha 1 + 1 success + 1 good, beta back to 1"
vrun feedback "$id" maybe
expect_rc 2 "feedback maybe"
vrun feedback rZZZZZZZZZZZZZZZZ good
expect_rc 2 "feedback unknown run"

# -- a tiny day budget: stopped before any call, exit 3
route_config "$PA" "$PB"
srv_stop
srv_start route_text; PB=$PORT
route_config "$PA" "$PB"
fresh_home
vrun run --json --route-seed 1 --day-budget 0.00000001 "answer"
expect_rc 3 "day budget"
verify "day budget" "$(save_out daybudget)" \
  'all(c["dropped"] == "budget" for c in of("route.decided")[0]["candidates"]) and of("route.decided")[0]["choice"] is None' \
  'len(of("budget.exceeded")) == 1 and of("budget.exceeded")[0]["budget"] == "day" and of("budget.exceeded")[0]["limit"] == 1e-08' \
  'of("budget.exceeded")[0]["estimate"] > 1e-08 and of("budget.exceeded")[0]["spent"] == 0' \
  'not of("model.request") and fin["status"] == "limit" and fin["reason"].startswith("budget: the day budget")'
vrun run --route-seed 1 --day-budget 0.00000001 "answer"
expect_rc 3 "day budget (text)"
expect_err "budget" "day budget (text)"

# -- budget.day in config, spent by earlier runs: the first runs fit, a later one is stopped.
# A call's estimate on a/m-a is ~0.004 (the request with the tools, ~4000
# tokens, at 1/Mtok: b/m-b at 10/Mtok never fits); a run spends 0.00014.
route_config "$PA" "$PB" "budget: {day: 0.0045}"
fresh_home
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  vrun run --json --route-seed "$i" "answer"
  [ "$rc" = 0 ] && n=$((n + 1)) && continue
  break
done
expect_rc 3 "day budget spent by earlier runs"
[ "$n" -ge 2 ] && ok || fail "the first runs fit in the day budget (got $n)"
verify "day budget spent" "$(save_out dayspent)" \
  'of("budget.exceeded")[0]["budget"] == "day" and of("budget.exceeded")[0]["spent"] > 0 or evs' \
  'not of("model.request")'

# -- agent budget in config: the default agent of venom run
route_config "$PA" "$PB" "budget: {agents: {default: 0.00000001}}"
fresh_home
vrun run --json "answer"
expect_rc 3 "agent budget"
verify "agent budget" "$(save_out agentbudget)" \
  'of("budget.exceeded")[0]["budget"] == "agent" and of("budget.exceeded")[0]["agent"] == "default"'

# -- --max-cost (the run's budget) says so too
route_config "$PA" "$PB"
fresh_home
vrun run --json --max-cost 0.00000001 "answer"
expect_rc 3 "run budget"
verify "run budget" "$(save_out runbudget)" 'of("budget.exceeded")[0]["budget"] == "run" or evs'

# -- usage errors
vrun run --route-seed -1 "x"
expect_rc 2 "bad seed"
expect_err "--route-seed" "bad seed"
vrun router frobnicate
expect_rc 2 "router bad subcommand"
# -- a bad catalog is a config error naming the line
printf 'models:\n  - {provider: a, model: m, quality: 2}\n' >"$VENOM_HOME/config.yaml"
vrun run "x"
expect_rc 2 "bad catalog"
expect_err "config.yaml:2: 'models[0].quality' must be a number from 0 to 1" "bad catalog"

rc_finish
