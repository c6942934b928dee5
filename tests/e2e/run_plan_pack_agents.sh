#!/usr/bin/env bash
# Agents declared by a skill pack (docs/plan.md "Agents", docs/manifest.md
# "agents"), through the real binary on the offline provider:
# - `venom skill info PACK` lists them as PACK.NAME (skills default to [PACK]);
# - a plan step naming `agent: notes.counter` runs that agent (its role and
#   skills), a step left to auction is won by it over a config agent
#   (auction.bid / auction.won in --json);
# - config.yaml wins a clash of names (its agent is the one checked);
# - a pack agent allowing a skill no installed pack has: the plan is invalid
#   (exit 2), the message names the step's line and the manifest's.
# The pack is a user pack (untrusted: its skill runs sandboxed), so the name
# starts with run_plan for CI's unprivileged run. Streams are schema-checked.
source "$VENOM_SRC/tests/e2e/lib/run_common.sh"

new_wd
printf 'alpha beta\ngamma\n' >"$WD/notes.txt"

# a pack with no C code (a libm function) and two agents
mkdir -p "$VENOM_HOME/skills/notes"
cat >"$VENOM_HOME/skills/notes/venom.yaml" <<'E'
name: notes
version: 1.0.0
description: Notes, with agents that read them
skills:
  - name: pow
    description: Raise x to the power y
    function: {library: libm.so.6, symbol: pow, params: [{name: x, type: double}, {name: y, type: double}], returns: double}
agents:
  counter:
    role: You count the words of notes.
    skills: [text, fs.read]
    kinds: [count]
  helper: {budget: 0.5}
E
cat >"$VENOM_HOME/config.yaml" <<'E'
agents:
  generalist: {role: "You do anything."}
E

# -- skill info PACK
venom skill info notes
expect_rc 0 "skill info PACK"
expect_out "notes 1.0.0 — Notes, with agents that read them" "skill info PACK"
expect_out "  notes.pow  Raise x to the power y" "skill info PACK: skills"
expect_out "  notes.counter" "skill info PACK: agents"
expect_out "    role:   You count the words of notes." "skill info PACK: role"
expect_out "    skills: text, fs.read" "skill info PACK: skills of an agent"
expect_out "    kinds:  count" "skill info PACK: kinds"
expect_out "  notes.helper" "skill info PACK: second agent"
expect_out "    skills: notes" "skill info PACK: skills default to the pack"
venom skill info notes --json
expect_rc 0 "skill info PACK --json"
expect_json 'd["pack"] == "notes" and [s["name"] for s in d["skills"]] == ["notes.pow"]'
expect_json 'd["agents"] == {"notes.counter": {"role": "You count the words of notes.", "skills": ["text", "fs.read"], "kinds": ["count"]}, "notes.helper": {"budget": 0.5, "skills": ["notes"]}}'
# a skill is still a skill
venom skill info notes.pow
expect_rc 0 "skill info PACK.SKILL"
expect_out "notes.pow — Raise x to the power y"

# -- a step naming the pack's agent
cat >"$WD/named.yaml" <<'E'
steps:
  - {id: ask, agent: notes.counter, instruction: "count the words of notes.txt", kind: count}
E
vrun run -f named.yaml --json
expect_rc 0 "named pack agent"
verify "named pack agent" "$(save_out named)" \
  '[e for e in of("step.started") if e["step"] == "ask"][0]["agent"] == "notes.counter"' \
  'not of("auction.bid")' \
  '[e for e in of("step.finished") if e["step"] == "ask"][0]["result"].startswith("2 lines, 3 words")' \
  'fin["status"] == "done"'

# -- an auctioned step: the pack's agent (skills and kind) beats the generalist
cat >"$WD/auction.yaml" <<'E'
steps:
  - id: ask
    instruction: "count the words of notes.txt"
    needs: [text, fs.read]
    kind: count
  - {id: sq, skill: notes.pow, args: {x: 3, y: 2}}
