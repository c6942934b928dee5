#!/usr/bin/env bash
# A pack's SKILL.md end to end: pack build refuses a bad one (file:line), the
# system prompt lists the pack's description, the instructions reach the
# model with the first result of the pack's tools and only once per run
# (scripted model server, openai wire format), recorded as tool.result's
# "instructions".
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"
export VENOM_SYSTEM_SKILLS=""

G="$VENOM_HOME/skills/good"
mkdir -p "$G"
cp "$VENOM_FIXTURES/good/venom.json" "$VENOM_FIXTURES/good/good.so" "$G/"
cat >"$G/SKILL.md" <<'MD'
---
name: good
description: Echo numbers back; use it to check that tools work.
license: MIT
---

# Using good

Always pass n as an integer from 1 to 10.
MD

# a bad SKILL.md stops pack build with the file and line
B="$E2E_TMP/bad"
cp -r "$G" "$B"
printf -- '---\nname: good\ndescripton: typo\n---\nbody\n' >"$B/SKILL.md"
venom pack build "$B" -o "$E2E_TMP/bad.tar.gz"
expect_rc 1; expect_err "SKILL.md:3: unknown key 'descripton'"
printf -- '---\nname: other\ndescription: x\n---\n' >"$B/SKILL.md"
venom pack build "$B" -o "$E2E_TMP/bad.tar.gz"
expect_rc 1; expect_err "SKILL.md:2: name 'other' is not the pack's name 'good'"
venom pack build "$G" -o "$E2E_TMP/good.tar.gz"; expect_rc 0

new_wd; srv_start skill_md; write_config openai true
vrun run --json "echo 2 then 3"
expect_rc 0 "run with SKILL.md"
f=$(save_out skillmd.ndjson)
python3 - "$f" <<'PY' && ok || fail "events: instructions once, on the first result"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
res = [e for e in ev if e["type"] == "tool.result"]
assert len(res) == 2 and all(e["ok"] for e in res), res
assert res[0].get("instructions") == "good" and "instructions" not in res[1], res
fin = ev[-1]
assert fin["type"] == "run.finished" and fin["status"] == "done" and fin["answer"] == "echoed 2 then 3", fin
PY
"$SCHEMACHECK" "$SCHEMA" "$f" >/dev/null 2>"$E2E_TMP/sc.err" && ok || fail "schema: $(cat "$E2E_TMP/sc.err")"
srv_stop

finish
