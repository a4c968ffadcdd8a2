"""scripts/bootstrap.sh installs (as root) or asks for (otherwise) only what the make target needs.

The script runs from a temporary copy of the repository's skeleton, with a ready
.venv stamp and fake `dpkg-query`, `id` and `apt-get` first on PATH: nothing is
installed, and the real .venv is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ["python3-venv"]
TEST = ["redis-server", "postgresql", "python3-venv", "procps", "git"]
STACK = ["docker-compose", "vagrant", "vagrant-libvirt", "chromium", "chromium-driver"]

FAKE_DPKG_QUERY = """#!/bin/sh
# dpkg-query -W -f='${Status}' PKG: installed when PKG is in $FAKE_INSTALLED.
for last; do :; done
for pkg in $FAKE_INSTALLED; do
  [ "$pkg" = "$last" ] && { printf 'install ok installed'; exit 0; }
done
echo "dpkg-query: no packages found matching $last" >&2
exit 1
"""
FAKE_ID = """#!/bin/sh
[ "$1" = "-u" ] && { echo "$FAKE_UID"; exit 0; }
exit 1
"""
FAKE_APT_GET = """#!/bin/sh
echo "$*" >> "$FAKE_APT_LOG"
"""


@pytest.fixture
def checkout(tmp_path):
    """scripts/bootstrap.sh beside requirements/ and an up-to-date .venv, plus the fake commands."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "bootstrap.sh", repo / "scripts" / "bootstrap.sh")
    (repo / "requirements").mkdir()
    (repo / "requirements" / "dev.txt").write_text("pytest==0\n")
    (repo / "app").mkdir()
    (repo / "app" / "pyproject.toml").write_text("[project]\n")
    (repo / "packages" / "companion").mkdir(parents=True)
    (repo / "packages" / "companion" / "pyproject.toml").write_text("[project]\n")
    venv_bin = repo / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    stamp = subprocess.run(  # as the script computes it
        [
            "bash",
            "-c",
            "cat requirements/*.txt app/pyproject.toml packages/*/pyproject.toml | sha256sum | cut -d' ' -f1",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (repo / ".venv" / ".requirements.sha256").write_text(stamp)

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name, text in {"dpkg-query": FAKE_DPKG_QUERY, "id": FAKE_ID, "apt-get": FAKE_APT_GET}.items():
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    return repo, fake_bin, tmp_path / "apt.log"


def bootstrap(checkout, *args, uid: int, installed=()):
    repo, fake_bin, apt_log = checkout
    env = {
        **os.environ,
        "PATH": f"{fake_bin}:{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "FAKE_UID": str(uid),
        "FAKE_INSTALLED": " ".join(installed),
        "FAKE_APT_LOG": str(apt_log),
    }
    result = subprocess.run(
        ["bash", str(repo / "scripts" / "bootstrap.sh"), *args], env=env, capture_output=True, text=True, timeout=60
    )
    result.apt = apt_log.read_text().splitlines() if apt_log.exists() else []
    return result


def installed_by(result) -> list[str]:
    (install,) = [line for line in result.apt if line.startswith("install")]
    return [word for word in install.split() if not word.startswith("-") and word != "install"]


def test_bootstrap_for_make_run_succeeds_as_a_non_root_user_with_only_python3_venv_installed(checkout):
    result = bootstrap(checkout, "run", uid=1000, installed=RUN)
    assert result.returncode == 0, result.stderr
    assert result.apt == []
    assert "missing" not in result.stderr


def test_bootstrap_for_make_run_names_only_python3_venv_and_the_apt_get_command_when_it_is_missing(checkout):
    result = bootstrap(checkout, "run", uid=1000, installed=["redis-server"])
    assert result.returncode != 0
    assert "bootstrap (run): missing Debian packages: python3-venv\n" in result.stderr
    assert "\n  sudo apt-get install python3-venv\n" in result.stderr
    assert "redis-server" not in result.stderr and "postgresql" not in result.stderr
    assert result.apt == []


def test_bootstrap_for_make_test_names_exactly_the_missing_packages_as_a_non_root_user(checkout):
    result = bootstrap(checkout, "test", uid=1000, installed=["python3-venv", "redis-server", "procps", "git"])
    assert result.returncode != 0
    assert "bootstrap (test): missing Debian packages: postgresql\n" in result.stderr
    assert "\n  sudo apt-get install postgresql\n" in result.stderr


def test_bootstrap_for_make_test_as_root_installs_redis_postgresql_python3_venv_procps_and_git(checkout):
    result = bootstrap(checkout, "test", uid=0)
    assert result.returncode == 0, result.stderr
    assert sorted(installed_by(result)) == sorted(TEST)


def test_bootstrap_for_the_stack_tests_as_root_adds_compose_vagrant_libvirt_and_chromium(checkout):
    result = bootstrap(checkout, "stack", uid=0, installed=TEST)
    assert result.returncode == 0, result.stderr
    assert sorted(installed_by(result)) == sorted(STACK)


def test_bootstrap_refuses_an_unknown_target(checkout):
    result = bootstrap(checkout, "everything", uid=0)
    assert result.returncode == 2
    assert "usage: scripts/bootstrap.sh [run|test|stack]" in result.stderr
    assert result.apt == []


def make_dry_run(*goals: str) -> str:
    make = shutil.which("make")
    assert make, "make is not installed: `make test` itself needs it (apt-get install make)"
    result = subprocess.run(
        [make, "--no-print-directory", "-n", *goals], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


def bootstraps(dry_run: str) -> list[str]:
    return [line.split("bootstrap.sh", 1)[1].strip() for line in dry_run.splitlines() if "scripts/bootstrap.sh" in line]


def test_make_run_bootstraps_only_what_make_run_needs():
    assert bootstraps(make_dry_run("run")) == ["run"]


def test_make_test_still_bootstraps_the_servers_and_the_stack_packages():
    assert set(bootstraps(make_dry_run("test"))) >= {"test", "stack"}
