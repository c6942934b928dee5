#!/usr/bin/env bash
# End-to-end: the first-party shell pack (shell.exec) through the real
# `venom skill run`. It always runs in a sandboxed worker: the command sees
# only the system directories, the workdir and a private /tmp, with no
# network and no capabilities. Run as root and as an unprivileged user.
source "$VENOM_SRC/tests/support/e2e.sh"
# (the binary's system skill directory holds the built shell pack)

work="$E2E_TMP/work"
mkdir -p "$work"
cd "$work"

# sh_exec JSON_ARGS : venom skill run shell.exec --args-json JSON_ARGS --json
sh_exec() { venom skill run shell.exec --args-json "$1" --json; }
# jcmd LINE : the JSON arguments {"command": LINE}
jcmd() { python3 -c 'import json,sys; print(json.dumps({"command": sys.argv[1]}))' "$1"; }

venom skill info shell.exec; expect_rc 0; expect_out "isolation:  sandbox"; expect_out "network:    none"

# ---- running and capturing
sh_exec '{"argv": ["echo", "hi"]}'
expect_rc 0 "echo"; expect_json 'r["exit_code"]==0 and r["signal"] is None and r["stdout"]=="hi\n" and r["stderr"]=="" and r["timed_out"] is False and r["stdout_truncated"] is False and isinstance(r["duration_ms"], int)'
sh_exec '{"argv": ["printf", "%s|", "a b", "$HOME", "*"]}'
expect_rc 0 "argv is not split or expanded"; expect_json 'r["stdout"]=="a b|$HOME|*|"'
sh_exec '{"command": "printf \"one\\ntwo\\nthree\\n\" | grep t | wc -l"}'
expect_rc 0 "sh -c pipe"; expect_json 'r["stdout"].strip()=="2"'
sh_exec '{"command": "exit 3"}'
expect_rc 0 "exit 3"; expect_json 'r["exit_code"]==3 and r["signal"] is None'
sh_exec '{"command": "echo to-out; echo to-err >&2; exit 1"}'
expect_rc 0 "stderr"; expect_json 'r["stdout"]=="to-out\n" and r["stderr"]=="to-err\n" and r["exit_code"]==1'
sh_exec '{"argv": ["tr", "a-z", "A-Z"], "stdin": "hello stdin"}'
expect_rc 0 "stdin"; expect_json 'r["stdout"]=="HELLO STDIN"'
sh_exec '{"argv": ["cat"]}'
expect_rc 0 "no stdin: empty input, no hang"; expect_json 'r["stdout"]=="" and r["exit_code"]==0'
# a command that never reads a large stdin must not block the call
big=$(head -c 100000 /dev/zero | tr '\0' x)
sh_exec "{\"argv\": [\"true\"], \"stdin\": \"$big\"}"
expect_rc 0 "unread stdin"; expect_json 'r["exit_code"]==0 and r["timed_out"] is False and r["duration_ms"] < 5000'
sh_exec '{"command": "kill -TERM $$"}'
expect_rc 0 "killed by a signal"; expect_json 'r["exit_code"] is None and r["signal"]=="SIGTERM"'
sh_exec '{"command": "echo \"$GREETING $LANG $HOME\"", "env": {"GREETING": "hey"}}'
expect_rc 0 "env"; expect_json 'r["stdout"]=="hey C.UTF-8 /tmp\n"'
sh_exec '{"command": "printf \"a\\377b\\000c\\303\""}'
expect_rc 0 "invalid UTF-8 and NUL become U+FFFD"; expect_json 'r["stdout"]=="a\ufffdb\ufffdc\ufffd"'

# ---- size caps
sh_exec '{"command": "head -c 200000 /dev/zero | tr \"\\000\" a; head -c 50 /dev/zero | tr \"\\000\" e >&2", "max_output": 1000}'
expect_rc 0 "truncation"
expect_json 'r["stdout"]=="a"*1000 and r["stdout_truncated"] is True and r["stderr"]=="e"*50 and r["stderr_truncated"] is False and r["exit_code"]==0'
sh_exec '{"command": "printf \"\\303\\251\\303\\251\"", "max_output": 3}'
expect_rc 0 "a cut never splits a UTF-8 character"; expect_json 'r["stdout"]=="\u00e9" and r["stdout_truncated"] is True'

