#!/usr/bin/env bash
# The clarifying question on a terminal (docs/plan.md "Planning a goal",
# step 4): `venom run "count"` in a workdir holding notes.txt, on the offline
# provider, under a pseudo-terminal (script, util-linux). The planner is not
# sure which file to count: venom prints the question, reads a line and plans
# again with the goal plus the answer.
# - "notes.txt" → planned again, the run is done with the count; the events
#   hold plan.undecided, then plan.created; the answered plan is not cached;
# - three answers that do not help → undecided, exit 2, one plan.undecided
#   per round (4), no plan.created.
# Headless (no terminal) the same goal ends undecided at once (run_offline).
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

if ! command -v script >/dev/null; then
  echo "SKIP: script (util-linux) not found: the terminal is not tested"
  exit 0
fi

new_wd
printf 'alpha beta\ngamma\n' >"$WD/notes.txt"
Q="which file or text should text__count work on?"

# pty_run ANSWERS ARGS...: venom ARGS in $WD on a pty whose input is ANSWERS
# (lines); sets rc and out (the terminal's text, CRs removed).
pty_run() {
  local answers=$1; shift
  set +e
  (cd "$WD" && printf '%s' "$answers" |
    timeout -k 2 30 script -qec "$(printf '%q ' "$VENOM_BIN" "$@")" /dev/null) >"$E2E_TMP/pty" 2>&1
  rc=$?
  set -e
  out=$(tr -d '\r' <"$E2E_TMP/pty")
  err=$out
}
# last_run NAME: the newest run's events (venom runs log --json) in $E2E_TMP/NAME.
last_run() {
  RID=$("$VENOM_BIN" runs list | awk 'NR == 2 {print $1}')
  "$VENOM_BIN" runs log "$RID" --json >"$E2E_TMP/$1"
  echo "$E2E_TMP/$1"
}

# -- answered: planned again, done
pty_run $'notes.txt\n' run count
expect_rc 0 "answered on the terminal"
expect_out "$Q" "the question is printed"
expect_out "2 lines, 3 words, 17 bytes, 17 chars" "the answer's count"
[ "$(grep -c '^> ' <<<"$out")" = 1 ] && ok || fail "one prompt expected"
verify "answered" "$(last_run answered)" \
  '[e["type"] for e in evs if e["type"].startswith("plan.") and e["type"] not in ("plan.requested", "plan.response")] == ["plan.cache", "plan.undecided", "plan.created", "plan.validated"]' \
  'of("plan.undecided")[0]["questions"][0].startswith("which file or text should text__count work on?")' \
  'of("plan.undecided")[0]["has_plan"] == False and of("plan.undecided")[0]["confidence"] < of("plan.undecided")[0]["threshold"]' \
  'of("plan.undecided")[0]["seq"] < of("plan.created")[0]["seq"]' \
  'of("plan.created")[0]["plan"]["steps"][-1]["skill"] == "text.count"' \
  '"notes.txt" in json.dumps(of("plan.created")[0]["plan"])' \
  '"The user'"'"'s answer: notes.txt" in [e for e in of("plan.requested") if e["purpose"] == "plan"][1]["request"]["messages"][-1]["content"]' \
  'len([e for e in of("plan.requested") if e["purpose"] == "plan"]) == 2' \
  'fin["status"] == "done" and fin["answer"].startswith("2 lines, 3 words")' \
  '[e["action"] for e in of("plan.cache")] == ["miss"]'
# not cached: the same goal asks again
pty_run $'notes.txt\n' run count
expect_rc 0 "answered again"
expect_out "$Q" "the answered plan was not cached"

# -- three answers that do not help: undecided, exit 2
pty_run $'I do not know\nmaybe\nno idea\nnotes.txt\n' run count
expect_rc 2 "three unhelpful answers"
[ "$(grep -c '^> ' <<<"$out")" = 3 ] && ok || fail "three prompts expected"
expect_out "undecided: the planner has no plan" "undecided"
verify "unhelpful" "$(last_run unhelpful)" \
  'len(of("plan.undecided")) == 4 and not of("plan.created")' \
  'len([e for e in of("plan.requested") if e["purpose"] == "plan"]) == 4' \
  '[e for e in of("plan.requested") if e["purpose"] == "plan"][3]["request"]["messages"][-1]["content"].count("The user'"'"'s answer: ") == 3' \
  'fin["status"] == "undecided" and fin["answer"].startswith("I could not decide: which file")'

# -- an empty answer ends it at once
pty_run $'\n' run count
expect_rc 2 "an empty answer"
[ "$(grep -c '^> ' <<<"$out")" = 1 ] && ok || fail "one prompt expected (empty answer)"

# -- --json: no question asked even on a terminal
pty_run $'notes.txt\n' run --json count
expect_rc 2 "--json on a terminal"
[ "$(grep -c '^> ' <<<"$out")" = 0 ] && ok || fail "--json: no prompt expected"

rc_finish
