#!/usr/bin/env bash
# Molecule on both Debian releases.
#   molecule.sh [SCENARIO ...]        (default: every scenario under molecule/)
# Each (scenario, release) is a job: its own containers, ephemeral directory and log
# (var/molecule/<scenario>-debian<release>.log). Jobs run MOLECULE_SLOTS (2: the cores of
# the machines we test on) at a time, longest first; a scenario whose molecule.yml says
# "# molecule.sh slots: 2" (many hosts) takes every slot and runs alone. Each job runs
# the test sequence (destroy, syntax, create, prepare, converge, idempotence, side-effect,
# verify, destroy) phase by phase, so converge and the idempotent re-run are timed
# (docs/deploy-times.json, which make bench reads).
#
# Knobs, all environment variables:
#   (a scenario whose molecule.yml says "# molecule.sh on-demand: <why>" runs only when named)
#   MOLECULE_RELEASES="12 13"  the releases; a scenario's "# molecule.sh releases: 12"
#                              narrows them (the cluster runs on Debian 12 in make test).
#   MOLECULE_DRILLS            the side_effect's drills: "deploy" (redeploys, restarts and
#                              refusals: what Ansible does), "outage" (supervisord killed,
#                              the broker restarted under load: what the release's servers
#                              do) or "all". Unset, Debian 12 runs all of them and Debian
#                              13 the outage drills: the outages on both releases' servers
#                              (Redis 7 and 8, PostgreSQL 15 and 17), the redeploys once.
#                              A scenario's "# molecule.sh drills: outage" narrows its own
#                              default (db-broker: default runs the same redeploys on Redis).
#   MOLECULE_JOB_MINUTES=30    a job still running then is stopped and reported as failed,
#                              with its log's end (a scenario's "# molecule.sh minutes: N"
#                              overrides it): a hang shows up as a named failure, not as
#                              CI's own time limit with no word of where it stood.
# While jobs run, a line every 5 minutes says which phase each one is in.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
  # A scenario whose molecule.yml says "# molecule.sh on-demand: <why>" runs only when named.
  for d in molecule/*/molecule.yml; do
    grep -q '^# molecule.sh on-demand: ' "$d" && continue
    scenarios+=("$(basename "$(dirname "$d")")")
  done
fi
read -r -a releases <<<"${MOLECULE_RELEASES:-12 13}"
slots=${MOLECULE_SLOTS:-2}
export PATH="$root/.venv/bin:$PATH" ANSIBLE_NOCOLOR=1 PY_COLORS=0 NO_COLOR=1

for scenario in "${scenarios[@]}"; do
  [[ -f molecule/$scenario/molecule.yml ]] || { echo "molecule.sh: no scenario '$scenario' (see molecule/*/)" >&2; exit 2; }
done
case ${MOLECULE_DRILLS:-} in '' | deploy | outage | all) ;; *)
  echo "molecule.sh: MOLECULE_DRILLS is '$MOLECULE_DRILLS'; give deploy, outage or all (or leave it unset)" >&2
  exit 2
  ;;
esac
bash scripts/docker-engine.sh || exit 1
bash docker/test-host/build.sh "${releases[@]}" || exit 1
mkdir -p var/molecule
started=$(date +%s)

stamp() { local s=$(($(date +%s) - started)); printf '[%s +%02d:%02d]' "$(date +%T)" $((s / 60)) $((s % 60)); }
setting() { sed -n "s/^# molecule.sh $2: //p" "molecule/$1/molecule.yml"; }

