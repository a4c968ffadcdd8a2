#!/usr/bin/env bash
# Run Molecule scenarios on both Debian releases, the two releases side by side.
#   molecule.sh [-c COMMAND] [SCENARIO ...]     (default: test, every scenario)
# Each (scenario, release) gets its own ephemeral directory and container, and
# its log in var/molecule/<scenario>-debian<release>.log. Converge and
# idempotent re-run times go to docs/deploy-times.json (make bench reads it).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
command=test
if [[ ${1:-} == -c ]]; then command=$2; shift 2; fi
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(default db-broker)
releases=(${MOLECULE_RELEASES:-12 13})
export PATH="$root/.venv/bin:$PATH"

bash scripts/docker-engine.sh || exit 1
bash docker/test-host/build.sh "${releases[@]}" || exit 1
mkdir -p var/molecule

failed=()
for scenario in "${scenarios[@]}"; do
  [[ -f molecule/$scenario/molecule.yml ]] || { echo "molecule.sh: no scenario '$scenario' (molecule/*/)" >&2; exit 2; }
  pids=()
  for release in "${releases[@]}"; do
    log=var/molecule/$scenario-debian$release.log
    echo "=== molecule $command -s $scenario on Debian $release (log: $log) ==="
    (
      export MOLECULE_DEBIAN=$release MOLECULE_EPHEMERAL_DIRECTORY=$root/var/molecule/$scenario-debian$release
      export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks PROFILE_TASKS_TASK_OUTPUT_LIMIT=0
      exec molecule "$command" -s "$scenario"
    ) >"$log" 2>&1 &
    pids+=("$!:$scenario:$release")
  done
  for entry in "${pids[@]}"; do
    IFS=: read -r pid sc rel <<<"$entry"
    if wait "$pid"; then
      echo "--- $sc on Debian $rel: passed"
    else
      echo "--- $sc on Debian $rel: FAILED; the end of its log:" >&2
      grep -v '^\s*$' "var/molecule/$sc-debian$rel.log" | tail -60 >&2
      failed+=("$sc/debian$rel")
    fi
  done
done
.venv/bin/python scripts/deploy_times.py var/molecule/*.log || true
if ((${#failed[@]})); then
  echo "molecule FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "molecule passed: ${scenarios[*]} on Debian ${releases[*]}"
