#!/usr/bin/env bash
# docs/writing-skills.md, run as a newcomer would: every fenced sh block
# after a "<!-- test... -->" marker runs, in order, in one temp dir with a
# temp HOME (so ~/.local and ~/.venom are the test's), the shell's cwd and
# exports carried from block to block. Markers:
#   <!-- test -->                 run it
#   <!-- test: expect=TEXT -->    run it; its output must contain TEXT
#   <!-- test: install ... -->    needs `venom skill install` / `venom trust`
#   <!-- test: packages -->       not run (root, network): every package must
#                                 be one packaging/quickstart.sh installs
#   <!-- test: build -->          venom's own build: run against this build
#                                 ($VENOM_BUILD) instead of configuring anew
# and every "<!-- file: PATH -->" block must equal PATH as `venom skill new`
# wrote it. Exit 77 (skipped) when this venom has no `skill install` yet:
# every other block has run by then.
source "$VENOM_SRC/tests/support/e2e.sh"
doc="$VENOM_SRC/docs/writing-skills.md"
work="$E2E_TMP/work"
export HOME="$E2E_TMP/user"
unset VENOM_HOME PKG_CONFIG_PATH PKG_CONFIG_LIBDIR
mkdir -p "$work" "$HOME"

run python3 - "$doc" "$E2E_TMP/blocks" <<'PY'
import json, re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
blocks = []
for m in re.finditer(r"<!-- test(?::([^>]*))? -->\n```sh\n(.*?)```\n", doc, re.S):
    spec = (m.group(1) or "").strip()
    exp = re.search(r"expect=(.*)$", spec)
    blocks.append({"kind": spec.split()[0] if spec and not spec.startswith("expect=") else "",
                   "expect": exp.group(1).strip() if exp else "", "code": m.group(2),
                   "line": doc[:m.start()].count("\n") + 1})
files = re.findall(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```\n<!-- end file -->", doc, re.S)
json.dump({"blocks": blocks, "files": files}, open(sys.argv[2], "w"))
print(len(blocks), "blocks,", len(files), "files")
PY
expect_rc 0 "extract"
nblocks=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["blocks"]))' "$E2E_TMP/blocks")
[ "$nblocks" -ge 10 ] && ok || fail "expected 10 or more test blocks, found $nblocks"
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["blocks"][int(sys.argv[2])][sys.argv[3]], end="")' "$E2E_TMP/blocks" "$1" "$2"; }

have_install=1
if ! "$VENOM_BIN" skill install --help >/dev/null 2>&1 || ! "$VENOM_BIN" trust --help >/dev/null 2>&1; then
  have_install=0
fi

# state carried between blocks: cwd and exports
echo "$work" >"$E2E_TMP/cwd"
export -p >"$E2E_TMP/env"
skipped=0
for ((i = 0; i < nblocks; i++)); do
  kind=$(field $i kind); expect=$(field $i expect); line=$(field $i line)
  field $i code >"$E2E_TMP/block.sh"
  echo "---- block $((i + 1)) (docs/writing-skills.md:$line) ${kind:+[$kind]}"
  cat "$E2E_TMP/block.sh"
  case "$kind" in
    packages)
      want=$(sed -n '/^PKGS=(/,/)/p' "$VENOM_SRC/packaging/quickstart.sh" | sed 's/^PKGS=(//' | tr -d '()\\' | tr ' ' '\n' | grep . || true)
      for p in $(tr -d '\\' <"$E2E_TMP/block.sh" | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vxE 'sudo|apt-get|install'); do
        grep -qx -- "$p" <<<"$want" && ok || { out=""; err=""; rc=0; fail "package '$p' of the doc is not in packaging/quickstart.sh PKGS"; }
      done
      continue ;;
    build)
      for l in 'cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release' 'cmake --build build' \
               'cmake --install build --prefix "$HOME/.local"'; do
        grep -qxF -- "$l" "$E2E_TMP/block.sh" && ok || { out=""; err=""; rc=0; fail "the build block lacks the line: $l"; }
      done
      # this suite's build stands for the fresh one: no second configure
      sed -i -e '/^cmake -S \. -B build/d' -e "s#--build build#--build '$VENOM_BUILD'#" \
             -e "s#--install build#--install '$VENOM_BUILD'#" "$E2E_TMP/block.sh" ;;
    install)
      if [ "$have_install" = 0 ]; then
        echo "(not run: this venom has no 'venom skill install' / 'venom trust' yet)"
        skipped=$((skipped + 1))
        continue
      fi ;;
  esac
  run bash -c 'set -eo pipefail; source "$1/env"; cd "$(cat "$1/cwd")"; source "$1/block.sh"; pwd >"$1/cwd"; export -p >"$1/env"' \
      _ "$E2E_TMP"
  echo "$out"; echo "$err" >&2
  expect_rc 0 "docs/writing-skills.md:$line"
  if [ -n "$expect" ]; then
    if grep -qF -- "$expect" <<<"$out$err"; then ok; else fail "docs/writing-skills.md:$line: the output lacks '$expect'"; fi
  fi
done

# ---- the C and JSON of the doc are the files the scaffold wrote
run python3 - "$E2E_TMP/blocks" "$work" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = 0
for path, text in d["files"]:
    have = open(f"{sys.argv[2]}/{path}", encoding="utf-8").read()
    if have != text:
        print(f"docs/writing-skills.md: the block marked {path} differs from what 'venom skill new' writes")
        bad = 1
    else:
        print(f"same: {path}")
sys.exit(bad if len(d["files"]) >= 4 else 2)
PY
expect_rc 0 "doc files"; expect_out "same: hello/skill.c"; expect_out "same: adder/venom.json"

# ---- what the reader has at the end
[ -f "$HOME/.local/include/venom/venom.h" ] && ok || fail "the SDK is not in ~/.local"
[ -f "$work/hello/hello-0.1.0.tar.gz" ] && ok || fail "no signed archive"
run "$HOME/.local/bin/venom" pack verify "$work/hello/hello-0.1.0.tar.gz"
expect_rc 0; expect_out "signed:    yes"
if [ "$have_install" = 1 ]; then
  run "$HOME/.local/bin/venom" skill list
  if grep -q "hello.greet" <<<"$out"; then fail "hello.greet is still listed after 'venom skill remove'"; else ok; fi
fi

finish
if [ "$skipped" -gt 0 ]; then
  echo "SKIP: $skipped block(s) need 'venom skill install' and 'venom trust add', which this venom lacks; every other block passed"
  exit 77
fi