# ---- timeout: the command and what it started are killed, the call returns
start=$(date +%s%N)
sh_exec '{"argv": ["sleep", "5"], "timeout_ms": 300}'
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 0 "timeout"; expect_json 'r["timed_out"] is True and r["signal"]=="SIGKILL" and r["exit_code"] is None and 300 <= r["duration_ms"] < 3000'
if [ "$elapsed" -lt 4000 ]; then ok; else fail "sleep 5 with timeout_ms 300 took ${elapsed} ms"; fi
start=$(date +%s%N)
sh_exec '{"command": "echo started; (sleep 7.31; echo late) & sleep 6.31", "timeout_ms": 300}'
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 0 "timeout, child holding the pipes"; expect_json 'r["timed_out"] is True and r["stdout"]=="started\n"'
if [ "$elapsed" -lt 4000 ]; then ok; else fail "a timed-out command with a background child took ${elapsed} ms"; fi
if pgrep -f "sleep [67].31" >/dev/null; then fail "processes of the timed-out command survived: $(pgrep -af 'sleep [67].31')"; else ok; fi
sh_exec '{"command": "sleep 30.31 & echo bg"}'
expect_rc 0 "background process is not waited for"; expect_json 'r["stdout"]=="bg\n" and r["timed_out"] is False and r["duration_ms"] < 4000'
if pgrep -f "sleep 30.31" >/dev/null; then fail "a background process outlived the call: $(pgrep -af 'sleep 30.31')"; else ok; fi

# ---- the sandbox view
sh_exec '{"command": "echo made > made.txt && mkdir -p sub && echo deep > sub/f && cat made.txt"}'
expect_rc 0 "write in the workdir"; expect_json 'r["exit_code"]==0 and r["stdout"]=="made\n"'
if [ "$(cat made.txt 2>/dev/null)" = made ] && [ "$(cat sub/f 2>/dev/null)" = deep ]; then ok; else fail "files written in the workdir are not on the host"; fi
probe="/tmp/venom-shell-probe-$$"
rm -f "$probe"
sh_exec "$(jcmd "echo private > $probe && cat $probe")"
expect_rc 0 "/tmp is private"; expect_json 'r["exit_code"]==0 and r["stdout"]=="private\n"'
if [ -e "$probe" ]; then fail "a file written to /tmp inside the sandbox appeared on the host: $probe"; rm -f "$probe"; else ok; fi
sh_exec '{"command": "touch /venom-shell-root-probe"}'
expect_rc 0 "write to /"; expect_json 'r["exit_code"]!=0 and "Read-only file system" in r["stderr"]'
[ ! -e /venom-shell-root-probe ] && ok || fail "a file was created in the host's /"
# (the workdir's parents are only directories of the private /tmp inside)
sh_exec "$(jcmd "touch $E2E_TMP/outside-probe")"
expect_rc 0 "write outside the workdir"
[ ! -e "$E2E_TMP/outside-probe" ] && ok || fail "a file was created outside the workdir"
sh_exec '{"argv": ["cat", "/etc/shadow"]}'
expect_rc 0 "/etc/shadow"; expect_json 'r["exit_code"]==1 and "No such file or directory" in r["stderr"] and r["stdout"]==""'
sh_exec '{"argv": ["cat", "/etc/passwd"]}'
expect_rc 0 "/etc/passwd"; expect_json 'r["exit_code"]==1 and "No such file or directory" in r["stderr"]'
sh_exec '{"argv": ["ls", "/home"]}'
expect_rc 0 "/home"; expect_json 'r["exit_code"]!=0 and "No such file or directory" in r["stderr"]'
sh_exec '{"argv": ["id", "-u"]}'
expect_rc 0 "id -u"; expect_json "r[\"stdout\"]==\"$(id -u)\\n\""
# No capabilities: the worker (pid 1, the parent of every process the
# command starts) has none, and neither has the command itself (capget).
# (/proc/self of the command is not readable: landlock opens only the
# worker's own /proc entry.)
sh_exec '{"command": "grep ^Cap /proc/1/status"}'
expect_rc 0 "capabilities of the worker"
expect_json 'all(l.split(":")[1].strip()=="0000000000000000" for l in r["stdout"].splitlines()) and all(("Cap"+k) in r["stdout"] for k in ("Eff","Prm","Bnd","Inh","Amb"))'
if command -v setpriv >/dev/null; then
  sh_exec '{"command": "setpriv -d 2>/dev/null"}'
  expect_rc 0 "capabilities of the command"
  expect_json '"Capability bounding set: [none]" in r["stdout"] and "Inheritable capabilities: [none]" in r["stdout"] and "no_new_privs: 1" in r["stdout"]'
