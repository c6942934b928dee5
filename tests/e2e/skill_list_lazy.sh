#!/usr/bin/env bash
# e2e: `venom skill list` with 200 installed packs lists every skill and
# loads none of their shared objects (manifests only; plugins load on first
# use). Each pack's library is a real plugin .so, so a load would succeed and
# show up in LD_DEBUG=files. Timing is measured by bench/skill_list.sh, not here.
set -u
: "${VENOM_BIN:?VENOM_BIN must point at the built venom binary}"
: "${VENOM_OUT:?VENOM_OUT must point at the out/ tree of the build}"
npacks=200

fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

so="$VENOM_OUT/lib/venom/skills/fs/fs.so"
[ -f "$so" ] || so=$(find "$VENOM_OUT/lib/venom/skills" -name '*.so' -type f 2>/dev/null | sort | head -n 1)
if [ -z "$so" ]; then
    echo "FAIL: no built plugin .so under $VENOM_OUT/lib/venom/skills to copy into the packs" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/venom-lazy-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export VENOM_HOME="$tmp/home"
mkdir -p "$VENOM_HOME/skills" "$tmp/work"
for i in $(seq -w 1 "$npacks"); do
    d="$VENOM_HOME/skills/lazy$i"
    mkdir -p "$d"
    cp "$so" "$d/lazy$i.so"
    cat >"$d/venom.json" <<EOF
{
  "name": "lazy$i",
  "version": "1.0.0",
  "description": "lazy-loading test pack $i",
  "library": "lazy$i.so",
  "skills": [
    {"name": "echo", "description": "Lazy skill $i", "args": {"type": "object"}}
  ]
}
EOF
done
cd "$tmp/work"

LD_DEBUG=files "$VENOM_BIN" skill list >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "venom skill list exited $rc: $(grep -v '^ *[0-9]*:' "$tmp/err" | head -n 5)"

# glibc prints "file=<path> [0];  dynamically loaded by ..." for each dlopen.
# venom's own libraries appear too: proof that LD_DEBUG works here at all.
grep -q 'file=.*libjansson' "$tmp/err" || fail "LD_DEBUG=files output is missing (glibc needed); the check proves nothing"
loaded=$(grep -E "file=[^ ]*/skills/lazy[0-9]+/lazy[0-9]+\.so" "$tmp/err" | head -n 5)
[ -z "$loaded" ] || fail "venom skill list loaded pack shared objects: $loaded"
other=$(grep -E 'file=[^ ]*/skills/[^ /]+/[^ /]+\.so' "$tmp/err" | head -n 3)
[ -z "$other" ] || fail "venom skill list loaded installed plugin shared objects: $other"

listed=$(grep -c '^lazy[0-9]*\.echo ' "$tmp/out")
[ "$listed" = "$npacks" ] || fail "venom skill list shows $listed of the $npacks pack skills"
for i in 001 100 200; do
    grep -q "^lazy$i\.echo  *Lazy skill $i\$" "$tmp/out" || fail "skill lazy$i.echo is not listed with its description"
done

# --json lists the same skills, again without loading anything
LD_DEBUG=files "$VENOM_BIN" skill list --json >"$tmp/json" 2>"$tmp/err"
rc=$?
[ "$rc" = 0 ] || fail "venom skill list --json exited $rc"
n=$(grep -o '"lazy[0-9]*\.echo"' "$tmp/json" | sort -u | wc -l)
[ "$n" = "$npacks" ] || fail "venom skill list --json names $n of the $npacks pack skills"
grep -qE "file=[^ ]*/skills/lazy[0-9]+/lazy[0-9]+\.so" "$tmp/err" && fail "venom skill list --json loaded a pack .so"

if [ "$fails" -ne 0 ]; then
    echo "skill_list_lazy.sh: $fails failure(s)" >&2
    exit 1
fi
echo "skill_list_lazy.sh: ok"
