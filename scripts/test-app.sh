#!/usr/bin/env bash
# The app suite once per broker; every broker runs even if one fails, and the
# exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
brokers=("$@")
[[ ${#brokers[@]} -gt 0 ]] || brokers=(sqlite redis postgres)
failed=()
for broker in "${brokers[@]}"; do
  echo "=== app suite on the $broker broker ==="
  .venv/bin/python -m pytest --broker="$broker" || failed+=("$broker")
done
if ((${#failed[@]})); then
  echo "app suite FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "app suite passed on: ${brokers[*]}"
