#!/usr/bin/env bash
# bench/skill_list.sh BUILD_DIR [N]
#
# "venom skill list with 200 installed skills loads no .so and takes under
# 20 ms". Creates a throw-away VENOM_HOME with 200 skill packs, each with a
# manifest declaring one skill and a real plugin .so (a copy of a built
# first-party plugin, so a load would be possible), then:
#   1. checks every skill is listed;
#   2. checks no pack .so is opened (strace -f -e openat, else LD_DEBUG=files);
#   3. times `venom skill list` against `venom --version` (same binary, no
#      scan) with hyperfine if installed, else a bash loop of N runs each
#      (default 50), and prints the medians and their ratio.
# Exits non-zero when a skill is missing or a pack .so was loaded. Timing is
# reported, never asserted: absolute times belong to the machine.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [RUNS]   (BUILD_DIR holds out/bin/venom)" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd) || usage
runs=${2:-50}
case "$runs" in '' | *[!0-9]*) usage ;; esac
npacks=${VENOM_BENCH_PACKS:-200}
target_ms=20

venom="$build/out/bin/venom"
[ -x "$venom" ] || { echo "skill_list.sh: $venom not found; build first (ninja -C $build)" >&2; exit 2; }
skills_out="$build/out/lib/venom/skills"
so="$skills_out/fs/fs.so"
if [ ! -f "$so" ]; then
    so=$(find "$skills_out" -name '*.so' -type f 2>/dev/null | sort | head -n 1)
    [ -n "$so" ] || { echo "skill_list.sh: no built plugin .so under $skills_out to copy" >&2; exit 2; }
    echo "note: $skills_out/fs/fs.so not built; using $so as the pack library"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/venom-bench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
home="$tmp/home"
work="$tmp/work" # cwd without a ./.venom/skills
mkdir -p "$home/skills" "$work"
for i in $(seq -w 1 "$npacks"); do
    d="$home/skills/pack$i"
    mkdir -p "$d"
    cp "$so" "$d/pack$i.so"
    cat >"$d/venom.json" <<EOF
{
  "name": "pack$i",
  "version": "1.0.0",
  "description": "benchmark pack $i",
  "library": "pack$i.so",
  "skills": [
    {
      "name": "echo",
      "description": "Benchmark skill $i: returns its arguments",
      "args": {"type": "object", "properties": {"text": {"type": "string"}}}
    }
  ]
}
EOF
done
export VENOM_HOME="$home"
cd "$work"

# 1. every skill is listed
"$venom" skill list >"$tmp/list" 2>"$tmp/list.err" || {
    echo "skill_list.sh: venom skill list failed:" >&2
    cat "$tmp/list.err" >&2
    exit 1
}
listed=$(grep -c '^pack[0-9]*\.echo ' "$tmp/list" || true)
echo "skills listed: $listed of $npacks"
[ "$listed" -eq "$npacks" ] || { echo "skill_list.sh: not every pack skill was listed" >&2; exit 1; }

# 2. no pack .so is loaded (opened at all, with strace)
method=""
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
    method="strace -f -e trace=/^open"
    strace -f -e 'trace=/^open' -o "$tmp/trace" "$venom" skill list >/dev/null 2>&1
    loaded=$(grep -E '"[^"]*/skills/[^"/]+/[^"/]+\.so"' "$tmp/trace" | grep -v ENOENT || true)
else
    method="LD_DEBUG=files"
    LD_DEBUG=files "$venom" skill list >/dev/null 2>"$tmp/trace"
    loaded=$(grep -E 'file=[^ ]*/skills/[^ /]+/[^ /]+\.so' "$tmp/trace" || true)
fi
nloaded=$(printf '%s' "$loaded" | grep -c . || true)
echo "loaded .so files: $nloaded   ($method)"
if [ "$nloaded" -ne 0 ]; then
    printf '%s\n' "$loaded" | head -n 5 >&2
    exit 1
fi

# 3. timing: medians of `venom skill list` and of the baseline `venom --version`
median_ms() { # stdin: one duration in ns per line
    sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'
}
if command -v hyperfine >/dev/null 2>&1; then
    tool="hyperfine ($runs runs each)"
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$tmp/hf.json" \
        "$venom --version" "$venom skill list" >/dev/null 2>&1 ||
        hyperfine --warmup 3 --runs "$runs" --export-json "$tmp/hf.json" \
            "$venom --version 2>/dev/null" "$venom skill list 2>/dev/null" >/dev/null
    hf_median() {
        if command -v jq >/dev/null 2>&1; then
            jq -r ".results[$1].median * 1000" "$tmp/hf.json"
        else
            python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"]*1000))' "$tmp/hf.json" "$1"
        fi
    }
    base=$(hf_median 0)
    list=$(hf_median 1)
else
    # $EPOCHREALTIME (bash 5) reads the clock without forking; `date +%s%N`
    # costs a fork+exec inside each measured interval (same for both rows).
    if [ -n "${EPOCHREALTIME:-}" ]; then
        clock="\$EPOCHREALTIME"
        now() { _t=${EPOCHREALTIME/[.,]/}; _t=$((10#$_t * 1000)); }
    else
        clock="date +%s%N"
        now() { _t=$(date +%s%N); }
    fi
    tool="bash loop, $clock ($runs runs each, interleaved)"
    for _ in 1 2 3; do "$venom" --version >/dev/null 2>&1; "$venom" skill list >/dev/null 2>&1; done # warm-up
    : >"$tmp/base.ns"
    : >"$tmp/list.ns"
    for _ in $(seq "$runs"); do
        now; t0=$_t; "$venom" --version >/dev/null 2>&1; now
        echo $((_t - t0)) >>"$tmp/base.ns"
        now; t0=$_t; "$venom" skill list >/dev/null 2>&1; now
        echo $((_t - t0)) >>"$tmp/list.ns"
    done
    base=$(median_ms <"$tmp/base.ns")
    list=$(median_ms <"$tmp/list.ns")
fi

echo
echo "timing: $tool"
awk -v b="$base" -v l="$list" -v n="$npacks" 'BEGIN {
    printf "%-34s %10s %8s\n", "case", "median ms", "ratio"
    printf "%-34s %10.3f %8.2f\n", "venom --version (baseline)", b, 1
    printf "%-34s %10.3f %8.2f\n", "venom skill list (" n " packs)", l, (b > 0 ? l / b : 0)
    printf "%-34s %10.3f\n", "scan cost (difference)", l - b
}'
verdict=$(awk -v l="$list" -v t="$target_ms" 'BEGIN { print (l < t) ? "met" : "NOT met" }')
echo "target: skill list under $target_ms ms — $verdict on this machine (sanitizer builds are slower)"
