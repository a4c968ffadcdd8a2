"""Fold the per-run phase times of scripts/molecule.sh into docs/deploy-times.json.

Each input file is var/molecule/<scenario>-debian<release>.times with lines
"<phase> <milliseconds>". Only complete converge/idempotence pairs are recorded;
results of earlier runs for other scenarios or releases are kept. The README's
table between its deploy-times markers is rewritten from the JSON (with no
arguments, only that happens).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from readme_block import replace_block

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "deploy-times.json"
TARGETS = {"converge_s": 300, "idempotence_s": 60}


def main(paths: list[str]) -> None:
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    runs = data.get("runs", {})
    for name in paths:
        path = Path(name)
        phases = dict(line.split() for line in path.read_text().splitlines() if line.strip())
        if "converge" not in phases or "idempotence" not in phases:
            continue
        runs[path.stem] = {
            "converge_s": round(int(phases["converge"]) / 1000, 1),
            "idempotence_s": round(int(phases["idempotence"]) / 1000, 1),
            "verify_s": round(int(phases.get("verify", 0)) / 1000, 1) or None,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime)),
        }
    # A scenario that no longer exists (molecule/<name>/) has no figures to show.
    runs = {run: f for run, f in runs.items() if (ROOT / "molecule" / run.rsplit("-debian", 1)[0]).is_dir()}
    data = {
        "what": "Molecule converge (first deploy on a fresh Debian container) and idempotent re-run, seconds",
        "targets": TARGETS,
        "runs": dict(sorted(runs.items())),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    rows = []
    for run, figures in data["runs"].items():
        met = all(figures[k] <= v for k, v in TARGETS.items())
        print(
            f"deploy-times: {run}: converge {figures['converge_s']} s, re-run {figures['idempotence_s']} s"
            f" ({'targets met' if met else 'TARGET MISSED'})"
        )
        verdict = "met" if met else "**not met**"
        rows.append(
            f"| {run} | {figures['converge_s']} | {figures['idempotence_s']} | {verdict} | {figures['measured_at']} |"
        )
    update_readme(rows)


def update_readme(rows: list[str]) -> None:
    """Rewrite the table between the README's deploy-times markers (if present)."""
    replace_block(
        ROOT / "README.md",
        "deploy-times",
        "docs/deploy-times.json",
        [
            f"Targets: converge <= {TARGETS['converge_s']} s, idempotent re-run <= {TARGETS['idempotence_s']} s.",
            "",
            "| scenario / release | converge s | re-run s | targets | measured |",
            "|---|---|---|---|---|",
            *rows,
        ],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
