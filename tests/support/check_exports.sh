#!/usr/bin/env bash
# Every plugin given must export venom_plugin_entry and nothing else, except
# the typed skills of its own pack: the "symbol" of each skill "function"
# that names no "library" (or names this very .so) in the manifest beside it
# (venom.json or venom.yaml). See docs/typed-skills.md.
set -u
fail=0
[ $# -gt 0 ] || { echo "no plugins given"; exit 1; }

# Prints the pack's own typed-skill symbols, one a line, for manifest $1 and .so $2.
declared_symbols() {
  python3 - "$1" "$2" <<'EOF'
import json, os, re, sys
path, so = sys.argv[1], os.path.basename(sys.argv[2])
text = open(path, encoding="utf-8").read()
if path.endswith(".json"):
    doc = json.loads(text)
else:
    try:
        import yaml
        doc = yaml.safe_load(text)
    except ImportError:
        # No PyYAML: read each "function:" block (the lines indented deeper).
        lines = text.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^(\s*)(?:-\s+)?function:\s*$", line)
            if not m:
                continue
            indent, block = len(m.group(1)), []
            for nxt in lines[i + 1:]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                    break
                block.append(nxt)
            block = "\n".join(block)
            lib = re.search(r"^\s*library:\s*[\"']?([^\"'\s#]+)", block, re.M)
            sym = re.search(r"^\s*symbol:\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)", block, re.M)
            if sym and (not lib or os.path.basename(lib.group(1)) == so):
                print(sym.group(1))
        sys.exit(0)

def walk(node):
    if isinstance(node, dict):
        fn = node.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("symbol"), str):
            lib = fn.get("library")
            if lib is None or (isinstance(lib, str) and os.path.basename(lib) == so):
                print(fn["symbol"])
        for v in node.values():
            walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)

walk(doc)
EOF
}

for so in "$@"; do
  syms=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort -u)
  dir=$(dirname "$so")
  allowed=""
  for m in "$dir/venom.json" "$dir/venom.yaml"; do
    if [ -f "$m" ]; then
      if ! allowed=$(declared_symbols "$m" "$so"); then
        echo "FAIL $so: cannot read the manifest $m"
        fail=1
        continue 2
      fi
      break
    fi
  done
  extra=""
  for s in $syms; do
    [ "$s" = venom_plugin_entry ] && continue
    if ! printf '%s\n' "$allowed" | grep -qxF -- "$s"; then
      extra="$extra $s"
    fi
  done
  if ! printf '%s\n' "$syms" | grep -qxF venom_plugin_entry; then
    echo "FAIL $so does not export venom_plugin_entry (exports: $(echo $syms))"
    fail=1
  elif [ -n "$extra" ]; then
    echo "FAIL $so exports undeclared symbols:$extra (only venom_plugin_entry and the typed-skill symbols its manifest declares may be exported)"
    fail=1
  elif [ "$syms" != venom_plugin_entry ]; then
    echo "ok   $so (typed skills: $(echo $syms | tr ' ' '\n' | grep -vx venom_plugin_entry | tr '\n' ' '))"
  else
    echo "ok   $so"
  fi
done
exit $fail