run_one() {  # scenario release: the test sequence, timing converge and idempotence
  local scenario=$1 release=$2 start phase status=0 left
  local base=var/molecule/$scenario-debian$release minutes
  minutes=$(setting "$scenario" minutes)
  local deadline=$(($(date +%s) + 60 * ${minutes:-${MOLECULE_JOB_MINUTES:-30}}))
  export MOLECULE_DEBIAN=$release MOLECULE_EPHEMERAL_DIRECTORY=$root/$base
  local own_drills
  own_drills=$(setting "$scenario" drills)
  export MOLECULE_DRILLS=${MOLECULE_DRILLS:-${own_drills:-$([[ $release == 12 ]] && echo all || echo outage)}}
  : >"$base.times"
  for phase in destroy syntax create prepare converge idempotence side-effect verify; do
    echo "$phase" >"$base.phase"
    echo "### molecule $phase -s $scenario (Debian $release, drills: $MOLECULE_DRILLS) at $(date +%T)"
    start=$(date +%s%N)
    left=$((deadline - $(date +%s)))
    if ((left <= 0)); then status=124; else timeout -k 30 "$left" molecule "$phase" -s "$scenario"; status=$?; fi
    if ((status)); then
      ((status == 124 || status == 137)) && echo "### TIMED OUT in $phase: the job's time limit passed"
      echo "### FAILED: $phase"
      break
    fi
    echo "$phase $((($(date +%s%N) - start) / 1000000))" >>"$base.times"  # milliseconds
  done
  echo "destroy" >"$base.phase"
  timeout -k 30 600 molecule destroy -s "$scenario" >/dev/null 2>&1
  rm -f "$base.phase"
  return $((status ? 1 : 0))
}

# The jobs, longest first (most hosts, then the scenario order), with their slot counts.
jobs=()
for scenario in "${scenarios[@]}"; do
  own=$(setting "$scenario" releases)
  for release in "${releases[@]}"; do
    [[ -z $own || " $own " == *" $release "* ]] || continue
    jobs+=("$(setting "$scenario" slots | grep . || echo 1) $scenario $release")
  done
done
mapfile -t jobs < <(printf '%s\n' "${jobs[@]}" | sort -s -r -n -k1,1)

declare -A pids=() weights=()
failed=()
busy=0
reap() {  # wait for any job to end, report it, free its slots
  local pid job scenario release log
  wait -n -p pid "${!pids[@]}"
  local rc=$?
  job=${pids[$pid]}
  read -r scenario release <<<"$job"
  log=var/molecule/$scenario-debian$release.log
  if ((rc == 0)); then
    echo "--- $(stamp) $scenario on Debian $release: passed ($(tr '\n' ' ' <"var/molecule/$scenario-debian$release.times"))"
  else
    echo "--- $(stamp) $scenario on Debian $release: FAILED; the end of $log:" >&2
    grep -v '^\s*$' "$log" | tail -80 >&2
    failed+=("$scenario/debian$release")
  fi
  busy=$((busy - weights[$pid]))
  unset "pids[$pid]" "weights[$pid]"
}
heartbeat() {
  while sleep 300; do
    local line="" f
    for f in var/molecule/*.phase; do
      [[ -f $f ]] && line+=" $(basename "$f" .phase):$(cat "$f" 2>/dev/null)"
    done
    [[ -n $line ]] && echo "... $(stamp) running:$line"
  done
}
rm -f var/molecule/*.phase
heartbeat &
heartbeat_pid=$!
trap 'kill $heartbeat_pid 2>/dev/null' EXIT

for job in "${jobs[@]}"; do
  read -r weight scenario release <<<"$job"
  ((weight > slots)) && weight=$slots
  while ((busy + weight > slots)); do reap; done
  log=var/molecule/$scenario-debian$release.log
  echo "=== $(stamp) molecule $scenario on Debian $release (log: $log)"
  run_one "$scenario" "$release" >"$log" 2>&1 &
  pids[$!]="$scenario $release"
  weights[$!]=$weight
  busy=$((busy + weight))
done
while ((${#pids[@]})); do reap; done

.venv/bin/python scripts/deploy_times.py var/molecule/*.times
.venv/bin/python scripts/drill_figures.py
echo "molecule took $(stamp)"
if ((${#failed[@]})); then
  # Last, so that a CI report which keeps only the end of the output still shows why.
  for f in "${failed[@]}"; do
    echo "--- why $f failed (var/molecule/${f/\//-}.log):" >&2
    grep -E -A14 '^(fatal|failed): |^### (TIMED OUT|FAILED)' "var/molecule/${f/\//-}.log" | cut -c1-400 | head -60 >&2
  done
  echo "molecule FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "molecule passed: ${scenarios[*]} on Debian ${releases[*]}"
