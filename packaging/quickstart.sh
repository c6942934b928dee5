#!/usr/bin/env bash
# venom quick start: installs what is missing (Debian 12, apt, as root or via
# sudo), builds, then either runs the demo or the whole test suite.
#
#   bash packaging/quickstart.sh demo   build + headless `venom run`s on the embedded defaults
#   bash packaging/quickstart.sh test   build + the full suite: plain, ASan+UBSan, the sandbox
#                                       tests again as an unprivileged user (when root), fuzzers
#
# Environment: CI=true turns warnings into errors; FUZZ_SECONDS (default 30)
# bounds each fuzz target; JOBS (default nproc) the build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-demo}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

say() { printf '\n==> %s\n' "$*"; }

# Debian packages: the build, the libraries (DESIGN.md section 9), the tests.
PKGS=(build-essential cmake ninja-build pkg-config python3 binutils
      libcurl4-openssl-dev libjansson-dev libsqlite3-dev libffi-dev libseccomp-dev
      libcap-dev libarchive-dev libsodium-dev libyaml-dev libmicrohttpd-dev libcmocka-dev)
if [ "$MODE" = test ]; then
  PKGS+=(clang libclang-rt-14-dev)   # libFuzzer targets
fi

install_missing() {
  local missing=()
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "quickstart: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure_build() { # DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

demo() {
  say "building (build/)"
  configure_build build
  local venom=$ROOT/build/out/bin/venom
  DEMO_DIR=$(mktemp -d)
  export VENOM_HOME="$DEMO_DIR/.venom"
  trap 'rm -rf "$DEMO_DIR"' EXIT
  cd "$DEMO_DIR"
  say "venom --version"; "$venom" --version
  say "venom run — headless goals on the embedded defaults: the offline provider (no network, no model),"
  say "the SQLite event log in \$VENOM_HOME/venom.db, and the sandbox for untrusted skills"
  local goal
  for goal in "write 'venom runs goals headless.' to notes.txt then count the words of notes.txt" \
              "show me notes.txt" \
              "convert 37 celsius to fahrenheit" \
              "run 'uname -sm'"; do
    say "venom run \"$goal\""
    "$venom" run "$goal"
  done
  say "venom run \"do the thing\"   (ambiguous: it asks instead of guessing, exit 2)"
  "$venom" run "do the thing" || echo "(exit code $?, as expected)"
  say "venom run --json \"count the lines of notes.txt\"   (the events, as recorded)"
  "$venom" run --json "count the lines of notes.txt" | cut -c1-150
  say "venom runs list"; "$venom" runs list
  say "done — see README.md and docs/ for more (docs/providers.md: point venom at a real model)"
}

run_suite() { # DIR label
  say "tests: $2"
  (cd "$1" && ctest --output-on-failure -j "$JOBS" --timeout 600)
}

fuzz() {
  say "building libFuzzer targets (build-fuzz/, clang)"
  CC=clang configure_build build-fuzz -DCMAKE_C_COMPILER=clang -DVENOM_FUZZ=ON -DVENOM_TESTS=ON
  local corpus
  for f in build-fuzz/out/bin/fuzz_*; do
    local name; name=$(basename "$f")
    corpus=$(mktemp -d)
    if [ -d "tests/fuzz/corpus/${name#fuzz_}" ]; then cp -r "tests/fuzz/corpus/${name#fuzz_}/." "$corpus/"; fi
    say "fuzzing $name for ${FUZZ_SECONDS}s"
    local log rc=0
    log=$(mktemp)
    "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$PWD/build-fuzz/$name-" "$corpus" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
      # the whole report: the failed check or stack, and the input (hex) to reproduce it
      grep -v '^#[0-9]' "$log" | tail -60
      for a in "build-fuzz/$name-"*; do [ -f "$a" ] && { echo "input $a:"; od -An -tx1 "$a" | head -40; }; done
      rm -rf "$corpus" "$log"
      return "$rc"
    fi
    tail -4 "$log"
    rm -rf "$corpus" "$log"
  done
}

# As root, the sandbox must also hold for an unprivileged user (user
# namespaces instead of root's powers): build a copy owned by such a user and
# run the sandbox tests as it. VENOM_TEST_USER names the user (created if
# missing and useradd exists).
as_user() {
  [ "$(id -u)" = 0 ] || return 0
  local user=${VENOM_TEST_USER:-venomtest}
  if ! id "$user" >/dev/null 2>&1; then
    if command -v useradd >/dev/null; then
      useradd -m "$user"
    else
      say "no unprivileged user '$user' and no useradd: sandbox tests as a user skipped"
      return 0
    fi
  fi
  local copy
  copy=$(mktemp -d /tmp/venom-user-XXXXXX)
  if [ -d .git ]; then git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$copy"
  else tar --exclude='./build*' -cf - . | tar -xf - -C "$copy"; fi
  chown -R "$user" "$copy"
  say "sandbox tests as the unprivileged user '$user' ($copy)"
  local cmd="cd '$copy' && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && \
    cmake --build build -j $JOBS >/dev/null && cd build && \
    ctest --output-on-failure -j $JOBS --timeout 600 -R 'sandbox|seccomp|landlock|harden|nsfs|cgroup|pool|ipc|broker|skills_shell|cli_skill|run_offline|skill_install|run_skillmd|mcp|vault|examples_secrets|secrets_cli|docs_writing_skills|run_plan|route_cli'"
  local rc=0
  if command -v runuser >/dev/null; then runuser -u "$user" -- bash -c "$cmd" || rc=$?
  else su -s /bin/bash "$user" -c "$cmd" || rc=$?; fi
  rm -rf "$copy"
  return $rc
}

test_all() {
  say "building (build/)"
  configure_build build
  run_suite build "plain build"
  say "building with ASan+UBSan (build-asan/)"
  configure_build build-asan -DVENOM_SANITIZE=address,undefined
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-asan "ASan+UBSan build"
  as_user
  fuzz
  say "all tests passed"
}

install_missing
case "$MODE" in
  demo) demo ;;
  test) test_all ;;
  *) echo "usage: bash packaging/quickstart.sh demo|test" >&2; exit 2 ;;
esac
