#!/usr/bin/env bash
# The app suite once per broker, one after another. APP_SUITES_SIDE_BY_SIDE=1 runs them
# side by side (each has its own servers, ports, env file and temporary directory:
# tests/app/conftest.py), about 5 minutes instead of 13 here, but not yet in make test,
# which has the time. (The beat that once would not stop under that load was a TERM landing
# mid-publish, and it happened one after another too: fixed in the companion package's
# beat.py, test_beat.py proves it.) Every broker runs even if one fails;
# each suite's output is kept in var/test-app/<broker>.log, and the exit status says
# whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
brokers=("$@")
[[ ${#brokers[@]} -gt 0 ]] || brokers=(sqlite redis postgres)
mkdir -p var/test-app
failed=()
declare -A pids=()
for broker in "${brokers[@]}"; do
  log=var/test-app/$broker.log
  if [[ ${APP_SUITES_SIDE_BY_SIDE:-0} != 1 ]]; then
    echo "=== app suite on the $broker broker ($(date +%T)) ==="
    .venv/bin/python -m pytest --broker="$broker" 2>&1 | tee "$log"
    ((PIPESTATUS[0] == 0)) || failed+=("$broker")
  else
    echo "=== app suite on the $broker broker started at $(date +%T) (log: $log)"
    .venv/bin/python -m pytest --broker="$broker" >"$log" 2>&1 &
    pids[$broker]=$!
  fi
done
for broker in "${brokers[@]}"; do
  [[ -n ${pids[$broker]:-} ]] || continue
  wait "${pids[$broker]}" || failed+=("$broker")
  echo "=== app suite on the $broker broker, ended by $(date +%T) ==="
  cat "var/test-app/$broker.log"
done
if ((${#failed[@]})); then
  echo "app suite FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "app suite passed on: ${brokers[*]}"
