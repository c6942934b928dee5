# Shared helpers for the `venom run` end-to-end tests (tests/e2e/run_*.sh):
# a scripted model server (venom-modelsrv) per run, a config.yaml for one of
# the four HTTP providers, venom under a timeout, and checks of the event
# stream (venom-schemacheck + an independent hash-chain check in python3).
# Source it after nothing else; it sources tests/support/e2e.sh.
source "$VENOM_SRC/tests/support/e2e.sh"

SRV="$VENOM_OUT/bin/venom-modelsrv"
SCHEMACHECK="$VENOM_OUT/bin/venom-schemacheck"
SCHEMA="$VENOM_SRC/docs/events.schema.json"
CASES="$VENOM_SRC/tests/e2e/data/model"
PROVIDERS=(openai anthropic gemini ollama)
# prices configured for the model m-test (per million tokens)
PRICE_IN=3
PRICE_CACHED=0.3
PRICE_OUT=15
for b in "$SRV" "$SCHEMACHECK"; do
  [ -x "$b" ] || { echo "FAIL: $b not built (ninja venom-modelsrv venom-schemacheck)"; exit 1; }
done
HAVE_PY=0
command -v python3 >/dev/null && HAVE_PY=1

SRV_PIDS=()
BG_PIDS=()
_rc_cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${SRV_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SRV_PIDS[@]}" "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$E2E_TMP"
}
trap _rc_cleanup EXIT

# now_ms: monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# new_wd: a fresh, empty working directory in $WD.
new_wd() { WD=$(mktemp -d "$E2E_TMP/wd.XXXXXX"); }