fi
# network: a port listening on the host's loopback is not reachable
python3 - "$E2E_TMP/port" <<'EOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(20)
try:
    while True:
        c, _ = s.accept(); c.sendall(b"reached\n"); c.close()
except Exception:
    pass
EOF
listener=$!
for _ in $(seq 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.05; done
port=$(cat "$E2E_TMP/port")
if [ "$(bash -c "cat < /dev/tcp/127.0.0.1/$port")" = reached ]; then ok; else fail "the test listener on port $port is not reachable from the host"; fi
sh_exec "$(jcmd "bash -c 'cat < /dev/tcp/127.0.0.1/$port'")"
expect_rc 0 "network"; expect_json 'r["exit_code"]!=0 and "reached" not in r["stdout"]'
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true

# ---- bad arguments and failures
sh_exec '{"argv": ["echo"], "command": "echo"}'
expect_rc 2 "argv and command"; expect_json "\"give either 'argv' or 'command', not both\" in d['error']"
sh_exec '{}'
expect_rc 2 "neither"; expect_json "\"'argv'\" in d['error'] and \"'command'\" in d['error']"
sh_exec '{"argv": []}'
expect_rc 2 "empty argv"; expect_json '"argv" in d["error"] and "empty array" in d["error"]'
sh_exec '{"argv": [""]}'
expect_rc 2 "empty program"; expect_json '"item 0 (the program) is empty" in d["error"]'
sh_exec '{"command": ""}'
expect_rc 2 "empty command"; expect_json '"command" in d["error"]'
sh_exec '{"argv": ["echo"], "shell": true}'
expect_rc 2 "unknown argument"; expect_json "\"'shell'\" in d['error']"
sh_exec '{"argv": ["echo"], "timeout_ms": 60001}'
expect_rc 2 "timeout_ms too big"; expect_json '"timeout_ms" in d["error"]'
sh_exec '{"argv": ["echo"], "max_output": 2000000}'
expect_rc 2 "max_output too big"; expect_json '"max_output" in d["error"]'
sh_exec '{"argv": ["echo"], "env": {"1BAD": "x"}}'
expect_rc 2 "bad env name"; expect_json '"1BAD" in d["error"]'
sh_exec '{"argv": ["echo"], "env": {"A": 1}}'
expect_rc 2 "env value not a string"; expect_json '"env" in d["error"]'
sh_exec '{"argv": ["no-such-program-xyz"]}'
expect_rc 1 "program not found"; expect_json "d['code']==-3 and \"'no-such-program-xyz' not found in PATH\" in d['error']"
sh_exec '{"argv": ["/etc"]}'
expect_rc 1 "not executable"; expect_json "\"cannot run '/etc'\" in d['error']"

# ---- the manifest's examples hold (compared as a subset, as `venom skill test` does)
manifest="$(dirname "$VENOM_BIN")/../lib/venom/skills/shell/venom.json"
[ -f "$manifest" ] || manifest="$VENOM_SRC/skills/shell/venom.json"
n_ex=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["skills"][0]["examples"]))' "$manifest")
for i in $(seq 0 $((n_ex - 1))); do
  args=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["skills"][0]["examples"][int(sys.argv[2])]["args"]))' "$manifest" "$i")
  want=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["skills"][0]["examples"][int(sys.argv[2])]["result"]))' "$manifest" "$i")
  sh_exec "$args"
  expect_rc 0 "example $i"; expect_json "all(r.get(k, '<absent>')==v for k, v in json.loads(r'''$want''').items())"
done

finish
