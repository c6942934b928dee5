#!/usr/bin/env bash
# bench/run_3turn.sh BUILD_DIR [RUNS]
#
# A headless `venom run` of a 3-turn task against venom-modelsrv on loopback
# (the repeating case bench/data/write_read.json: fs__write notes.txt,
# fs__read it back, answer), RUNS times (default 50, after 3 warm-up runs),
# next to its floor: the same three request bodies — captured from the
# modelsrv log of a venom run — sent by plain curl, as one curl process with
# --next and as three curl processes. Wall time and peak RSS of each
# (bench/proc_bench.py + bench/rss_exec), interleaved. See bench/README.md.
#
# One VENOM_HOME per batch, reused across the runs (its event log grows as a
# user's does); every venom run starts in a fresh empty working directory.
# Timing is reported, never asserted: exits non-zero only when the benchmark
# cannot run or a run fails. VENOM_BENCH_KEEP=1 keeps the scratch directory.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [RUNS]   (ninja -C BUILD_DIR venom venom-modelsrv provider_openai skill_fs bench_rss_exec)" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd) || usage
runs=${2:-50}
case "$runs" in '' | *[!0-9]*) usage ;; esac
for f in out/bin/venom out/bin/venom-modelsrv bench/rss_exec; do
    [ -x "$build/$f" ] || { echo "run_3turn.sh: $build/$f not found; build it first" \
        "(ninja -C $build venom venom-modelsrv provider_openai skill_fs bench_rss_exec)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "run_3turn.sh: curl is not installed (the baseline)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/venom-bench-3t.XXXXXX")
# shellcheck source=bench/modelsrv_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/modelsrv_lib.sh"
trap msrv_cleanup EXIT
case_file="$src_dir/data/write_read.json"
goal="Write 'venom was here' to notes.txt, read it back and tell me what it says."

bench_env
echo

# capture the three requests of one venom run (a server that logs)
msrv_start cap "$case_file" "$work/cap.log"
msrv_config "$work/home-cap" "$msrv_port"
mkdir -p "$work/capwd"
(cd "$work/capwd" && VENOM_HOME="$work/home-cap" "$build/out/bin/venom" run "$goal" >/dev/null)
[ "$(cat "$work/capwd/notes.txt")" = "venom was here" ] || { echo "run_3turn.sh: the capture run did not write notes.txt" >&2; exit 1; }

# the timed server logs nothing; requests 1..3 of the capture, sent to it
msrv_start timed "$case_file"
for i in 1 2 3; do msrv_curl_args "$work/cap.log" "$i" "$work/req$i" "http://127.0.0.1:$msrv_port"; done
msrv_config "$work/home" "$msrv_port"
mkdir -p "$work/wd" "$work/wd-offline" "$work/home-offline"
echo "request bodies: $(wc -c <"$work/req1.body") + $(wc -c <"$work/req2.body") + $(wc -c <"$work/req3.body") bytes" \
     "(OpenAI Chat Completions, SSE; from the modelsrv log of a venom run)"

# the same run with VENOM_HOME on tmpfs (when /dev/shm is one): what the
# event log's fsyncs cost
shm=""
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    shm=$(mktemp -d /dev/shm/venom-bench-3t.XXXXXX)
    msrv_config "$shm" "$msrv_port"
    trap 'msrv_cleanup; rm -rf "$shm"' EXIT
fi

python3 - "$work" "$build" "$runs" "$goal" "$shm" <<'EOF'
import json, shutil, sys
work, build, runs, goal, shm = sys.argv[1:6]
curl = shutil.which("curl")
args = [open("%s/req%d.args" % (work, i)).read().splitlines() for i in (1, 2, 3)]
# the case's tool-call ids are issued by the first venom run (warm-up), so
# the venom case must come first in a round; each case sends turns 0, 1, 2
spec = {"runs": int(runs), "warmup": 3, "rss_exec": build + "/bench/rss_exec",
        "baseline": "curl, one process, --next x3 (floor)",
        "cases": [
            {"name": "venom run, 3 turns (write, read, answer)",
             "cmds": [[build + "/out/bin/venom", "run", goal]],
             "env": {"VENOM_HOME": work + "/home"}, "fresh_cwd": work + "/wd",
             "expect": "notes.txt says: venom was here"},
            {"name": "curl, one process, --next x3 (floor)",
             "cmds": [[curl] + args[0] + ["--next"] + args[1] + ["--next"] + args[2]],
             "expect": "data: [DONE]"},
            {"name": "curl, three processes",
             "cmds": [[curl] + a for a in args], "expect": "data: [DONE]"},
            # the same task on the embedded default (no network, no libcurl)
            {"name": "  venom run, same task, offline provider",
             "cmds": [[build + "/out/bin/venom", "run", "write 'venom was here' to notes.txt then read notes.txt"]],
             "env": {"VENOM_HOME": work + "/home-offline"}, "fresh_cwd": work + "/wd-offline",
             "expect": "venom was here"},
            # where venom's time goes (see bench/README.md)
            {"name": "  venom --version (start-up, linking)", "cmds": [[build + "/out/bin/venom", "--version"]]},
            {"name": "  curl --version (curl's start-up)", "cmds": [[curl, "--version"]]},
            {"name": "rss_exec /bin/true (measuring floor)", "cmds": [["/bin/true"]]}]}
if shm:
    spec["cases"].insert(1, {"name": "  venom run, VENOM_HOME on tmpfs (no fsync)",
                             "cmds": [[build + "/out/bin/venom", "run", goal]],
                             "env": {"VENOM_HOME": shm}, "fresh_cwd": work + "/wd",
                             "expect": "notes.txt says: venom was here"})
json.dump(spec, open(work + "/b.spec", "w"))
EOF
echo "(b) a 3-turn headless run vs the same three requests by curl"
python3 "$src_dir/proc_bench.py" "$work/b.spec"
n_runs=$(sqlite3 "$work/home/venom.db" "select count(*) from runs" 2>/dev/null || echo "?")
echo "event log after the batch: $(du -k "$work/home/venom.db" | cut -f1) KiB ($n_runs runs); targets (b): <= 10 ms wall, <= 8 MiB peak RSS (reported, not asserted)"
