#!/usr/bin/env bash
# bench/model_roundtrip.sh BUILD_DIR [N] [RUNS]
#
# venom's overhead per model round trip against venom-modelsrv on loopback,
# as a ratio to plain curl sending the same bytes (see bench/README.md):
#
#  (a1) in process: BUILD_DIR/bench/model_roundtrip — N (default 2000)
#       provider_chat calls of the openai plugin (SSE and plain) vs a reused
#       libcurl easy handle POSTing the byte-identical wire body;
#  (a2) process level: RUNS (default 50) `venom run "Say hello."` (one text
#       turn, a fresh process each) vs `curl -s` posting the same wire body
#       (a fresh process each) — wall time and peak RSS (bench/proc_bench.py).
#
# Both use the repeating case bench/data/text.json. Timing is reported, never
# asserted: exits non-zero only when the benchmark cannot run or an answer is
# wrong. VENOM_BENCH_KEEP=1 keeps the scratch directory.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [N] [RUNS]   (ninja -C BUILD_DIR bench_model_roundtrip venom skill_fs)" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd) || usage
n=${2:-2000}
runs=${3:-50}
case "$n$runs" in '' | *[!0-9]*) usage ;; esac
for f in out/bin/venom out/bin/venom-modelsrv bench/model_roundtrip bench/rss_exec; do
    [ -x "$build/$f" ] || { echo "model_roundtrip.sh: $build/$f not found; build it first" \
        "(ninja -C $build bench_model_roundtrip venom skill_fs)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "model_roundtrip.sh: curl is not installed (the baseline)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/venom-bench-rt.XXXXXX")
# shellcheck source=bench/modelsrv_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/modelsrv_lib.sh"
trap msrv_cleanup EXIT
case_file="$src_dir/data/text.json"

bench_env
echo

# ---- (a1) in process
msrv_start a1 "$case_file" "$work/a1.log"
msrv_config "$work/home-a1" "$msrv_port"
echo "(a1) provider_chat vs libcurl, one process, keep-alive"
VENOM_HOME="$work/home-a1" VENOM_SYSTEM_PROVIDERS="$build/out/lib/venom/providers" \
    "$build/bench/model_roundtrip" -l "$work/a1.log" -n "$n"
echo

# ---- (a2) process level: capture the request of one `venom run`, then time
msrv_start a2cap "$case_file" "$work/a2.log"
msrv_config "$work/home-cap" "$msrv_port"
goal="Say hello."
(cd "$work" && VENOM_HOME="$work/home-cap" "$build/out/bin/venom" run "$goal" >/dev/null)
msrv_start a2 "$case_file" # the timed server logs nothing
msrv_curl_args "$work/a2.log" 1 "$work/a2req" "http://127.0.0.1:$msrv_port"
msrv_config "$work/home-a2" "$msrv_port"
mkdir -p "$work/wd"
python3 - "$work" "$build" "$runs" "$goal" <<'EOF'
import json, shutil, sys
work, build, runs, goal = sys.argv[1:5]
curl = shutil.which("curl")
args = open(work + "/a2req.args").read().splitlines()
spec = {"runs": int(runs), "warmup": 3, "rss_exec": build + "/bench/rss_exec", "baseline": "curl -s, same body (baseline)",
        "cases": [
            {"name": "curl -s, same body (baseline)", "cmds": [[curl] + args], "expect": "data: [DONE]"},
            {"name": "venom run (one text turn)", "cmds": [[build + "/out/bin/venom", "run", goal]],
             "env": {"VENOM_HOME": work + "/home-a2"}, "fresh_cwd": work + "/wd",
             "expect": "Hello from the scripted model. Nothing to do here."}]}
json.dump(spec, open(work + "/a2.spec", "w"))
EOF
echo "(a2) one text turn, a fresh process each: venom run vs curl -s ($(wc -c <"$work/a2req.body") byte body)"
python3 "$src_dir/proc_bench.py" "$work/a2.spec"
echo "target: within 1.2x of plain curl — see the wall ratio of 'venom run' (reported, not asserted)"
