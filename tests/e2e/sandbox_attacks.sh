#!/usr/bin/env bash
# The attack suite (issue 3): every skill of the hostile packs built from
# tests/sandbox/attacks.c attempts one escape from its sandboxed worker; this
# driver runs each with `venom skill run attacks.NAME --json` and asserts the
# EXACT outcome (errno, signal or limit), then checks the host side (planted
# processes alive, no set-id file, no orphan). docs/sandbox.md ("Attacks")
# explains each expected outcome and the layer that produces it.
#
# Runs as root and as an unprivileged user, with and without a terminal
# (when `script` exists, the terminal attacks are re-run under a pty).
# An attack that succeeds (a hole) must keep its assertion on the secure
# outcome, run with KNOWN_HOLE="…" set: it is reported as a failure.
source "$VENOM_SRC/tests/support/e2e.sh"
export VENOM_SYSTEM_SKILLS=""
for p in attacks attacks_exec attacks_net; do install_fixture "$p"; done

# attack [PACK.]NAME PYEXPR [key=value...]: run the skill, then PYEXPR must be
# true with r = the result object, d = the whole JSON document, and errno's
# names (EPERM…) and signal's (SIGSYS…) in scope. Set KNOWN_HOLE=… to label
# an attack that currently succeeds.
attack() {
  local name=$1 expr=$2 pack=attacks
  shift 2
  case $name in *.*) pack=${name%%.*}; name=${name#*.} ;; esac
  venom skill run "$pack.$name" "$@" --json
  if python3 -c '
import json, sys
from errno import *
from signal import *
from socket import EAI_AGAIN
d = json.loads(sys.stdin.read())
r = d.get("result") or {}
sys.exit(0 if ('"$expr"') else 1)' <<<"$out" 2>"$E2E_TMP/pyerr"; then
    ok
  elif [ -n "${KNOWN_HOLE:-}" ]; then
    fail "KNOWN HOLE: $KNOWN_HOLE ($pack.$name; secure outcome expected: $expr)"
  else
    fail "$pack.$name: expected $expr $(cat "$E2E_TMP/pyerr")"
  fi
}
# host_check DESCRIPTION COMMAND...: a check on the host side.
host_check() {
  local what=$1
  shift
  if "$@"; then ok; else fail "host: $what"; fi
}

