"""The own-project scenario's generated project pins what it deploys: a dependency the companion
package declares and the pins leave out is missing on the host (ModuleNotFoundError at check)."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_make_project():
    spec = importlib.util.spec_from_file_location("make_project", ROOT / "molecule" / "own-project" / "make_project.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_companion_variant_pins_every_dependency_the_companion_package_declares():
    make_project = load_make_project()
    pinned = {make_project.name(line) for line in make_project.pins(companion=True).splitlines() if "==" in line}
    project = tomllib.loads((ROOT / "packages" / "django-celery-deploy" / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    assert declared <= pinned, sorted(declared - pinned)