# srv_start CASE [MODELSRV ARGS...]: start a server on tests/e2e/data/model/CASE.json
# (a path with a / is taken as is); sets PORT, SRV_PID, SRV_LOG, SRV_ERR.
SRV_N=0
srv_start() {
  local case=$1; shift
  [[ $case == */* ]] || case="$CASES/$case.json"
  SRV_N=$((SRV_N + 1))
  local d="$E2E_TMP/srv.$SRV_N"
  mkdir -p "$d"
  SRV_LOG="$d/log.ndjson"
  SRV_ERR="$d/err"
  : >"$SRV_LOG"
  "$SRV" --case "$case" --port-file "$d/port" --log "$SRV_LOG" --idle-exit 30 "$@" >"$d/out" 2>"$SRV_ERR" &
  SRV_PID=$!
  SRV_PIDS+=("$SRV_PID")
  local i
  for i in $(seq 200); do [ -s "$d/port" ] && break; sleep 0.025; done
  if ! [ -s "$d/port" ]; then
    echo "FAIL: venom-modelsrv did not start on $case: $(cat "$SRV_ERR")"
    exit 1
  fi
  PORT=$(cat "$d/port")
}
# srv_stop: stop the last server started.
srv_stop() { kill -TERM "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }

# base_url PROVIDER PORT: OpenAI's base URL ends in /v1, the others are the root.
base_url() { if [ "$1" = openai ]; then echo "http://127.0.0.1:$2/v1"; else echo "http://127.0.0.1:$2"; fi; }

# closed_port: a 127.0.0.1 port that was just bound and closed (nothing listens).
closed_port() {
  if [ "$HAVE_PY" = 1 ]; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    echo 9   # discard: nothing listens there in a test box
  fi
}

# write_config PROVIDER STREAM: $VENOM_HOME/config.yaml for the server on $PORT.
# Tunables (environment, e.g. `CFG_KEY_ENV=TEST_KEY write_config openai true`):
# CFG_URL (default: base_url of $PORT), CFG_KEY_ENV (""), CFG_MODEL (m-test),
# CFG_RETRIES (2), CFG_TIMEOUTS (YAML flow map), CFG_PRICES (1: m-test priced).
write_config() {
  local p=$1 stream=$2
  local url=${CFG_URL:-$(base_url "$p" "$PORT")}
  local tmo='{first_byte_ms: 5000, idle_ms: 5000}'
  [ -n "${CFG_TIMEOUTS:-}" ] && tmo=$CFG_TIMEOUTS
  {
    echo "provider: $p"
    echo "providers:"
    echo "  $p:"
    echo "    base_url: $url"
    echo "    api_key_env: \"${CFG_KEY_ENV:-}\""
    echo "    model: ${CFG_MODEL:-m-test}"
    echo "    stream: $stream"
    echo "    retries: ${CFG_RETRIES:-2}"
    echo "    timeouts: $tmo"
    if [ "${CFG_PRICES:-1}" = 1 ]; then
      echo "    models:"
      echo "      m-test: {input_per_mtok: $PRICE_IN, cached_input_per_mtok: $PRICE_CACHED, output_per_mtok: $PRICE_OUT}"
    fi
    # the agent loop's wire traffic: no planning call first (docs/plan.md)
    echo "planner: ${CFG_PLANNER:-"{mode: agent}"}"
  } >"$VENOM_HOME/config.yaml"
}

# vrun [-t SECONDS] ARGS...: `venom ARGS` in $WD under a timeout (default 20 s);
# sets rc, out, err (as e2e.sh's run) and ELAPSED_MS; stdout is also in $OUT_FILE.
OUT_FILE="$E2E_TMP/out"
vrun() {
  local to=20
  if [ "$1" = -t ]; then to=$2; shift 2; fi
  local t0
  t0=$(now_ms)
  set +e
  (cd "$WD" && exec timeout -k 2 "$to" "$VENOM_BIN" "$@") >"$E2E_TMP/out" 2>"$E2E_TMP/err"
  rc=$?
  set -e
  ELAPSED_MS=$(($(now_ms) - t0))
  out=$(cat "$E2E_TMP/out")
  err=$(cat "$E2E_TMP/err")
}

# save_out NAME: copy the last stdout to $E2E_TMP/NAME and print the path.
save_out() { cp "$E2E_TMP/out" "$E2E_TMP/$1"; echo "$E2E_TMP/$1"; }

# The python side of the checks, in one process per call (python3 starts
# slowly on a loaded box): the hash chain of docs/events.md, independent of
# venom, then each EXPR of `verify`.
cat >"$E2E_TMP/verify.py" <<'PY'
import hashlib, json, os, sys

def chain(path):
    """docs/events.md's check: no JSON re-serialisation, only the text."""
    prev, n, evs = "0" * 64, 0, []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        ev = json.loads(line)
        cut = line.rfind(',"hash":"')
        if ev["seq"] != n: return evs, "seq %r, expected %d" % (ev["seq"], n)
        if ev["prev"] != prev: return evs, "seq %d: prev is not the previous event's hash" % n
        if line[cut:] != ',"hash":"%s"}' % ev["hash"]: return evs, "seq %d: hash is not the last member" % n
        if hashlib.sha256((line[:cut] + "}").encode()).hexdigest() != ev["hash"]: return evs, "seq %d: wrong hash" % n
        prev = ev["hash"]
        n += 1
        evs.append(ev)
    return evs, None if n else "no events"

def usage(case_name, prov):
    """model.response and run.finished usage/cost are the case's turns, mapped
    per docs/internals/canonical.md and priced as write_config prices m-test."""
    case = json.load(open(os.path.join(os.environ["CASES"], case_name + ".json")))
    pin, pcached, pout = (float(os.environ[k]) for k in ("PRICE_IN", "PRICE_CACHED", "PRICE_OUT"))
    def canon(u):
        u = dict({"input": 10, "output": 5, "cached": 0, "cache_write": 0}, **u)
        # input_tokens is uncached; Ollama reports prompt_eval_count = input and no cache reads
        return {"input_tokens": u["input"], "cached_input_tokens": 0 if prov == "ollama" else u["cached"],
                "cache_write_tokens": u["cache_write"] if prov == "anthropic" else 0, "output_tokens": u["output"]}
    def cost(u):
        return (u["input_tokens"] * pin + u["cached_input_tokens"] * pcached + u["cache_write_tokens"] * pin
                + u["output_tokens"] * pout) / 1e6
    turns = [canon(t["reply"].get("usage", {})) for t in case["turns"]]
    resps = [e for e in evs if e["type"] == "model.response"]
    bad = []
    if len(resps) != len(turns):
        bad.append("%d model.response events for %d turns" % (len(resps), len(turns)))
    for i, (e, want) in enumerate(zip(resps, turns)):
        got = {k: e["usage"][k] for k in want}
        if got != want: bad.append("turn %d usage %s, expected %s" % (i, got, want))
        if abs(e["cost"] - cost(want)) > 1e-12 or e["priced"] is not True:
            bad.append("turn %d cost %r priced %r, expected %r" % (i, e["cost"], e["priced"], cost(want)))
    tot = {k: sum(t[k] for t in turns) for k in turns[0]}
    got = {k: fin["usage"][k] for k in tot}
    if got != tot: bad.append("run.finished usage %s, expected %s" % (got, tot))
    if abs(fin["cost"] - cost(tot)) > 1e-12: bad.append("run.finished cost %r, expected %r" % (fin["cost"], cost(tot)))
    if fin["priced"] is not True: bad.append("run.finished priced is not true")
    if fin["steps"] != len(turns): bad.append("steps %r, expected %d" % (fin["steps"], len(turns)))
    return "; ".join(bad) or True

def of(t):
    """the events of a type"""
    return [e for e in evs if e["type"] == t]

# the queue: records of NUL-separated fields: label, file, server log, number of EXPRs, EXPRs
fields = open(sys.argv[1], "rb").read().decode("utf-8").split("\0")
checks = fails = 0
i = 0
while i + 4 <= len(fields):
    label, path, log, n = fields[i:i + 4]
    exprs = fields[i + 4:i + 4 + int(n)]
    i += 4 + int(n)
    checks += 1 + len(exprs)
    why = chain(path)[1]
    if why:
        print("FAIL: %s: hash chain (python): %s" % (label, why)); fails += 1
    evs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    fin = evs[-1] if evs else {}
    reqs = [json.loads(l) for l in open(log, encoding="utf-8") if l.strip()] if log and os.path.exists(log) else []
    bad = 0
    for expr in exprs:
        try:
            r = eval(expr)
        except Exception as e:
            r = "%s: %s" % (type(e).__name__, e)
        if r is not True:
            print("FAIL: %s: %s -> %s" % (label, " ".join(expr.split())[:300], str(r)[:600])); bad += 1
    if bad or why:
        print("  (events in %s, last lines:)" % path)
        for l in open(path, encoding="utf-8").readlines()[-2:]:
            print("  | " + l.rstrip()[:700])
    fails += bad
print("checks %d %d" % (checks, fails))
PY
export CASES PRICE_IN PRICE_CACHED PRICE_OUT

# verify LABEL FILE [EXPR...]: FILE (NDJSON events) validates against the
# schema (venom-schemacheck, now: seq/prev continuity too); its hash chain
# verifies (python3, as docs/events.md shows) and each python EXPR is True.
# EXPRs see evs (the events), fin (the last one), of(type), reqs (the lines of
# the last server's --log as it is at the end of the script) and
# usage(case, provider) (True, or what differs). The python checks run in one
# batch at rc_finish (python3 starts slowly on a loaded box), so FILE and the
# server log must stay. Without python3 only the schema is checked (said once).
VERIFY_Q="$E2E_TMP/verify.queue"
: >"$VERIFY_Q"
verify() {
  local label=$1 f=$2 o
  shift 2
  if o=$("$SCHEMACHECK" "$SCHEMA" "$f" 2>&1); then ok; else
    echo "FAIL: $label: venom-schemacheck: $o"; E2E_FAILS=$((E2E_FAILS + 1)); fi
  printf '%s\0' "$label" "$f" "${SRV_LOG:-}" "$#" "$@" >>"$VERIFY_Q"
}
# rc_finish: run the queued python checks, then e2e.sh's finish.
rc_finish() {
  if [ "$HAVE_PY" != 1 ]; then
    echo "note: python3 not found: hash-chain and event checks skipped"
  elif [ -s "$VERIFY_Q" ]; then
    local o last n bad
    o=$(python3 "$E2E_TMP/verify.py" "$VERIFY_Q" 2>&1) || true
    last=${o##*$'\n'}
    if [[ $last == checks* ]]; then
      read -r _ n bad <<<"$last"
      E2E_CHECKS=$((E2E_CHECKS + n - bad)); E2E_FAILS=$((E2E_FAILS + bad))
      [ "$bad" = 0 ] || printf '%s\n' "$o" | sed '$d'
    else
      echo "FAIL: the python checks crashed: $o"; E2E_FAILS=$((E2E_FAILS + 1))
    fi
  fi
  finish
}
# check_events FILE LABEL: schema + hash chain only.
check_events() { verify "$2" "$1"; }

# run_id_of FILE: the run_id of an event stream.
run_id_of() { head -1 "$1" | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p'; }
# runlog: the events of the newest run (venom runs log ID --json) in a new
# file; prints its path.
# The run is the one named in venom's stderr ("venom: run ID STATUS: …", as a
# run that did not finish done says), else the newest.
runlog() {
  local f id
  f=$(mktemp "$E2E_TMP/runlog.XXXXXX")
  id=$(grep -o 'run r[0-9A-Z]\{16\} ' <<<"$err" | head -1 | cut -c5-21) || true
  [ -n "$id" ] || id=$(last_run_id)
  "$VENOM_BIN" runs log "$id" --json >"$f" || true
  echo "$f"
}
# last_run_id: the newest run in $VENOM_HOME (first row of venom runs list).
last_run_id() { "$VENOM_BIN" runs list 2>/dev/null | awk 'NR == 2 { print $1 }'; }
