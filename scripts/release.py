"""Build the release archive the django role deploys: app/ plus its pinned requirements.

The archive is reproducible (sorted entries, fixed mtimes and owners, no gzip
timestamp), so its sha256 changes exactly when the code or the pins change: the
role names the release after it, and an unchanged re-run copies nothing.

    python scripts/release.py OUT_DIR   ->  prints {"path": ..., "sha256": ...}
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"__pycache__", "var", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".sqlite3"}


def release_files() -> list[tuple[str, Path]]:
    files = []
    for path in sorted((ROOT / "app").rglob("*")):
        rel = path.relative_to(ROOT / "app")
        if any(part in SKIP_DIRS for part in rel.parts) or path.suffix in SKIP_SUFFIXES or not path.is_file():
            continue
        files.append((str(rel), path))
    files.append(("requirements.txt", ROOT / "requirements" / "app.txt"))
    return sorted(files)


def build(out_dir: Path) -> dict:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in release_files():
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    packed = gzip.compress(raw.getvalue(), compresslevel=6, mtime=0)
    sha = hashlib.sha256(packed).hexdigest()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"clinic-{sha[:16]}.tar.gz"
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(packed)
        tmp.replace(target)
    return {"path": str(target), "sha256": sha}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: release.py OUT_DIR")
    print(json.dumps(build(Path(sys.argv[1]))))