E
vrun run -f auction.yaml --json
expect_rc 0 "auctioned to a pack agent"
verify "auctioned to a pack agent" "$(save_out auction)" \
  'sorted(e["agent"] for e in of("auction.bid")) == ["generalist", "notes.counter"]' \
  '[e for e in of("auction.bid") if e["agent"] == "notes.counter"][0]["match"] == 1.0' \
  'of("auction.won")[0]["agent"] == "notes.counter" and of("auction.won")[0]["bids"] == 2' \
  '[e for e in of("step.started") if e["step"] == "ask"][0]["agent"] == "notes.counter"' \
  'of("auction.won")[0]["seq"] < [e for e in of("step.started") if e["step"] == "ask"][0]["seq"]' \
  '[e for e in of("step.finished") if e["step"] == "ask"][0]["result"].startswith("2 lines, 3 words")' \
  '[e for e in of("step.finished") if e["step"] == "sq"][0]["result"] == 9' \
  'fin["status"] == "done"'

# -- a named pack agent that lacks a need: the message points at its manifest
printf 'steps:\n  - {id: h, agent: notes.helper, instruction: "count", needs: [text]}\n' >"$WD/lacks.yaml"
vrun run -f lacks.yaml
expect_rc 2 "pack agent lacks a need"
expect_err "lacks.yaml:2: step 'h': agent 'notes.helper' cannot take it: it lacks text (its skills are in $VENOM_HOME/skills/notes/venom.yaml:13)" "pack agent lacks a need"

# -- config.yaml wins a clash: its notes.counter (kinds write) is the one checked
cat >"$VENOM_HOME/config.yaml" <<'E'
agents:
  notes.counter: {skills: [text, fs.read], kinds: [write]}
E
vrun run -f named.yaml
expect_rc 2 "config agent wins a clash"
expect_err "step 'ask': agent 'notes.counter' cannot take it: it takes kinds write only; add that to agents.notes.counter in config.yaml" "config agent wins a clash"
rm "$VENOM_HOME/config.yaml"

# -- a pack agent allowing a skill no installed pack has
mkdir -p "$VENOM_HOME/skills/broken"
cat >"$VENOM_HOME/skills/broken/venom.yaml" <<'E'
name: broken
version: 1.0.0
description: A pack whose agent wants a skill nobody has
skills:
  - name: pow
    description: Raise x to the power y
    function: {library: libm.so.6, symbol: pow, params: [{name: x, type: double}, {name: y, type: double}], returns: double}
agents:
  reader:
    skills: [broken, text, nosuchpack, fs.nosuchskill]
E
printf 'steps:\n  - {id: r, agent: broken.reader, instruction: "read"}\n' >"$WD/broken.yaml"
vrun run -f broken.yaml --json
expect_rc 2 "pack agent with an unknown skill"
expect_err "broken.yaml:2: step 'r': agent 'broken.reader' of pack broken ($VENOM_HOME/skills/broken/venom.yaml:10) allows 'nosuchpack', which is no installed skill or pack; install it, or fix agents.reader.skills in the pack's manifest" "unknown pack in a pack agent's skills"
expect_err "allows 'fs.nosuchskill', which is no installed skill or pack" "unknown skill in a pack agent's skills"
[ -z "$out" ] && ok || fail "an invalid plan printed events"
# it would bid in an auction: the same error there
printf 'steps:\n  - {id: r, instruction: "read", needs: [text]}\n' >"$WD/broken_auction.yaml"
vrun run -f broken_auction.yaml
expect_rc 2 "pack agent with an unknown skill, auctioned"
expect_err "broken_auction.yaml:2: step 'r': agent 'broken.reader' of pack broken" "auctioned broken agent"
# a bad agent in a manifest: the pack is skipped, with the reason
cat >"$VENOM_HOME/skills/broken/venom.yaml" <<'E'
name: broken
version: 1.0.0
description: A pack whose agent has a typo
skills:
  - name: pow
    description: Raise x to the power y
    function: {library: libm.so.6, symbol: pow, params: [{name: x, type: double}, {name: y, type: double}], returns: double}
agents:
  reader: {skils: [text]}
E
venom skill list
expect_err "venom.yaml:9: unknown key 'agents.reader.skils' (allowed: budget, kinds, model, role, skills); did you mean 'skills'?" "bad agent in a manifest"
vrun run -f broken.yaml
expect_rc 2 "a plan naming an agent of a skipped pack"
expect_err "unknown agent 'broken.reader'" "agent of a skipped pack"

rc_finish
