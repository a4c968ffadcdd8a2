"""Build the release archive the django role deploys: the project's directory plus its pinned requirements.

The archive is reproducible (sorted entries, fixed mtimes and owners, no gzip
timestamp), so its sha256 changes exactly when the code or the pins change: the
role names the release after it, and an unchanged re-run copies nothing. The
controller runs it with Ansible's own Python (standard library only).

    release.py SRC_DIR REQUIREMENTS_FILE NAME OUT_DIR
        -> prints {"path": ..., "sha256": ..., "requirements_sha1": ...}
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

SKIP_DIRS = {"__pycache__", "var", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".sqlite3"}


def release_files(src: Path, requirements: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        skipped = any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts)
        if skipped or path.suffix in SKIP_SUFFIXES or not path.is_file():
            continue
        files.append((str(rel), path))
    # The pins travel inside the release, under one name whatever the project calls them.
    files = [entry for entry in files if entry[0] != "requirements.txt"]
    files.append(("requirements.txt", requirements))
    return sorted(files)


def build(src: Path, requirements: Path, name: str, out_dir: Path) -> dict:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, path in release_files(src, requirements):
            info = tarfile.TarInfo(member)
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
    target = out_dir / f"{name}-{sha[:16]}.tar.gz"
    if not target.exists():
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(packed)
        tmp.replace(target)
    return {
        "path": str(target),
        "sha256": sha,
        # The same digest Ansible's stat computes for the virtualenv's stamp.
        "requirements_sha1": hashlib.sha1(requirements.read_bytes()).hexdigest(),  # noqa: S324
    }


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.exit("usage: release.py SRC_DIR REQUIREMENTS_FILE NAME OUT_DIR")
    src, requirements, name, out_dir = Path(argv[0]), Path(argv[1]), argv[2], Path(argv[3])
    if not (src / "manage.py").is_file():
        sys.exit(f"release.py: {src} has no manage.py: django_project_src must be the project's directory")
    if not requirements.is_file():
        sys.exit(f"release.py: no requirements file {requirements} (django_project_requirements)")
    print(json.dumps(build(src, requirements, name, out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
