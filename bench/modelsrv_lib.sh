# shellcheck shell=bash disable=SC2034,SC2154
# bench/modelsrv_lib.sh — sourced by bench/model_roundtrip.sh and
# bench/run_3turn.sh: start venom-modelsrv, point a VENOM_HOME at it, turn
# requests of its log into curl command lines that send the same bytes.
# Needs: $build (the build directory), $work (a scratch directory).

src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
msrv_pids=()

msrv_cleanup() {
    local p
    for p in "${msrv_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${msrv_pids[@]}"; do wait "$p" 2>/dev/null || true; done
    [ -n "${work:-}" ] && [ -z "${VENOM_BENCH_KEEP:-}" ] && rm -rf "$work"
    return 0
}

# msrv_start NAME CASE_FILE [LOG]: starts a server; sets msrv_port.
msrv_start() {
    local name=$1 case_file=$2 log=${3:-}
    local pf="$work/$name.port"
    local args=(--case "$case_file" --port-file "$pf" --idle-exit 600)
    [ -n "$log" ] && args+=(--log "$log")
    "$build/out/bin/venom-modelsrv" "${args[@]}" >/dev/null 2>"$work/$name.err" &
    msrv_pids+=($!)
    for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
    [ -s "$pf" ] || { echo "venom-modelsrv did not start: $(cat "$work/$name.err")" >&2; exit 1; }
    msrv_port=$(cat "$pf")
}

# msrv_config HOME PORT: HOME/config.yaml with the provider `openai` (what
# `venom run` uses: SSE, the default) plus `bench_sse` / `bench_plain`.
msrv_config() {
    mkdir -p "$1"
    cat >"$1/config.yaml" <<EOF
provider: openai
providers:
  openai:
    base_url: http://127.0.0.1:$2/v1
    api_key_env: ""
    model: m-test
  bench_sse:
    plugin: openai
    base_url: http://127.0.0.1:$2/v1
    api_key_env: ""
    model: m-test
    stream: true
  bench_plain:
    plugin: openai
    base_url: http://127.0.0.1:$2/v1
    api_key_env: ""
    model: m-test
    stream: false
EOF
}

# msrv_curl_args LOG N OUT_PREFIX URL_BASE: request N of LOG as curl
# arguments, one per line, in OUT_PREFIX.args, with the body, byte for byte,
# in OUT_PREFIX.body (re-serialised as the plugin does, compact, and
# checked against the logged content-length). URL_BASE replaces the logged
# host so the same request can go to another server.
msrv_curl_args() {
    python3 - "$@" <<'EOF'
import json, sys
log, n, out, base = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rec = next((r for r in map(json.loads, open(log)) if r["n"] == n), None)
if rec is None or rec["status"] != 200:
    sys.exit("request %d of %s: missing or refused (%s)" % (n, log, rec and rec.get("problem")))
body = json.dumps(rec["body"], separators=(",", ":"), ensure_ascii=False).encode()
if len(body) != int(rec["headers"]["content-length"]):
    sys.exit("request %d: re-serialised body has %d bytes, the wire had %s: not byte-identical"
             % (n, len(body), rec["headers"]["content-length"]))
open(out + ".body", "wb").write(body)
args = ["-s", "-S", "-f"]
for k, v in rec["headers"].items():
    if k not in ("host", "content-length"):
        args += ["-H", "%s: %s" % (k, v)]
args += ["--data-binary", "@" + out + ".body", base + rec["path"]]
open(out + ".args", "w").write("\n".join(args) + "\n")
EOF
}

# bench_env: the machine line of every report.
bench_env() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')  cpus: $(nproc)  kernel: $(uname -r)" \
         " cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
         " build: $(grep -m1 '^CMAKE_BUILD_TYPE' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
