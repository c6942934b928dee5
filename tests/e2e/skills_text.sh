#!/usr/bin/env bash
# End-to-end: the text skill pack through the real `venom skill run` binary:
# inline text and files, regexes, atomic replace in a file, escapes.
source "$VENOM_SRC/tests/support/e2e_skills.sh"

printf 'hello\nworld\n' > notes.txt
printf 'secret\n' > "$top/outside/secret.txt"
ln -s "$top/outside/secret.txt" out_link
printf 'one\ntwo\nthree\nfour\n' > lines.txt
printf 'x\0y' > blob.bin

# ---- count
vrun text.count 'text=hello world'
check "count text" 0 'r["result"] == {"lines": 1, "words": 2, "bytes": 11, "chars": 11}'
vrun text.count path=lines.txt
check "count file" 0 'r["result"] == {"lines": 4, "words": 4, "bytes": 19, "chars": 19}'
vrun text.count --args-json '{"text": "naïve café\n"}'
check "count unicode" 0 'r["result"] == {"lines": 1, "words": 2, "bytes": 13, "chars": 11}'
vrun text.count text=
check "count empty" 0 'r["result"] == {"lines": 0, "words": 0, "bytes": 0, "chars": 0}'
vrun text.count path=blob.bin
check "count binary refused" 1 '"binary" in r["error"]'
vrun text.count
check "count needs text or path" 2 'not r["ok"]'
vrun text.count text=a path=lines.txt
check "count text and path" 2 'not r["ok"]'

# ---- replace
vrun text.replace 'text=a-b-c' find=- replace=+
check "replace all" 0 'r["result"] == {"text": "a+b+c", "replacements": 2}'
vrun text.replace 'text=a-b-c' find=- replace=+ all=false
check "replace first" 0 'r["result"] == {"text": "a+b-c", "replacements": 1}'
vrun text.replace --args-json '{"text": "key = value\nother = x", "find": "^([a-z]+) = (.*)$", "replace": "\\2: \\1", "regex": true}'
check "replace regex groups per line" 0 'r["result"] == {"text": "value: key\nx: other", "replacements": 2}'
vrun text.replace --args-json '{"text": "aaa", "find": "x*", "replace": "-", "regex": true}'
check "replace empty matches terminates" 0 'r["result"]["text"] == "-a-a-a-"'
vrun text.replace --args-json '{"text": "é", "find": ".", "replace": "[\\0]", "regex": true}'
check "replace regex whole characters" 0 'r["result"]["text"] == "[é]"'
vrun text.replace text=abc 'find=(' replace=x regex=true
check "replace bad regex" 2 '"not a valid POSIX extended regex" in r["error"]'
chmod 640 lines.txt
ino=$(stat -c %i lines.txt)
vrun text.replace path=lines.txt find=o replace=0
check "replace in file" 0 'r["result"] == {"path": "lines.txt", "replacements": 3, "bytes": 19}'
expect_file lines.txt "$(printf '0ne\ntw0\nthree\nf0ur')"
[ "$(stat -c %i lines.txt)" != "$ino" ] && echo "ok   replace rewrote through rename" || { echo "FAIL same inode"; fails=$((fails + 1)); }
[ "$(stat -c %a lines.txt)" = 640 ] && echo "ok   replace kept the mode" || { echo "FAIL mode $(stat -c %a lines.txt)"; fails=$((fails + 1)); }
[ "$(find . -name '.*.tmp' | wc -l)" = 0 ] && echo "ok   no temp files left" || { echo "FAIL temp files left"; fails=$((fails + 1)); }
ino=$(stat -c %i lines.txt)
vrun text.replace path=lines.txt find=zzz replace=y
check "replace no match" 0 'r["result"]["replacements"] == 0'
[ "$(stat -c %i lines.txt)" = "$ino" ] && echo "ok   unchanged file not rewritten" || { echo "FAIL file rewritten"; fails=$((fails + 1)); }
vrun text.replace path=../outside/secret.txt find=secret replace=x
check "replace ../ refused" 1 '"escapes the workdir" in r["error"]'
vrun text.replace path=out_link find=secret replace=x
check "replace via symlink out refused" 1 '"(symlink)" in r["error"]'
expect_file "$top/outside/secret.txt" "secret"
vrun text.replace path=/etc/hostname find=a replace=b
check "replace absolute outside refused" 1 '"outside the permitted directories" in r["error"]'

# ---- match
vrun text.match --args-json '{"text": "id=7, id=42", "pattern": "id=([0-9]+)"}'
check "match all" 0 'r["result"]["matches"] == [{"match": "id=7", "start": 0, "end": 4, "groups": ["7"]}, {"match": "id=42", "start": 6, "end": 11, "groups": ["42"]}]'
vrun text.match --args-json '{"text": "id=7, id=42", "pattern": "id=([0-9]+)", "all": false}'
check "match first" 0 'len(r["result"]["matches"]) == 1'
vrun text.match --args-json '{"text": "ééx", "pattern": "x"}'
check "match character offsets" 0 'r["result"]["matches"][0]["start"] == 2 and r["result"]["matches"][0]["end"] == 3'
vrun text.match --args-json '{"text": "ab", "pattern": "(a)|(z)"}'
check "match unmatched group is null" 0 'r["result"]["matches"][0]["groups"] == ["a", None]'
vrun text.match path=lines.txt 'pattern=^t.*$'
check "match file" 0 '[m["match"] for m in r["result"]["matches"]] == ["tw0", "three"]'
vrun text.match text=abc pattern=q
check "match none" 0 'r["result"]["matches"] == []'

# ---- head / tail
vrun text.head path=lines.txt lines=2
check "head file" 0 'r["result"]["lines"] == ["0ne", "tw0"]'
vrun text.tail path=lines.txt lines=2
check "tail file" 0 'r["result"]["lines"] == ["three", "f0ur"]'
vrun text.head --args-json '{"text": "a\r\nb\r\n"}'
check "head crlf" 0 'r["result"]["lines"] == ["a", "b"]'
vrun text.tail --args-json '{"text": "a\nb\n", "lines": 5}'
check "tail fewer lines" 0 'r["result"]["lines"] == ["a", "b"]'
vrun text.head text=abc lines=-1
check "head negative lines" 2 '"lines" in r["error"]'
vrun text.tail path=out_link
check "tail symlink out refused" 1 '"(symlink)" in r["error"]'

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all text checks passed"
