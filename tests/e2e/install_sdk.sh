#!/usr/bin/env bash
# The installed SDK, used the way an outside developer uses it: install the
# build into a temporary prefix, check the tree, build the hello pack of
# docs/sdk.md with pkg-config and with find_package(venom), and run it with
# the INSTALLED venom, which must also find the first-party packs installed
# in <prefix>/<libdir>/venom/skills. The C, manifest and CMake snippets of
# docs/sdk.md must be the files in tests/e2e/data/outside_skill/.
source "$VENOM_SRC/tests/support/e2e.sh"
unset VENOM_SYSTEM_SKILLS PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
data="$VENOM_SRC/tests/e2e/data/outside_skill"
prefix="$E2E_TMP/prefix"
work="$E2E_TMP/work"
mkdir -p "$work"

# ---- the doc's snippets are the files this test compiles
# Each <!-- file: PATH --> ... <!-- end file --> block of docs/sdk.md holds
# one fenced snippet; it must equal PATH byte for byte.
run python3 - "$VENOM_SRC" <<'EOF'
import re, sys
src = sys.argv[1]
doc = open(f"{src}/docs/sdk.md", encoding="utf-8").read()
blocks = re.findall(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```\n<!-- end file -->", doc, re.S)
if len(blocks) < 3:
    sys.exit(f"docs/sdk.md: expected 3 or more '<!-- file: ... -->' snippets, found {len(blocks)}")
bad = 0
for path, text in blocks:
    want = open(f"{src}/{path}", encoding="utf-8").read()
    if text != want:
        print(f"docs/sdk.md: the snippet marked {path} differs from the file; copy the file into the doc")
        bad = 1
    else:
        print(f"same: {path}")
sys.exit(bad)
EOF
expect_rc 0 "doc snippets"; expect_out "hello.c"; expect_out "venom.json"; expect_out "CMakeLists.txt"

# ---- install
run cmake --install "$VENOM_BUILD" --prefix "$prefix"
expect_rc 0 "cmake --install"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$VENOM_BUILD/CMakeCache.txt")
[ -n "$libdir" ] || libdir=lib
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
echo "libdir: $libdir"

check_path() { if [ -e "$1" ]; then ok; else rc=missing; out=$(cd "$prefix" && find . | sort | head -50); err=""; fail "installed tree lacks $1"; fi; }
check_path "$prefix/bin/venom"
check_path "$prefix/include/venom/venom.h"
check_path "$libdir/pkgconfig/venom.pc"
check_path "$libdir/cmake/venom/venomConfig.cmake"
check_path "$libdir/cmake/venom/venomConfigVersion.cmake"
check_path "$libdir/cmake/venom/plugin.map"
for pack in fs text json temperature; do
  check_path "$libdir/venom/skills/$pack/venom.json"
  check_path "$libdir/venom/skills/$pack/$pack.so"
done
check_path "$libdir/venom/skills/libm/venom.yaml"
run cmp "$VENOM_SRC/sdk/include/venom/venom.h" "$prefix/include/venom/venom.h"
expect_rc 0 "installed venom.h is the source header"

# ---- pkg-config, as an outside developer (relocated prefix: nothing of the
# configure-time prefix may leak into the flags)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
run pkg-config --cflags --libs venom
expect_rc 0 "pkg-config venom"; expect_out "-fvisibility=hidden"; expect_out "-Wl,-z,defs"
inc=$(pkg-config --cflags-only-I venom | sed 's/^ *-I//; s/ *$//')
if [ -f "$inc/venom/venom.h" ]; then ok; else fail "pkg-config include dir '$inc' has no venom/venom.h"; fi
run pkg-config --variable=abi venom;          expect_rc 0; expect_out "$(sed -n 's/^#define VENOM_ABI_MAJOR \([0-9]*\)$/\1/p' "$VENOM_SRC/sdk/include/venom/venom.h").$(sed -n 's/^#define VENOM_ABI_MINOR \([0-9]*\)$/\1/p' "$VENOM_SRC/sdk/include/venom/venom.h")"
run pkg-config --variable=skilldir venom
if [ "$(cd "$out" 2>/dev/null && pwd -P)" = "$(cd "$libdir/venom/skills" && pwd -P)" ]; then ok
else fail "pkg-config skilldir '$out' is not $libdir/venom/skills"; fi

# Sanitizers: an uninstrumented plugin loads into a sanitized venom (the
# runtime lives in the executable), so the outside .so is built with plain
# cc on purpose, exactly as the doc says, in every build of the suite.
cd "$work"
cp "$data/hello.c" "$data/venom.json" .
run sh -c 'cc -shared -fPIC $(pkg-config --cflags --libs venom) -o hello.so hello.c'
expect_rc 0 "the doc's one-line build"
run nm -D --defined-only hello.so
expect_rc 0
syms=$(awk '{print $NF}' <<<"$out" | sort -u)
if [ "$syms" = venom_plugin_entry ]; then ok; else fail "hello.so must export only venom_plugin_entry, exports: $(echo $syms)"; fi
# The example is clean C17 under strict warnings, with gcc and with clang.
for c in cc clang; do
  command -v "$c" >/dev/null || continue
  run sh -c "$c -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror \
             -shared -fPIC \$(pkg-config --cflags --libs venom) -o strict-$c.so hello.c"
  expect_rc 0 "hello.c with $c -Werror"
done

# Every other C snippet of docs/sdk.md is a complete translation unit that
# compiles warning-free against the installed header.
mkdir -p "$E2E_TMP/snippets"
run python3 - "$VENOM_SRC/docs/sdk.md" "$E2E_TMP/snippets" <<'EOF'
import re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
for i, text in enumerate(re.findall(r"^```c\n(.*?)^```", doc, re.S | re.M)):
    open(f"{sys.argv[2]}/snippet{i}.c", "w", encoding="utf-8").write(text)
    print(f"snippet{i}.c")
EOF
expect_rc 0 "extract C snippets"
n_snippets=0
for f in "$E2E_TMP"/snippets/*.c; do
  [ -e "$f" ] || continue
  n_snippets=$((n_snippets + 1))
  run sh -c "cc -std=c17 -Wall -Wextra -Wpedantic -Wno-unused-function -Werror -fsyntax-only \
             \$(pkg-config --cflags venom) '$f'"
  expect_rc 0 "docs/sdk.md C snippet $(basename "$f") (the ${n_snippets}th \`\`\`c block) compiles"
done
if [ "$n_snippets" -ge 4 ]; then ok; else fail "docs/sdk.md: expected 4 or more C snippets, found $n_snippets"; fi

# ---- the INSTALLED venom runs it from $VENOM_HOME/skills/hello/
V="$prefix/bin/venom"
mkdir -p "$VENOM_HOME/skills/hello"
cp hello.so venom.json "$VENOM_HOME/skills/hello/"
run "$V" skill run hello.greet name=Ada --json
expect_rc 0 "hello.greet"
expect_json 'd=={"ok":True,"skill":"hello.greet","result":{"greeting":"Hello, Ada!"}}'
run "$V" skill run hello.greet 'name=Dr. "Ada" \ Lovelace ☃' --json
expect_rc 0; expect_json 'r=={"greeting":"Hello, Dr. \"Ada\" \\ Lovelace ☃!"}'
run "$V" skill run hello.greet;          expect_rc 2; expect_err "argument 'name': required but missing"
run "$V" skill run hello.greet name=;    expect_rc 2; expect_err "argument 'name'"
run "$V" skill run hello.greet name=Ada age=3; expect_rc 2; expect_err "age"
run "$V" skill run hello.greet "name=$(printf 'x%.0s' {1..300})"; expect_rc 2; expect_err "argument 'name'"
run "$V" skill info hello.greet
expect_rc 0; expect_out "hello 1.0.0 (MIT"; expect_out "$VENOM_HOME/skills/hello/hello.so"

# ---- the installed first-party packs come from <prefix>/<libdir>/venom/skills
run "$V" skill list --json
expect_rc 0
expect_json 'all(any(s["name"]==n for s in d["skills"]) for n in ["hello.greet","fs.read","text.count","json.get","temperature.celsius_to_fahrenheit","libm.pow"]) and d["problems"]==[]'
run "$V" skill info fs.read
expect_rc 0; expect_out "$libdir/venom/skills/fs/fs.so"
run "$V" skill run libm.pow x=2 y=10 --json
expect_rc 0; expect_json 'r==1024'
printf 'one two\nthree\n' > notes.txt
run "$V" skill run text.count path=notes.txt --json
expect_rc 0; expect_json 'r["lines"]==2 and r["words"]==3'

# ---- a CMake consumer: find_package(venom) + venom_add_skill, and the pack
# in the project's ./.venom/skills/hello/ this time
if command -v cmake >/dev/null; then
  gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
  run cmake -S "$data" -B "$E2E_TMP/cmake-build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix"
  expect_rc 0 "configure the CMake consumer"
  run cmake --build "$E2E_TMP/cmake-build"
  expect_rc 0 "build the CMake consumer"
  so="$E2E_TMP/cmake-build/hello.so"
  run nm -D --defined-only "$so"
  syms=$(awk '{print $NF}' <<<"$out" | sort -u)
  if [ "$syms" = venom_plugin_entry ]; then ok; else fail "CMake-built hello.so must export only venom_plugin_entry, exports: $(echo $syms)"; fi
  rm -rf "$VENOM_HOME/skills/hello"
  mkdir -p "$work/.venom/skills/hello"
  cp "$so" venom.json "$work/.venom/skills/hello/"
  run "$V" skill run hello.greet name=Grace --json
  expect_rc 0 "CMake-built hello.greet"
  expect_json 'd=={"ok":True,"skill":"hello.greet","result":{"greeting":"Hello, Grace!"}}'
  run "$V" skill info hello.greet
  expect_out "$work/.venom/skills/hello/hello.so"
else
  echo "SKIP: no cmake, the CMake consumer is not tested"
fi

finish
