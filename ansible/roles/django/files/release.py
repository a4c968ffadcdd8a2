"""Build the release archive the django role deploys: the project (its directory, or a wheel or sdist
built from it), its pinned requirements and the local Python packages it needs that no index serves
(django_project_packages).

The archive is reproducible (sorted entries, fixed mtimes and owners, no gzip
timestamp), so its sha256 changes exactly when the code or the pins change: the
role names the release after it, and an unchanged re-run copies nothing. The
controller runs it with Ansible's own Python (standard library only).

    release.py SRC REQUIREMENTS_FILE NAME OUT_DIR [PACKAGE_DIR ...]
        -> prints {"path": ..., "sha256": ..., "requirements_sha1": ..., "packages": [...]}

SRC is the project's directory (the one with manage.py), unpacked as the release, or a
built distribution of it (django_project_dist: a wheel, or an sdist pip builds on the
host): the release then holds ``dist/<its file name>`` instead of the code, installed
into the virtualenv like a package, and the programs import the project from there.

Each PACKAGE_DIR (a directory with a pyproject.toml) travels as
``packages/<its name>/`` in the archive; the archived requirements.txt ends with
one comment line per package naming its content's sha256, so the virtualenv's
stamp (the sha1 of that file) changes when a package's code does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
from pathlib import Path

SKIP_DIRS = {"__pycache__", "var", ".pytest_cache", ".ruff_cache", "build", "dist"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".sqlite3"}
# What pip installs as a built distribution: a wheel, or an sdist (built on the host).
DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def tree_files(src: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        skipped = any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info") for part in rel.parts)
        if skipped or path.suffix in SKIP_SUFFIXES or not path.is_file():
            continue
        files.append((str(rel), path))
    return files


def tree_sha256(files: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for member, path in sorted(files):
        digest.update(member.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class MissingInclude(Exception):
    """A ``-r`` include names a file that is not there."""


def inline_includes(requirements: Path, seen: frozenset = frozenset()) -> bytes:
    """The requirements file with each ``-r other.txt`` replaced by that file's lines: on the
    host, pip gets only the archived requirements.txt, never the files beside it. The one
    reader of a project's pins: the preflight's project_check.py reads them through it too."""
    path = requirements.resolve()
    if path in seen:
        return b""
    out = b""
    for line in path.read_bytes().splitlines(keepends=True):
        include = re.match(rb"^\s*(-r|--requirement)[=\s]+(\S+)\s*$", line)
        if include:
            included = path.parent / include.group(2).decode()
            if not included.is_file():
                raise MissingInclude(f"{requirements} includes {included}, which does not exist")
            out += b"# from " + include.group(2) + b"\n" + inline_includes(included, seen | {path})
            continue
        out += line if line.endswith(b"\n") else line + b"\n"
    return out


def release_files(src: Path, requirements: Path, packages: list[Path]) -> tuple[list[tuple[str, object]], bytes]:
    """(archive member, Path or bytes) pairs, and the archived requirements.txt."""
    # The pins travel inside the release, under one name whatever the project calls them.
    files: list[tuple[str, object]] = []
    if src.is_dir():
        files += [entry for entry in tree_files(src) if entry[0] != "requirements.txt"]
    pins = inline_includes(requirements)
    for package in packages:
        members = tree_files(package)
        files += [(f"packages/{package.name}/{member}", path) for member, path in members]
        pins += f"# local package packages/{package.name} sha256={tree_sha256(members)}\n".encode()
    if src.is_file():
        # A wheel rebuilt under the same version is new code: its hash, not its name, says so.
        files.append((f"dist/{src.name}", src))
        pins += f"# project dist/{src.name} sha256={hashlib.sha256(src.read_bytes()).hexdigest()}\n".encode()
    files.append(("requirements.txt", pins))
    return sorted(files, key=lambda entry: entry[0]), pins


def build(src: Path, requirements: Path, name: str, out_dir: Path, packages: list[Path] = ()) -> dict:
    raw = io.BytesIO()
    files, pins = release_files(src, requirements, list(packages))
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, source in files:
            info = tarfile.TarInfo(member)
            data = source if isinstance(source, bytes) else source.read_bytes()
            info.size = len(data)
            executable = not isinstance(source, bytes) and source.stat().st_mode & 0o111
            info.mode = 0o755 if executable else 0o644
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
        "requirements_sha1": hashlib.sha1(pins).hexdigest(),  # noqa: S324
        # What pip installs after the pins, in this order: the project's own distribution
        # last, after the local packages it may import.
        "packages": [f"packages/{package.name}" for package in packages]
        + ([f"dist/{src.name}"] if src.is_file() else []),
    }


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        sys.exit("usage: release.py SRC REQUIREMENTS_FILE NAME OUT_DIR [PACKAGE_DIR ...]")
    src, requirements, name, out_dir = Path(argv[0]), Path(argv[1]), argv[2], Path(argv[3])
    packages = [Path(arg) for arg in argv[4:]]
    for package in packages:
        if not (package / "pyproject.toml").is_file() and not (package / "setup.py").is_file():
            sys.exit(
                f"release.py: {package} has no pyproject.toml or setup.py: each django_project_packages entry "
                "must be a Python package's directory"
            )
    names = [package.name for package in packages]
    if len(set(names)) != len(names):
        sys.exit(f"release.py: two django_project_packages directories share a name: {sorted(names)}")
    if not src.exists():
        sys.exit(f"release.py: {src} does not exist: django_project_src (a directory) or django_project_dist (a wheel)")
    if src.is_file() and not src.name.endswith(DIST_SUFFIXES):
        sys.exit(
            f"release.py: {src} is neither a project directory with manage.py nor a wheel (.whl) or sdist "
            "(.tar.gz, .zip): django_project_dist must be a file pip installs"
        )
    if not src.is_file() and not (src / "manage.py").is_file():
        sys.exit(f"release.py: {src} has no manage.py: django_project_src must be the project's directory")
    if not requirements.is_file():
        sys.exit(f"release.py: no requirements file {requirements} (django_project_requirements)")
    try:
        print(json.dumps(build(src, requirements, name, out_dir, packages)))
    except MissingInclude as error:
        sys.exit(f"release.py: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
