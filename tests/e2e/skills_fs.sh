#!/usr/bin/env bash
# End-to-end: the fs skill pack through the real `venom skill run` binary,
# including escape attempts (.., absolute paths, symlinks) and atomic writes.
source "$VENOM_SRC/tests/support/e2e_skills.sh"

printf 'hello\nworld\n' > notes.txt
printf 'secret\n' > "$top/outside/secret.txt"
printf 'abc\0def' > blob.bin
ln -s "$top/outside/secret.txt" out_link
ln -s "$top/outside" out_dir
ln -s notes.txt in_link

# ---- read
vrun fs.read path=notes.txt
check "read" 0 'r["ok"] and r["skill"] == "fs.read" and r["result"] == {"content": "hello\nworld\n", "bytes": 12, "eof": True, "offset": 0, "size": 12}'
vrun fs.read path=notes.txt offset=6 limit=3
check "read offset/limit" 0 'r["result"]["content"] == "wor" and r["result"]["eof"] is False'
vrun fs.read path=in_link
check "read symlink inside" 0 'r["result"]["content"] == "hello\nworld\n"'
vrun fs.read path=blob.bin
check "read binary refused" 1 '"not text" in r["error"] and "base64" in r["error"]'
vrun fs.read path=blob.bin encoding=base64
check "read binary base64" 0 'r["result"]["content"] == "YWJjAGRlZg=="'
vrun fs.read path=missing.txt
check "read missing" 1 'r["code"] == -3 and "missing.txt" in r["error"]'
vrun fs.read path=.
check "read a directory" 2 '"directory" in r["error"]'

# ---- escapes
vrun fs.read path=../outside/secret.txt
check "read ../ refused" 1 'r["code"] == -4 and "escapes the workdir" in r["error"] and "secret" not in r.get("result", "")'
vrun fs.read path=/etc/passwd
check "read /etc/passwd refused" 1 'r["code"] == -4 and "outside the permitted directories" in r["error"]'
vrun fs.read path=out_link
check "read symlink out refused" 1 'r["code"] == -4 and "(symlink)" in r["error"]'
vrun fs.read path=out_dir/secret.txt
check "read via symlinked dir refused" 1 'r["code"] == -4 and "(symlink)" in r["error"]'
vrun fs.write path=../escape.txt content=x
check "write ../ refused" 1 '"escapes the workdir" in r["error"]'
[ ! -e "$top/escape.txt" ] || { echo "FAIL ../escape.txt was created"; fails=$((fails + 1)); }
vrun fs.write path=out_dir/new.txt content=x
check "write via symlinked dir refused" 1 '"(symlink)" in r["error"]'
[ ! -e "$top/outside/new.txt" ] || { echo "FAIL outside/new.txt was created"; fails=$((fails + 1)); }
vrun fs.list path=out_dir
check "list symlinked dir refused" 1 '"(symlink)" in r["error"]'
vrun fs.search path=/etc pattern=root
check "search /etc refused" 1 '"outside the permitted directories" in r["error"]'

# ---- write
vrun fs.write path=new.txt 'content=first line'
check "write new" 0 'r["result"] == {"path": "new.txt", "bytes": 10}'
expect_file new.txt "first line"
chmod 600 new.txt
ino_before=$(stat -c %i new.txt)
vrun fs.write path=new.txt content=replaced
check "write replace" 0 'r["result"]["bytes"] == 8'
expect_file new.txt "replaced"
ino_after=$(stat -c %i new.txt)
if [ "$ino_before" = "$ino_after" ]; then
    echo "FAIL write did not replace the file atomically (same inode $ino_before)"; fails=$((fails + 1))
else
    echo "ok   write replaced through a new inode (rename)"
fi
[ "$(stat -c %a new.txt)" = 600 ] && echo "ok   write kept mode 600" || { echo "FAIL mode is $(stat -c %a new.txt)"; fails=$((fails + 1)); }
leftovers=$(find . -name '.*.tmp' | wc -l)
[ "$leftovers" = 0 ] && echo "ok   no temp files left" || { echo "FAIL temp files left: $(find . -name '.*.tmp')"; fails=$((fails + 1)); }
vrun fs.write path=new.txt content=' more' append=true
check "write append" 0 'r["result"]["bytes"] == 5'
expect_file new.txt "replaced more"
vrun fs.write path=deep/er/file.txt content=x
check "write missing dir" 1 '"create_dirs" in r["error"]'
vrun fs.write path=deep/er/file.txt content=x create_dirs=true
check "write create_dirs" 0 'r["result"]["bytes"] == 1'
expect_file deep/er/file.txt "x"
vrun fs.write path=deep content=x
check "write over a directory refused" 2 '"is a directory" in r["error"]'
vrun fs.write path=in_link content=through
check "write through symlink inside" 0 'r["ok"]'
expect_file notes.txt "through"
[ -L in_link ] && echo "ok   in_link is still a symlink" || { echo "FAIL in_link replaced"; fails=$((fails + 1)); }
printf 'hello\nworld\n' > notes.txt
vrun fs.write path=x.txt
check "write without content is a usage error" 2 'not r["ok"] and "content" in r["error"]'

