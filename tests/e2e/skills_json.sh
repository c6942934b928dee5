#!/usr/bin/env bash
# End-to-end: the json skill pack through the real `venom skill run` binary:
# JSON Pointer get/set on documents and files, validation, escapes.
source "$VENOM_SRC/tests/support/e2e_skills.sh"

printf 'hello\nworld\n' > notes.txt
printf '{"secret": 1}\n' > "$top/outside/secret.json"
ln -s "$top/outside/secret.json" out_link.json
printf '{"name": "venom", "deps": ["jansson", "curl"], "a/b": {"~k": true}}\n' > conf.json
printf '{"broken": \n' > bad.json

# ---- get
vrun json.get path=conf.json pointer=/deps/1
check "get file" 0 'r["result"] == {"value": "curl"}'
vrun json.get path=conf.json pointer=/a~1b/~0k
check "get escaped tokens" 0 'r["result"] == {"value": True}'
vrun json.get path=conf.json pointer=
check "get whole document" 0 'r["result"]["value"]["name"] == "venom"'
vrun json.get --args-json '{"document": [10, 20], "pointer": "/1"}'
check "get document" 0 'r["result"] == {"value": 20}'
vrun json.get --args-json '{"document": null, "pointer": ""}'
check "get null document" 0 'r["result"] == {"value": None}'
vrun json.get path=conf.json pointer=/nope
check "get missing key" 1 'r["code"] == -3 and "key '"'"'nope'"'"' not found" in r["error"]'
vrun json.get path=conf.json pointer=/deps/5
check "get index out of range" 1 '"out of range" in r["error"] and "2 items" in r["error"]'
vrun json.get path=conf.json pointer=/name/x
check "get through a string" 1 '"is a string" in r["error"]'
vrun json.get path=conf.json pointer=name
check "get bad pointer" 2 '"pointer" in r["error"]'
vrun json.get path=bad.json pointer=
check "get invalid JSON file" 1 '"bad.json:" in r["error"] and "not valid JSON" in r["error"]'
vrun json.get path=../outside/secret.json pointer=/secret
check "get ../ refused" 1 '"escapes the workdir" in r["error"]'
vrun json.get path=out_link.json pointer=/secret
check "get symlink out refused" 1 '"(symlink)" in r["error"]'
vrun json.get path=/etc/passwd pointer=
check "get /etc/passwd refused" 1 '"outside the permitted directories" in r["error"]'
vrun json.get pointer=/a
check "get needs document or path" 2 'not r["ok"]'

# ---- set
vrun json.set --args-json '{"document": {"a": [1]}, "pointer": "/a/-", "value": 2}'
check "set append" 0 'r["result"] == {"document": {"a": [1, 2]}}'
vrun json.set --args-json '{"document": {"a": [1]}, "pointer": "/a/0", "value": "x"}'
check "set replace item" 0 'r["result"] == {"document": {"a": ["x"]}}'
vrun json.set --args-json '{"document": {"a": 1}, "pointer": "", "value": [true]}'
check "set whole document" 0 'r["result"] == {"document": [True]}'
vrun json.set --args-json '{"document": {"a": [1]}, "pointer": "/a/7", "value": 2}'
check "set index too far" 1 '"0..1" in r["error"]'
vrun json.set --args-json '{"document": {}, "pointer": "/x/y", "value": 2}'
check "set missing parent" 1 '"key '"'"'x'"'"' not found" in r["error"]'
ino=$(stat -c %i conf.json)
vrun json.set --args-json '{"path": "conf.json", "pointer": "/version", "value": "1.0"}'
check "set file" 0 'r["result"]["path"] == "conf.json" and r["result"]["document"]["version"] == "1.0"'
python3 -c 'import json; d = json.load(open("conf.json")); assert d["version"] == "1.0" and d["deps"] == ["jansson", "curl"], d' \
    && echo "ok   file rewritten" || { echo "FAIL conf.json: $(cat conf.json)"; fails=$((fails + 1)); }
[ "$(stat -c %i conf.json)" != "$ino" ] && echo "ok   set wrote through rename" || { echo "FAIL same inode"; fails=$((fails + 1)); }
[ "$(find . -name '.*.tmp' | wc -l)" = 0 ] && echo "ok   no temp files left" || { echo "FAIL temp files left"; fails=$((fails + 1)); }
vrun json.set --args-json '{"path": "out_link.json", "pointer": "/secret", "value": 2}'
check "set symlink out refused" 1 '"(symlink)" in r["error"]'
python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"secret": 1}' "$top/outside/secret.json" \
    && echo "ok   outside file untouched" || { echo "FAIL outside file changed"; fails=$((fails + 1)); }
vrun json.set --args-json '{"document": {}, "pointer": "/a"}'
check "set without value" 2 '"value" in r["error"]'

# ---- validate
schema='{"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}, "required": ["port"], "additionalProperties": false}'
vrun json.validate --args-json "{\"document\": {\"port\": 80}, \"schema\": $schema}"
check "validate ok" 0 'r["result"] == {"valid": True, "errors": []}'
vrun json.validate --args-json "{\"document\": {\"port\": 70000, \"x\": 1}, \"schema\": $schema}"
check "validate errors" 0 'r["result"]["valid"] is False and len(r["result"]["errors"]) == 2 and any("port" in e for e in r["result"]["errors"])'
vrun json.validate --args-json "{\"path\": \"conf.json\", \"schema\": {\"type\": \"object\", \"required\": [\"name\"]}}"
check "validate file" 0 'r["result"]["valid"] is True'
vrun json.validate --args-json '{"document": 1, "schema": {"type": "nonsense"}}'
check "validate bad schema" 2 '"schema" in r["error"]'
vrun json.validate --args-json '{"document": 1, "schema": "x"}'
check "validate schema not an object" 2 '"schema" in r["error"]'

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all json checks passed"
