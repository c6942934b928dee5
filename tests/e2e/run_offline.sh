#!/usr/bin/env bash
# venom run on the embedded default: the offline provider, through the real
# binary. Several phrasings of goals it has to understand (answers and files
# checked), chaining, result feeding between steps, a sandboxed skill, goals
# it must not guess at (exit 2, its questions on stdout, nothing done), and
# the event stream of every run validated against docs/events.schema.json
# with its hash chain re-checked outside venom.
source "$VENOM_SRC/tests/support/e2e.sh"
SCHEMACHECK="$VENOM_OUT/bin/venom-schemacheck"
WD="$E2E_TMP/wd"
mkdir -p "$WD"
cd "$WD"
printf 'alpha beta\ngamma delta epsilon\nTODO: zeta\n' >notes.txt
printf '{"name": "venom", "tags": ["a", "b"]}\n' >config.json
printf 'cat and cat\n' >pets.txt
mkdir -p src && printf 'int x; /* TODO later */\n' >src/main.c

# goal ANSWER-SUBSTRING : venom run GOAL, expect exit 0 and the answer.
goal() {
  venom run "$1"
  expect_rc 0 "run '$1'"
  expect_out "$2" "run '$1'"
  [ -z "$err" ] && ok || fail "run '$1': stderr should be empty when piped without -v"
}
goal "count the lines of notes.txt" "3 lines"
goal "how many words are in notes.txt" "7 words"
goal "show me notes.txt" "gamma delta epsilon"
goal "first 2 lines of notes.txt" "gamma delta epsilon"
goal "list the files" "notes.txt"
goal "convert 100 fahrenheit to celsius" "37.7"
goal "json get path=config.json pointer=/name" "venom"
goal "find TODO in src" "main.c"
goal "replace 'cat' with 'dog' in pets.txt" "2 replacements"
[ "$(cat pets.txt)" = "dog and dog" ] && ok || fail "pets.txt was not rewritten"
# chaining: the second step creates nothing new, it reads what the first wrote
goal "write 'hello from venom' to hello.txt then read hello.txt" "hello from venom"
[ "$(cat hello.txt)" = "hello from venom" ] && ok || fail "hello.txt was not written"
# a result fed into the next step
goal "read notes.txt then count the words" "7 words"
# ';' separates steps too
goal "write 'x y z' to xyz.txt; count the words of xyz.txt" "3 words"
# the shell pack is not trusted: it runs in the sandbox
goal "run 'echo sandboxed'" "sandboxed"

# ambiguous goals: no guess, the questions on stdout, exit 2, nothing written
before=$(ls -R | sha256sum)
for g in "do the thing" "count" "process data.txt"; do
  venom run "$g"
  expect_rc 2 "ambiguous '$g'"
  expect_out "I could not decide" "ambiguous '$g'"
  expect_err "undecided" "ambiguous '$g'"
done
[ "$(ls -R | sha256sum)" = "$before" ] && ok || fail "an undecided run changed the workdir"
# outside the workdir is never a file the offline provider will touch
venom run "show me ../../etc/passwd"
expect_rc 2 "outside the workdir"
expect_out "outside the workdir"
grep -q root: <<<"$out" && fail "printed /etc/passwd" || ok

# a sandboxed skill whose sandbox cannot start (no worker binary): exit 5,
# nothing of the skill ran, the reason said
VENOM_WORKER=/nonexistent/venom-worker venom run "run 'touch ran.txt'"
expect_rc 5 "sandbox unavailable"
expect_err "sandbox_unavailable"
expect_err "cannot exec /nonexistent/venom-worker"
[ ! -e ran.txt ] && ok || fail "the skill ran although its sandbox could not start"

# events: every run of this script, validated and chained
venom runs list --all --json
expect_rc 0 "runs list"
ids=$(python3 -c 'import json,sys; print(" ".join(r["id"] for r in json.load(sys.stdin)))' <<<"$out")
n=0
for id in $ids; do
  venom runs log "$id" --json
  expect_rc 0 "runs log $id"
  printf '%s\n' "$out" >"$E2E_TMP/ev-$id.ndjson"
  n=$((n + 1))
done
[ "$n" -eq 18 ] && ok || fail "expected 18 runs recorded, found $n"
run "$SCHEMACHECK" "$VENOM_SRC/docs/events.schema.json" "$E2E_TMP"/ev-*.ndjson
expect_rc 0 "every event validates against docs/events.schema.json"
run python3 - "$E2E_TMP"/ev-*.ndjson <<'PY'
import hashlib, json, sys
for path in sys.argv[1:]:
    prev = "0" * 64
    for line in open(path):
        line = line.rstrip("\n")
        ev = json.loads(line)
        cut = line.rfind(',"hash":"')
        assert ev["prev"] == prev, (path, ev["seq"])
        assert line[cut:] == ',"hash":"%s"}' % ev["hash"], (path, ev["seq"])
        assert hashlib.sha256((line[:cut] + "}").encode()).hexdigest() == ev["hash"], (path, ev["seq"])
        prev = ev["hash"]
    assert ev["type"] == "run.finished", path
print("chains ok")
PY
expect_rc 0 "hash chains verified independently"
expect_out "chains ok"

# --json: the live stream equals the stored log, line for line
venom run --json "count the words of notes.txt"
expect_rc 0 "--json run"
printf '%s\n' "$out" >"$E2E_TMP/live.ndjson"
rid=$(head -1 "$E2E_TMP/live.ndjson" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
tail -1 "$E2E_TMP/live.ndjson" | grep -q '"type":"run.finished".*"status":"done"' && ok || fail "--json: last line is not run.finished done"
venom runs log "$rid" --json
[ "$out" = "$(cat "$E2E_TMP/live.ndjson")" ] && ok || fail "--json output differs from 'runs log --json'"
venom runs show "${rid:0:12}"
expect_rc 0 "runs show by prefix"
expect_out "status    done"
expect_out "chain     ok"
finish