# ---- list / stat
vrun fs.list
check "list" 0 '[e["name"] for e in r["result"]["entries"]] == sorted(e["name"] for e in r["result"]["entries"]) and any(e["name"] == "out_link" and e["type"] == "symlink" for e in r["result"]["entries"]) and any(e["name"] == "deep" and e["type"] == "dir" for e in r["result"]["entries"]) and not r["result"]["truncated"]'
vrun fs.list recursive=true
check "list recursive" 0 'any(e["name"] == "deep/er/file.txt" and e["type"] == "file" and e["size"] == 1 for e in r["result"]["entries"]) and not any(e["name"].startswith("out_dir/") for e in r["result"]["entries"])'
vrun fs.list max_entries=2
check "list truncated" 0 'len(r["result"]["entries"]) == 2 and r["result"]["truncated"]'
vrun fs.stat path=notes.txt
check "stat file" 0 'r["result"]["type"] == "file" and r["result"]["size"] == 12 and len(r["result"]["mode"]) == 4 and r["result"]["mtime"].endswith("Z")'
vrun fs.stat path=out_link
check "stat symlink (not followed)" 0 'r["result"]["type"] == "symlink"'
vrun fs.stat path=deep
check "stat dir" 0 'r["result"]["type"] == "dir"'
vrun fs.stat path=nothing
check "stat missing" 1 'r["code"] == -3 and "nothing" in r["error"]'
vrun fs.stat path=..
check "stat .. refused" 1 '"escapes the workdir" in r["error"]'

# ---- search
printf 'needle one\nhay\nNEEDLE two\n' > deep/hay.txt
printf 'needle\0binary' > deep/bin.dat
printf 'needle outside\n' > "$top/outside/n.txt"
vrun fs.search pattern=needle
check "search substring" 0 'sorted((m["file"], m["line"]) for m in r["result"]["matches"]) == [("deep/hay.txt", 1)] and not r["result"]["truncated"]'
vrun fs.search pattern=needle ignore_case=true
check "search ignore_case" 0 'sorted((m["file"], m["line"], m["text"]) for m in r["result"]["matches"]) == [("deep/hay.txt", 1, "needle one"), ("deep/hay.txt", 3, "NEEDLE two")]'
vrun fs.search path=deep pattern='^[A-Z]+ t' regex=true
check "search regex" 0 '[(m["file"], m["line"]) for m in r["result"]["matches"]] == [("deep/hay.txt", 3)]'
vrun fs.search pattern=e max_results=2
check "search truncated" 0 'len(r["result"]["matches"]) == 2 and r["result"]["truncated"]'
vrun fs.search pattern='(' regex=true
check "search bad regex" 2 '"not a valid POSIX extended regex" in r["error"]'
vrun fs.search
check "search without pattern is a usage error" 2 '"pattern" in r["error"]'

# ---- usage errors
vrun fs.read path=notes.txt limit=0
check "bad argument value" 2 '"limit" in r["error"]'
vrun fs.read path=notes.txt bogus=1
check "unknown argument" 2 '"bogus" in r["error"]'
set +e
"$VENOM_BIN" skill run fs.nope --json >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && echo "ok   unknown skill exits 2" || { echo "FAIL unknown skill exit $rc"; fails=$((fails + 1)); }

# ---- human output (no --json): pretty result on stdout
set +e
human=$("$VENOM_BIN" skill run fs.read path=notes.txt 2>/dev/null)
rc=$?
set -e
if [ "$rc" = 0 ] && HUMAN="$human" python3 -c 'import json,os; assert json.loads(os.environ["HUMAN"])["content"] == "hello\nworld\n"'; then
    echo "ok   human output"
else
    echo "FAIL human output (exit $rc): $human"; fails=$((fails + 1))
fi

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all fs checks passed"
