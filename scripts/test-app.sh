#!/usr/bin/env bash
# The app suite once per broker, the suites side by side: their time goes to waiting on
# workers, brokers and timeouts, not to the CPU, and each has its own servers, ports,
# env file and temporary directory (tests/app/conftest.py). Every broker runs even if
# one fails; each suite's output is printed whole when it ends (var/test-app/<broker>.log),
# and the exit status says whether all passed. APP_SUITES_SIDE_BY_SIDE=0 runs them in turn.
set -uo pipefail
cd "$(dirname "$0")/.."
brokers=("$@")
[[ ${#brokers[@]} -gt 0 ]] || brokers=(sqlite redis postgres)
mkdir -p var/test-app
failed=()
declare -A pids=()
for broker in "${brokers[@]}"; do
  log=var/test-app/$broker.log
  if [[ ${APP_SUITES_SIDE_BY_SIDE:-1} == 0 ]]; then
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
