#!/usr/bin/env bash
# bench/sandbox_call.sh BUILD_DIR [N]
#
# "A cold sandboxed call takes <= 1.5 ms and is >= 3x faster than
# bubblewrap." Runs BUILD_DIR/bench/sandbox_call (built by `ninja
# bench_sandbox_call`) with N calls per case (default 1000); see
# bench/sandbox_call.c and bench/README.md for what it measures.
#
# bubblewrap is one of the baselines. When `bwrap` is missing and this runs
# as root on a system with apt-get, the script installs the Debian package
# (`apt-get install -y bubblewrap`) and says so; otherwise the bwrap row is
# skipped with a note. Timing is reported, never asserted: exits non-zero
# only when the benchmark cannot run or a call returns a wrong result.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [N]   (BUILD_DIR holds bench/sandbox_call)" >&2; exit 2; }
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd) || usage
n=${2:-1000}
case "$n" in '' | *[!0-9]*) usage ;; esac

bin="$build/bench/sandbox_call"
[ -x "$bin" ] || { echo "sandbox_call.sh: $bin not found; build it first (ninja -C $build bench_sandbox_call)" >&2; exit 2; }

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "bwrap not found: installing bubblewrap (apt-get install -y bubblewrap)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; then
            echo "apt-get install failed; trying once more after apt-get update"
            DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null ||
                echo "note: bubblewrap could not be installed; the bwrap row is skipped"
        fi
    else
        echo "note: bwrap not installed (install bubblewrap as root, or run this script as root with apt-get);" \
             "the bwrap row is skipped"
    fi
fi

exec "$bin" -n "$n"
