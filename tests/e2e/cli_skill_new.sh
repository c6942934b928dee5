#!/usr/bin/env bash
# venom skill new: both scaffolds (SDK and --typed) configure, build and pass
# their own test (ctest runs `venom skill test` on the pack dir the build
# assembled) against the SDK installed with `cmake --install`; the pack
# target makes a verifiable archive; names and existing dirs are checked.
source "$VENOM_SRC/tests/support/e2e.sh"
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
cd "$E2E_TMP"

venom skill new;                      expect_rc 2; expect_err "usage: venom skill new NAME"
venom skill new Hello;                expect_rc 2; expect_err "'Hello' is not a valid pack name; use lowercase letters"
venom skill new "a/b";                expect_rc 2; expect_err "is not a valid pack name"
venom skill new hello --frob;         expect_rc 2; expect_err "unexpected '--frob'"
venom skill new hello --dir nowhere;  expect_rc 1; expect_err "nowhere: no such directory"
mkdir -p taken && echo x > taken/file
venom skill new taken;                expect_rc 1; expect_err "taken exists and is not empty"
[ "$(cat taken/file)" = x ] && ok || fail "an existing dir was touched"
mkdir emptydir
venom skill new emptydir;             expect_rc 0 "an empty dir is fine"

venom skill new hello
expect_rc 0; expect_out "created ./hello/"; expect_out "cmake -S . -B build"; expect_out "--target pack"
for f in CMakeLists.txt skill.c venom.json README.md .gitignore; do
  [ -f "hello/$f" ] && ok || fail "hello/$f missing"
done
ls -A | grep -q '^\.hello' && fail "a temp dir was left behind" || ok
grep -q 'find_package(venom REQUIRED)' hello/CMakeLists.txt && ok || fail "no find_package(venom)"
grep -q '"library": "lib/${triplet}/hello.so"' hello/venom.json && ok || fail "manifest library"
grep -qF 'cc -shared -fPIC -o pack/hello/lib/$(cc -print-multiarch)/hello.so skill.c $(pkg-config --cflags --libs venom)' hello/README.md && ok || fail "README lacks the cc line"
venom skill new adder --typed --dir "$E2E_TMP"
expect_rc 0; expect_out "one typed skill"
grep -q '"symbol": "add"' adder/venom.json && ok || fail "typed manifest"

# ---- the installed SDK
prefix="$E2E_TMP/prefix"
run cmake --install "$VENOM_BUILD" --prefix "$prefix"; expect_rc 0 "cmake --install"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
for name in hello adder; do
  run cmake -S "$name" -B "$name/build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix"
  expect_rc 0 "configure $name"
  run cmake --build "$name/build"
  expect_rc 0 "build $name"
  t=$(ls "$name/build/pack/$name/lib")
  [ -f "$name/build/pack/$name/lib/$t/$name.so" ] && [ -f "$name/build/pack/$name/venom.json" ] && ok \
    || fail "$name: the pack dir is not build/pack/$name/{venom.json,lib/<triplet>/$name.so}"
  run ctest --test-dir "$name/build" --output-on-failure
  expect_rc 0 "$name's own test"; expect_out "100% tests passed"
  run cmake --build "$name/build" --target pack
  expect_rc 0 "$name pack target"; expect_out "built $name-0.1.0.tar.gz"
  run "$prefix/bin/venom" pack verify "$name/build/$name-0.1.0.tar.gz"
  expect_rc 0 "verify $name"
done
# the SDK plugin exports only its entry, the typed one only its function
run nm -D --defined-only hello/build/pack/hello/lib/*/hello.so
[ "$(awk '{print $NF}' <<<"$out" | sort -u)" = venom_plugin_entry ] && ok || fail "hello.so exports: $out"
run nm -D --defined-only adder/build/pack/adder/lib/*/adder.so
[ "$(awk '{print $NF}' <<<"$out" | sort -u)" = add ] && ok || fail "adder.so exports: $out"

# ---- the test the scaffold wrote really tests: a broken example fails it
sed -i 's/"Hello, Ada!"/"Hello, Bob!"/' hello/venom.json
run cmake --build hello/build; expect_rc 0 "rebuild"
run ctest --test-dir hello/build --output-on-failure
expect_rc 8 "a wrong example fails ctest"; expect_out 'FAIL  hello.greet example 1'

finish