uid=$(id -u)
WORK="$E2E_TMP/work"
mkdir -p "$WORK/out"
cd "$WORK"
# A private key outside the workdir, symlinks to it planted by the caller.
SECRET_DIR="$E2E_TMP/secret/.ssh"
SECRET="$SECRET_DIR/id_ed25519"
mkdir -p "$SECRET_DIR"
echo "PRIVATE KEY planted-$$" >"$SECRET"
chmod 600 "$SECRET"
ln -s "$SECRET" "$WORK/out/planted"
ln -s ../secret/.ssh/id_ed25519 "$WORK/planted_rel"
# The caller's environment: one declared variable, one secret the pack must
# never see.
PLANTED="venom-planted-secret-$$-$RANDOM"
export VENOM_ATTACK_DECLARED=visible
export VENOM_PLANTED_SECRET="$PLANTED"
# A host process with the secret in its environment (target of /proc, kill,
# ptrace attacks), and listeners on the host's loopback, an abstract and a
# path unix socket (python3).
env VENOM_PLANTED_SECRET="$PLANTED" sleep 300 &
SLEEP_PID=$!
ABSTRACT="venom-attacks-$$"
UNIX_PATH="$E2E_TMP/listen.sock"
python3 - "$E2E_TMP/port" "$E2E_TMP/accepted" "$ABSTRACT" "$UNIX_PATH" <<'PY' &
import os, select, socket, sys
port_file, log_file, abstract, path = sys.argv[1:5]
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.bind(("127.0.0.1", 0)); tcp.listen(16)
ab = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ab.bind("\0" + abstract); ab.listen(16)
pu = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
pu.bind(path); pu.listen(16)
kinds = {tcp: "tcp", ab: "abstract", pu: "path"}
with open(port_file + ".tmp", "w") as f:
    f.write(str(tcp.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
with open(log_file, "a", buffering=1) as log:
    while True:
        for s in select.select(list(kinds), [], [])[0]:
            c, _ = s.accept(); log.write(kinds[s] + "\n"); c.close()
PY
PY_PID=$!
trap 'kill $SLEEP_PID $PY_PID 2>/dev/null; rm -rf "$E2E_TMP"' EXIT
for _ in $(seq 100); do [ -s "$E2E_TMP/port" ] && break; sleep 0.05; done
PORT=$(cat "$E2E_TMP/port")
: >"$E2E_TMP/accepted"
# Descriptors the caller of venom leaks (no close-on-exec): a file, a file
# open for writing, a directory. None may reach the skill.
exec 42</etc/ld.so.cache 43>"$E2E_TMP/leaked" 44<"$E2E_TMP"
host_check "the caller leaks 42, 43, 44 to its children" \
  bash -c 'for f in 42 43 44; do [ -e /proc/self/fd/$f ] || exit 1; done'

# The landlock ABI decides one errno below (device ioctls: ABI 5).
venom doctor --json
LANDLOCK_ABI=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["landlock_abi"])' <<<"$out")

# ------------------------------------------------------------ files: read
attack read_shadow      'r["errno"]==ENOENT'
attack read_ssh_key     'r["errno"]==ENOENT' path="$SECRET"
other_home=/root; [ "$uid" = 0 ] && other_home=/home/venomtest
attack read_other_users 'r["root_profile"]==ENOENT and r["home"]==ENOENT and r["passwd"]==ENOENT and r["other_home"]==ENOENT' path="$other_home"
# the host's temp dir exists in the view only as the skeleton leading to the
# workdir: "work", never "secret"
attack read_host_tmp    'r["host_dir"]==0 and r["host_dir_entries"]=="work"' path="$E2E_TMP"
attack proc_mem         'r["errno"]==ENOENT' pid=$SLEEP_PID
attack proc_environ     'r["errno"]==ENOENT' pid=$SLEEP_PID
attack proc_host_root   'r["errno"]==ENOENT' pid=$SLEEP_PID
attack proc_kallsyms    'r["errno"]==EACCES'
# The worker's own /proc/self/environ: readable as root; as a user EACCES,
# because the files of a non-dumpable process belong to root (DAC).
own_environ=0; [ "$uid" = 0 ] || own_environ=EACCES
attack env_secret       "not r['in_environ'] and not r['getenv'] and not r['in_proc_self'] and r['proc_self_errno']==$own_environ and not r['in_proc_1'] and r['proc_1_errno']==$own_environ and r['host_getenv']==-4 and not r['host_leak'] and r['declared_visible'] and r['environ_count']==1" secret="$PLANTED"
attack host_fs_open     'r["absolute"]==-4 and r["dotdot"]==-4' path="$SECRET"
attack supervisor_exe   'r["errno"]==ENOENT' path="$VENOM_BIN"
# venom-worker is the running program: deny-write-on-exec (ETXTBSY) comes
# before the read-only mount and landlock; DAC comes first of all (EACCES
# when the caller cannot write the file at all).
worker=$(python3 -c 'import os,sys; print(os.path.realpath(sys.argv[1]))' "$VENOM_OUT/lib/venom/venom-worker" 2>/dev/null || true)
if [ -n "${VENOM_WORKER:-}" ]; then worker=$VENOM_WORKER; fi
exe_errno=ETXTBSY; [ -w "$worker" ] || exe_errno=EACCES
attack self_exe_write   "r['errno']==$exe_errno and r['o_rdwr']==$exe_errno and r['exe'].endswith('/venom-worker')"

# ------------------------------------------------------------ files: write
attack write_etc        'r["errno"]==EROFS'
attack write_workdir    'r["errno"]==EROFS'
attack write_usr        'r["errno"]==EROFS'
attack write_pack       'r["errno"]==EROFS and r["create"]==EROFS' path="$(cd "$VENOM_FIXTURES/attacks" && pwd -P)"
# /proc/sys files belong to root, mode 0644: as a user DAC refuses first
# (EACCES); as root (no capability, but the owner) the read-only re-bind does
# (EROFS). Reading is landlock's EACCES in both cases.
sysctl_errno=EROFS; [ "$uid" = 0 ] || sysctl_errno=EACCES
attack write_proc_sys   "r['errno']==$sysctl_errno and r['read']==EACCES"
if [ -e /proc/sysrq-trigger ]; then
  attack write_sysrq    'r["errno"]==EROFS'
else  # a kernel without CONFIG_MAGIC_SYSRQ has no such file
  attack write_sysrq    'r["errno"]==ENOENT'
fi
attack dotdot_escape    'r["errno"]==ENOENT' path="$SECRET"
attack symlink_escape   'r["symlink"]==0 and r["errno"]==ENOENT and r["rel"]==ENOENT' path="$SECRET"
attack planted_symlink  'r["errno"]==ENOENT and r["rel"]==ENOENT'
attack hardlink_escape  'r["errno"]==ENOENT and r["visible_other_mount"]==EXDEV' path="$SECRET"
attack symlink_race     'r["opened"]==0 and r["other"]==0 and r["enoent"]==r["tries"] and r["tries"]>=3000 and r["swapped"]>0' path="$SECRET"
attack replace_mount    'r["errno"]==EROFS and r["rmdir"]==EROFS'
# set-id modes are refused (seccomp checks the mode of fchmod, fchmodat,
# open/openat/creat and mkdir): no set-id program of the caller (root: a root
# one) can be left in the declared path for other users to run.
attack setuid_plant     'r["creat"]==EPERM and r["errno"]==EPERM and r["creat_mode"]==0 and r["chmod_mode"]==0o755'
setid=$(find "$WORK/out" -perm /6000 2>/dev/null | head -3 | tr '\n' ' ')
if [ -z "$setid" ]; then ok; else fail "set-id files on the host after setuid_plant: $setid"; fi
rm -f "$WORK/out/suid_creat" "$WORK/out/suid_chmod"
# A declared path missing when a call starts is left out of the view; the
# skill makes it a symlink to a host directory. The next call must not bind
# the target: venom refuses it (exit 5) and names the path.
attack plant_decl_link  'r["rc"]==0' path="$SECRET_DIR"
attack read_decl        "d['exit']==5 and \"declared path 'out/data' runs through a symlink\" in d['error']" path="$SECRET"
expect_rc 5
if grep -qF "planted-$$" <<<"$out$err"; then fail "read_decl: the secret reached the output"; else ok; fi
rm -f "$WORK/out/data"
attack read_decl        'r["errno"]==ENOENT and r["direct"]==ENOENT and r["content"]==""' path="$SECRET"
attack mknod_dev        'r["errno"]==ENOSYS'
attack sys_absent       'r["errno"]==ENOENT and r["sys_class_net"]==ENOENT'
attack dev_devices      'all(r[k]==ENOENT for k in ("mem","kmsg","sda","tty","ptmx","shm")) and r["opendir_dev"]==EACCES'

# ------------------------------------------------------------ mounts, namespaces
for a in mount umount unshare chroot pivot_root open_tree fsopen clone_newuser; do
  attack $a 'r["errno"]==EPERM'
done
attack move_mount       'r["errno"]==EPERM and r["fspick"]==EPERM and r["mount_setattr"]==EPERM and r["fsmount"]==EPERM'
attack setns_self       'r["open_ns"]==0 and r["errno"]==EPERM'
attack setns_host       'r["errno"]==ENOENT' pid=$SLEEP_PID
attack clone_newns      'r["errno"]==EPERM and r["newnet"]==EPERM and r["newpid"]==EPERM'
attack clone3_ns        'r["errno"]==ENOSYS'
attack clone3_fallback  'r["errno"]==ENOSYS and r["pthread_create"]==0 and r["thread_ran"] and r["fork_status"]==7'
attack handle_at        'r["errno"]==EPERM and r["name_to_handle_at"]==EPERM'

# ------------------------------------------------------------ processes
attack ptrace_parent    'r["ppid"]==0 and r["traceme"]==EPERM and r["attach_host_pid"]==EPERM and r["errno"]==EPERM' pid=$SLEEP_PID
for a in process_vm_readv kcmp; do attack $a 'r["errno"]==EPERM' pid=$SLEEP_PID; done
attack pidfd_open       'r["errno"]==EPERM'
# the worker is pid 1 and alone in its pid namespace: nobody to signal
attack kill_all         'r["errno"]==ESRCH'
attack kill_host_pid    'r["errno"]==ESRCH and r["shell"]==ESRCH' pid=$SLEEP_PID shell=$$
attack kill_parent      'r["pid"]==1 and r["ppid"]==0 and r["rc"]==0 and r["alive"]'
host_check "the planted process survived kill(-1)" kill -0 $SLEEP_PID
host_check "the listener survived kill(-1)" kill -0 $PY_PID
TAG="atk$$"
TAG=${TAG:0:15}
attack orphan           'r["rc"]>0' tag="$TAG"
sleep 0.2
host_check "no child of the worker outlives the call" bash -c "! pgrep -x '$TAG' >/dev/null"

# ------------------------------------------------------------ terminal
tty_attacks() {
  attack tiocsti        'r["errno"]==EPERM and r["fd1"]==EPERM and r["fd2"]==EPERM'
  attack tiocsti_high   'r["errno"]==EPERM'
  attack tioclinux      'r["errno"]==EPERM'
  # fds 0-2 are /dev/null; TCGETS passes seccomp, then landlock (ABI >= 5)
  # refuses ioctls on device files
  local tcgets=ENOTTY
  [ "${LANDLOCK_ABI:-0}" -ge 5 ] && tcgets=EACCES
  attack tty_probe      "r['errno']==ENOENT and r['ttys']==0 and r['stdin']=='/dev/null' and all(r[f]==$tcgets for f in ('fd0','fd1','fd2'))"
}
tty_attacks
# With a terminal: venom itself runs on a pty (script), the skill must still
# find no terminal and TIOCSTI must still fail.
if [ ! -t 0 ] && command -v script >/dev/null; then
  VENOM_REAL_BIN=$VENOM_BIN
  venom_pty() { run script -qec "$(printf '%q ' "$VENOM_REAL_BIN" "$@")" /dev/null </dev/null; out=$(tr -d '\r' <<<"$out"); }
  venom() { venom_pty "$@"; }
  echo "re-running the terminal attacks with venom on a pty (script)"
  tty_attacks
  unset -f venom
  venom() { run "$VENOM_BIN" "$@"; }
fi

# ------------------------------------------------------------ kernel surface
for a in init_module finit_module bpf perf_event_open userfaultfd io_uring_setup; do
  attack $a 'r["errno"]==EPERM'
done
attack keyctl           'r["errno"]==EPERM and r["add_key"]==EPERM and r["request_key"]==EPERM'
attack personality      'r["errno"]==EPERM and r["query"]==EPERM'
attack seccomp          'r["errno"]==EPERM and r["prctl"]==EPERM'
attack machine          'r["errno"]==EPERM and all(r[k]==EPERM for k in ("kexec_load","syslog","clock_settime","sethostname","iopl"))'
attack memfd            'r["errno"]==ENOSYS'

# ------------------------------------------------------------ privileges
attack execve           'r["errno"]==EPERM and r["setuid_binary"]==EPERM'
# with "exec": true, started programs keep nothing: no capability, no_new_privs
attack attacks_exec.exec_caps 'r["status"]==0 and "no_new_privs: 1" in r["output"] and "Capability bounding set: [none]" in r["output"] and "Ambient capabilities: [none]" in r["output"] and "Inheritable capabilities: [none]" in r["output"]'
# ... and set-user-id root programs run unprivileged: no AT_SECURE, so
# ld.so honours LD_DEBUG (it would ignore it for a privileged program)
attack attacks_exec.setuid_exec 'r["status"]==0 and len(r["output"].split())==2 and all(int(x)>0 for x in r["output"].split())'
attack setrlimit_raise  'r["errno"]==EPERM and r["core_change"]==EPERM and r["nofile"]==256 and r["nofile_max"]==256 and r["nproc"]==16 and r["fsize"]==256<<20 and r["cpu"]==30 and r["core"]==0'
if [ -z "${VENOM_SANITIZE:-}" ]; then
  attack setrlimit_raise 'r["as"]==256<<20'  # ASan needs an unlimited address space
fi
attack nofile           'r["errno"]==EMFILE and r["highest_fd"]==255'
attack capset           'r["errno"]==EPERM and r["effective"]==0 and r["permitted"]==0 and r["inheritable"]==0'
attack ambient_raise    'r["errno"]==EPERM and r["bounding_sys_admin"]==0'
attack setuid0          "r['errno']==EPERM and r['setresuid']==EPERM and r['set_dumpable']==EPERM and r['set_securebits']==EPERM and r['no_new_privs']==1 and r['seccomp_mode']==2 and r['uid']==$uid"

# ------------------------------------------------------------ network
attack tcp_loopback     'r["socket"]==EPERM' port=$PORT
attack abstract_unix    'r["socket"]==EPERM' name="$ABSTRACT"
attack path_unix        'r["socket"]==EPERM' path="$UNIX_PATH"
attack netlink          'r["errno"]==EPERM and r["socketpair_inet"]==EPERM'
attack dns              'r["rc"]==EAI_AGAIN'
attack peercred         'r["errno"]==EPERM'
host_check "no connection reached the host's listeners" test ! -s "$E2E_TMP/accepted"
# "network": "full" shares the host's network (a declared permission), but
# landlock's scoping still keeps the abstract socket out of reach and the
# view hides the path socket.
attack attacks_net.abstract_unix 'r["socket"]==0 and r["errno"]==EPERM' name="$ABSTRACT"
attack attacks_net.path_unix     'r["socket"]==0 and r["errno"]==ENOENT' path="$UNIX_PATH"
attack attacks_net.tcp_loopback  'r["socket"]==0 and r["rc"]==0' port=$PORT
for _ in $(seq 40); do [ -s "$E2E_TMP/accepted" ] && break; sleep 0.05; done
host_check "only the declared TCP connection was accepted" test "$(cat "$E2E_TMP/accepted")" = "tcp"

# ------------------------------------------------------------ resources
attack forkbomb         'r["errno"]==EAGAIN and 1 <= r["forks"] <= 16'
if [ -z "${VENOM_SANITIZE:-}" ]; then
  attack membomb        'r["errno"]==ENOMEM and r["allocated_mb"] < 256'
fi
attack diskfill         'r["errno"]==ENOSPC and 1 <= r["written_mb"] <= 64'
attack fsize            'r["errno"]==EFBIG and r["fsize"]==256<<20 and r["child_signal"]==SIGXFSZ'
start=$(date +%s%N)
attack spin             'd["code"]==-9 and "timed out after 2000 ms" in d["error"]'
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
if [ "$elapsed" -lt 6000 ]; then ok; else fail "spin was not stopped near its deadline (${elapsed} ms)"; fi
attack flood            'd["code"]==-10 and "limits.output_bytes" in d["error"]'
# only the channel (3) and the worker's own handle on the declared path (4);
# never the caller's 42, 43, 44
attack fd_probe         "r['open']==[3,4] and r['target3'].startswith('socket:') and r['target4']=='$WORK/out' and r['fd0']==r['fd1']==r['fd2']=='/dev/null'"

# ------------------------------------------------------------ architecture
attack x32              'd["code"]==-4 and "SIGSYS" in d["error"]'
# int 0x80: seccomp kills it (SIGSYS) where the kernel has the i386 entry;
# some kernels (VMs booted without IA32 syscalls) fault it for any process,
# sandboxed or not (SIGSEGV) — then the syscall never ran either.
cat >"$E2E_TMP/int80.c" <<'C'
int main(void) { long r; __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L)); return r > 0 ? 0 : 1; }
C
int80_native=0
if cc -o "$E2E_TMP/int80" "$E2E_TMP/int80.c" 2>/dev/null; then
  ( "$E2E_TMP/int80" ) 2>/dev/null || int80_native=$?
fi
if [ "$int80_native" -ge 128 ]; then
  echo "note: this kernel faults int 0x80 outside any sandbox; expecting SIGSEGV"
  if [ -n "${VENOM_SANITIZE:-}" ]; then # ASan's SEGV handler turns the fault into exit 1
    attack int80        'd["code"]==-14 and ("SIGSEGV" in d["error"] or "exited with status 1" in d["error"])'
  else
    attack int80        'd["code"]==-14 and "SIGSEGV" in d["error"]'
  fi
else
  attack int80          'd["code"]==-4 and "SIGSYS" in d["error"]'
fi

# nothing was left behind, and venom still works
host_check "the planted process is still alive" kill -0 $SLEEP_PID
host_check "nothing written outside the declared path" test ! -e "$WORK/pwned"
host_check "the leaked file was not written" test ! -s "$E2E_TMP/leaked"
venom skill run attacks.read_shadow --json; expect_rc 0
finish
