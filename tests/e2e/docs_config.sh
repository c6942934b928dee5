#!/usr/bin/env bash
# Every ```yaml block of README.md, docs/providers.md and docs/config.md is a
# configuration venom accepts: written as $VENOM_HOME/config.yaml, venom
# loads it without complaint, and the provider it names is installed.
source "$VENOM_SRC/tests/support/e2e.sh"
n=0
for doc in README.md docs/providers.md docs/config.md; do
  python3 - "$VENOM_SRC/$doc" "$E2E_TMP/yaml" <<'PY'
import os, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
os.makedirs(sys.argv[2], exist_ok=True)
base = os.path.basename(sys.argv[1])
for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
    open(os.path.join(sys.argv[2], f"{base}.{i}.yaml"), "w").write(block)
PY
done
for f in "$E2E_TMP"/yaml/*.yaml; do
  cp "$f" "$VENOM_HOME/config.yaml"
  n=$((n + 1))
  venom runs list
  expect_rc 0 "$(basename "$f"): the configuration loads"
  expect_no_err "configuration" "$(basename "$f")"
  prov=$(sed -n 's/^provider: *\([a-z0-9_-]*\).*/\1/p' "$f")
  plugin=$(sed -n 's/.*plugin: *\([a-z0-9_-]*\).*/\1/p' "$f" | head -1)
  if [ -n "$prov" ]; then
    [ -d "$VENOM_OUT/lib/venom/providers/${plugin:-$prov}" ] && ok ||
      fail "$(basename "$f"): provider '${plugin:-$prov}' is not installed"
  fi
done
[ "$n" -ge 8 ] && ok || fail "expected 8 or more yaml blocks in the docs, found $n"
finish
