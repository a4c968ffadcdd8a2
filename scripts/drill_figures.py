"""Fold the cluster drills' figures (var/drills/cluster-*.json, written by Molecule's side
effect) into docs/drills.json and the README's table between its drills markers.

Each drill file is replaced as a whole by a newer run; drills that did not run this time keep
their last figures and the time they were measured. With no files, only the README is
rewritten from the JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from readme_block import replace_block

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "drills.json"
DRILLS = {
    "redis-master": "Redis master's host killed under a task load",
    "worker-host": "worker host killed under a task load",
    "beat-host": "beat host (lock holder) cut off and killed; the standby takes over",
    "web-host": "web host cut off and killed under a request loop through the front",
    "rolling-deploy": "rolling deploy (deploy_serial=1) under requests and tasks",
}


def collect() -> dict:
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    runs = data.get("drills", {})
    for name in DRILLS:
        path = ROOT / "var" / "drills" / f"cluster-{name}.json"
        if path.exists():
            measured = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
            runs[name] = {**json.loads(path.read_text()), "measured_at": measured}
    return {"what": "molecule/cluster's drills (Debian 12): what each counted", "drills": runs}


def row(name: str, f: dict) -> str:
    """One line per drill: tasks enqueued, completed, duplicated, lost; requests failed; the drill's own time."""
    # The rolling deploy nests its two counts; the web drill's file is the request count itself.
    tasks = f.get("tasks", f) if name != "web-host" else {}
    requests = {"web-host": f, "rolling-deploy": f.get("requests", {})}.get(name, {})
    if name == "beat-host":
        task_cell = f"{f['runs']} periodic runs, {f['duplicated']} sent twice"
        extra = f"standby's first run {f['next_run_after_s']} s after the loss (bound {f['bound_s']} s)"
    else:
        task_cell = (
            f"{tasks['enqueued']} enqueued, {tasks['completed']} completed, {tasks['duplicated']} duplicated,"
            f" {tasks['lost']} lost"
            if tasks
            else "-"
        )
        extra = {
            "redis-master": f"promoted within {f.get('promoted_within_s')} s, {f.get('refused', 0)} sends refused",
            "worker-host": f"{f.get('interrupted', 0)} cut off and run again",
            "web-host": f"slowest answer {requests.get('slowest_s')} s",
            "rolling-deploy": f"deploy took {f.get('deploy_s')} s",
        }[name]
    request_cell = f"{requests['failed']} of {requests['requests']}" if requests else "-"
    return f"| {DRILLS[name]} | {task_cell} | {request_cell} | {extra} | {f['measured_at']} |"


def main() -> None:
    data = collect()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    rows = [row(name, data["drills"][name]) for name in DRILLS if name in data["drills"]]
    for line in rows:
        print("drills:", line)
    replace_block(
        ROOT / "README.md",
        "drills",
        "docs/drills.json",
        ["| drill | tasks | requests failed | also | measured |", "|---|---|---|---|---|", *rows],
    )


if __name__ == "__main__":
    main()
