"""Look at the project's files on the controller before any host changes: its built
distribution holds the project's package, and its pinned requirements name what the
deploy will run. Standard library only (the controller runs it with Ansible's Python).
The preflight runs it; the pins are read by release.py's reader, the one the release
archive is built with, so what is checked is what the hosts get.

    project_check.py --requirements FILE [--dist FILE --module NAME] [--needs NAME ...]

Prints one line per problem, naming the variable and the fix, and exits 1 when there is
any; exits 0 and prints nothing otherwise. ``--needs`` lists distribution names the
requirements must pin (any one of a|b alternatives), as the inventory implies them.
"""

from __future__ import annotations

import argparse
import re
import sys
import tarfile
import zipfile
from pathlib import Path

from release import MissingInclude, inline_includes  # beside this file

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(path: Path) -> set[str]:
    """Distribution names a pip requirements file pins, its -r includes inlined."""
    names = set()
    for raw in inline_includes(path).decode().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = NAME.match(line)
        if match:
            names.add(canonical(match.group(1)))
    return names


def dist_members(path: Path) -> list[str]:
    if path.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    with tarfile.open(path) as archive:
        return archive.getnames()


def check(args) -> list[str]:
    problems = []
    requirements = Path(args.requirements)
    names: set[str] = set()
    try:
        names = requirement_names(requirements)
    except OSError as error:
        problems.append(f"django_project_requirements {requirements} cannot be read ({error.strerror}).")
    except MissingInclude as error:
        problems.append(f"django_project_requirements: {error}; a -r include must be a file beside it.")
    missing = [need for need in args.needs if not set(map(canonical, need.split("|"))) & names]
    if names and missing:
        problems.append(
            f"django_project_requirements {requirements} pins none of {', '.join(missing)}, which this inventory"
            " runs: pin them there (the virtualenv gets nothing else), or do not run it (Flower:"
            " celery_flower_enabled: false)."
        )
    if args.dist:
        dist = Path(args.dist)
        try:
            members = dist_members(dist)
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
            problems.append(f"django_project_dist {dist} is no readable wheel or sdist ({error}): build it again.")
            members = None
        if members is not None:
            package = args.module.replace(".", "/")
            found = any(
                member == f"{package}/__init__.py" or member.endswith(f"/{package}/__init__.py") for member in members
            )
            if not found:
                problems.append(
                    f"django_project_dist {dist.name} holds no package {args.module} (django_project_module): build the"
                    " wheel of the project that has it, or set django_project_module to the package it holds."
                )
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requirements", required=True)
    parser.add_argument("--dist", default="")
    parser.add_argument("--module", default="")
    parser.add_argument("--needs", nargs="*", default=[])
    problems = check(parser.parse_args(argv))
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
