#!/usr/bin/env bash
# `venom secrets set|list|rm`: the value from a pipe (one trailing newline
# dropped), from --from-env, and from a terminal prompt that does not echo;
# names, sizes and usage errors; no command ever prints a value.
source "$VENOM_SRC/tests/support/e2e.sh"
unset VENOM_VAULT_KEY
V="$VENOM_BIN"

venom secrets
expect_rc 2; expect_out "venom secrets set NAME"
venom help secrets
expect_rc 0; expect_out "VENOM_VAULT_KEY"
venom secrets list
expect_rc 0; expect_err "no secrets yet"
venom secrets list --json
expect_rc 0; expect_json 'd=={"secrets":[]}'

# piped: everything, less one trailing newline
run sh -c 'printf "line one\nline two\n\n" | "$1" secrets set MULTI' sh "$V"
expect_rc 0; expect_out "stored secret MULTI"; expect_err "created the vault key $VENOM_HOME/vault.key (mode 0600)"
[ "$(stat -c %a "$VENOM_HOME/vault.key")" = 600 ] && ok || fail "vault.key is not mode 600"
run sh -c 'printf "again" | "$1" secrets set MULTI' sh "$V"
expect_rc 0; expect_out "replaced secret MULTI"; expect_no_err "created the vault key"

# --from-env
export SOME_VAR="value-from-env"
venom secrets set FROM_ENV --from-env SOME_VAR
expect_rc 0; expect_out "stored secret FROM_ENV"
venom secrets set X --from-env NOT_A_SET_VAR
expect_rc 2; expect_err "the environment variable 'NOT_A_SET_VAR' is not set"

# a terminal: a prompt on stderr, the typed value not echoed
run python3 - "$V" <<'PY'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "secrets", "set", "TYPED"])
seen = b""
def read_until(want, t=10):
    global seen
    end = time.time() + t
    while want not in seen and time.time() < end:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
read_until(b"(not shown): ", 30)
os.write(fd, b"typed-secret-value\n")
read_until(b"stored secret TYPED", 30)
for _ in range(300):  # never hang the suite: give up after 30 s
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print(seen.decode(errors="replace"))
    sys.exit("venom secrets set did not finish at the prompt")
print(seen.decode(errors="replace"))
sys.exit(0 if os.WEXITSTATUS(status) == 0 and b"typed-secret-value" not in seen
         and b"stored secret TYPED" in seen else 1)
PY
expect_rc 0 "prompt without echo"; expect_out "value of secret TYPED (not shown):"

# list: names and dates only
venom secrets list
expect_rc 0; expect_out "NAME"; expect_out "FROM_ENV"; expect_out "MULTI"; expect_out "TYPED"
for v in "line one" again value-from-env typed-secret-value; do
  grep -qF -- "$v" <<<"$out$err" && fail "list shows a value ($v)" || ok
  grep -qaF -- "$v" "$VENOM_HOME/venom.db" "$VENOM_HOME/venom.db-wal" 2>/dev/null && fail "'$v' in clear in venom.db" || ok
done
venom secrets list --json
expect_rc 0; expect_json '[s["name"] for s in d["secrets"]]==["FROM_ENV","MULTI","TYPED"]'

# errors
run sh -c 'printf "v" | "$1" secrets set "bad name"' sh "$V"
expect_rc 2; expect_err "secret name 'bad name' has ' ' at byte 4; names use only A-Z a-z 0-9 _ . -"
run sh -c 'printf "\n" | "$1" secrets set EMPTY' sh "$V"
expect_rc 2; expect_err "the value of secret 'EMPTY' is empty; nothing was stored"
run sh -c 'head -c 70000 /dev/zero | tr "\\0" a | "$1" secrets set BIG' sh "$V"
expect_rc 2; expect_err "the limit is 65536 bytes (64 KiB)"
run sh -c 'printf "a\0b" | "$1" secrets set NUL' sh "$V"
expect_rc 2; expect_err "NUL byte at offset 1"
venom secrets set
expect_rc 2; expect_err "usage: venom secrets set NAME"
venom secrets set A B
expect_rc 2; expect_err "unexpected 'B'"
venom secrets frobnicate
expect_rc 2; expect_err "unknown subcommand 'frobnicate'"
venom secrets rm NOPE
expect_rc 1; expect_err "there is no secret 'NOPE' in the vault"
venom secrets rm MULTI
expect_rc 0; expect_out "removed secret MULTI"
venom secrets list --json
expect_rc 0; expect_json '[s["name"] for s in d["secrets"]]==["FROM_ENV","TYPED"]'

# a key file others can read is refused for set (list and rm need no key)
chmod 640 "$VENOM_HOME/vault.key"
run sh -c 'printf "v2" | "$1" secrets set FROM_ENV' sh "$V"
expect_rc 1; expect_err "is readable by others (mode 0640); run: chmod 600 $VENOM_HOME/vault.key"
venom secrets list
expect_rc 0; expect_out "TYPED"

finish
