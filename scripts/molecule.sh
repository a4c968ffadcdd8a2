#!/usr/bin/env bash
# Molecule on both Debian releases, the two releases side by side.
#   molecule.sh [SCENARIO ...]        (default: every scenario under molecule/)
# Runs each scenario's test sequence (destroy, syntax, create, prepare, converge,
# idempotence, verify, destroy) phase by phase, so converge and idempotent re-run
# are timed: docs/deploy-times.json (make bench reads it). Each (scenario,
# release) has its own container, ephemeral directory and log:
# var/molecule/<scenario>-debian<release>.log. MOLECULE_RELEASES="12 13" picks releases.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
  for d in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$d")")"); done
fi
read -r -a releases <<<"${MOLECULE_RELEASES:-12 13}"
export PATH="$root/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1 PY_COLORS=0 NO_COLOR=1

for scenario in "${scenarios[@]}"; do
  [[ -f molecule/$scenario/molecule.yml ]] || { echo "molecule.sh: no scenario '$scenario' (see molecule/*/)" >&2; exit 2; }
done
bash scripts/docker-engine.sh || exit 1
bash docker/test-host/build.sh "${releases[@]}" || exit 1
mkdir -p var/molecule

run_one() {  # scenario release: the test sequence, timing converge and idempotence
  local scenario=$1 release=$2 start phase status=0
  export MOLECULE_DEBIAN=$release MOLECULE_EPHEMERAL_DIRECTORY=$root/var/molecule/$scenario-debian$release
  local times=var/molecule/$scenario-debian$release.times
  : >"$times"
  for phase in destroy syntax create prepare converge idempotence side-effect verify; do
    echo "### molecule $phase -s $scenario (Debian $release)"
    start=$(date +%s%N)
    molecule "$phase" -s "$scenario" || { status=1; echo "### FAILED: $phase"; break; }
    echo "$phase $((($(date +%s%N) - start) / 1000000))" >>"$times"  # milliseconds
  done
  molecule destroy -s "$scenario" >/dev/null 2>&1
  return $status
}

failed=()
for scenario in "${scenarios[@]}"; do
  pids=()
  for release in "${releases[@]}"; do
    log=var/molecule/$scenario-debian$release.log
    echo "=== molecule $scenario on Debian $release (log: $log)"
    run_one "$scenario" "$release" >"$log" 2>&1 &
    pids+=("$!")
  done
  for i in "${!pids[@]}"; do
    release=${releases[$i]}
    log=var/molecule/$scenario-debian$release.log
    if wait "${pids[$i]}"; then
      echo "--- $scenario on Debian $release: passed ($(tr '\n' ' ' <"var/molecule/$scenario-debian$release.times"))"
    else
      echo "--- $scenario on Debian $release: FAILED; the end of $log:" >&2
      grep -v '^\s*$' "$log" | tail -80 >&2
      failed+=("$scenario/debian$release")
    fi
  done
done
.venv/bin/python scripts/deploy_times.py var/molecule/*.times
if ((${#failed[@]})); then
  # Last, so that a CI report which keeps only the end of the output still shows why.
  for f in "${failed[@]}"; do
    echo "--- why $f failed (var/molecule/${f/\//-}.log):" >&2
    grep -E -A14 '^(fatal|failed): ' "var/molecule/${f/\//-}.log" | cut -c1-400 | head -60 >&2
  done
  echo "molecule FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "molecule passed: ${scenarios[*]} on Debian ${releases[*]}"
