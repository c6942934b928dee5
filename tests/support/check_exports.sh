#!/usr/bin/env bash
# Every plugin given must export exactly one dynamic symbol: venom_plugin_entry.
set -u
fail=0
[ $# -gt 0 ] || { echo "no plugins given"; exit 1; }
for so in "$@"; do
  syms=$(nm -D --defined-only "$so" | awk '{print $NF}' | sort)
  if [ "$syms" != "venom_plugin_entry" ]; then
    echo "FAIL $so exports: $(echo $syms)"
    fail=1
  else
    echo "ok   $so"
  fi
done
exit $fail
