#!/usr/bin/env bash
# The C snippet in README.md ("Writing a skill") compiles as shown, exports
# one symbol, and runs through `venom skill run` with the manifest it implies.
source "$VENOM_SRC/tests/support/e2e.sh"
export VENOM_SYSTEM_SKILLS=""
pack="$VENOM_HOME/skills/hello"
mkdir -p "$pack"
awk '/^## Writing a skill/{s=1} s&&/^```c$/{f=1;next} f&&/^```$/{exit} f' "$VENOM_SRC/README.md" > "$pack/hello.c"
[ -s "$pack/hello.c" ] && ok || fail "no C snippet found under '## Writing a skill' in README.md"
san=()
[ -n "${VENOM_SANITIZE:-}" ] && san=(-fsanitize="$VENOM_SANITIZE")
run cc -std=c17 -Wall -Werror -shared -fPIC -fvisibility=hidden "${san[@]}" -I"$VENOM_SRC/sdk/include" \
    -o "$pack/hello.so" "$pack/hello.c"
expect_rc 0 "README snippet compiles"
run nm -D --defined-only "$pack/hello.so"
expect_out "venom_plugin_entry"
cat > "$pack/venom.json" <<'JSON'
{"name": "hello", "version": "1.0.0", "description": "the README's example", "library": "hello.so",
 "skills": [{"name": "greet", "description": "Say hello"}]}
JSON
venom skill run hello.greet --json
expect_rc 0; expect_json 'd["result"]=={"greeting":"hello"}'
finish
