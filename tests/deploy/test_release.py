"""The release archive (the django role's files/release.py): named after its content, local packages inside."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "ansible" / "roles" / "django" / "files" / "release.py"


def project(where: Path) -> tuple[Path, Path, Path]:
    src = where / "mysite"
    src.mkdir(parents=True)
    (src / "manage.py").write_text("print('manage')\n")
    pins = where / "requirements.txt"
    pins.write_text("Django==5.2.19\n")
    package = where / "libs" / "mylib"
    (package / "src" / "mylib").mkdir(parents=True)
    (package / "pyproject.toml").write_text("[project]\nname = 'mylib'\nversion = '1.0'\n")
    (package / "src" / "mylib" / "__init__.py").write_text("VALUE = 1\n")
    (package / "src" / "mylib.egg-info").mkdir()  # a developer's editable install leaves this
    (package / "src" / "mylib.egg-info" / "PKG-INFO").write_text("local build state\n")
    return src, pins, package


def build(src: Path, pins: Path, out: Path, *packages: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, str(RELEASE), str(src), str(pins), "mysite", str(out), *map(str, packages)]
    return subprocess.run(argv, capture_output=True, text=True)


def refused(done: subprocess.CompletedProcess) -> str:
    """The build failed: what it said, for the test to find the problem named there."""
    assert done.returncode != 0, done.stdout
    return done.stderr


def test_a_local_package_travels_in_the_release_and_its_hash_in_the_pins(tmp_path):
    src, pins, package = project(tmp_path)
    done = build(src, pins, tmp_path / "out", package)
    assert done.returncode == 0, done.stderr
    release = json.loads(done.stdout)
    assert release["packages"] == ["packages/mylib"]
    with tarfile.open(release["path"]) as tar:
        names = tar.getnames()
        archived_pins = tar.extractfile("requirements.txt").read().decode()
    assert "packages/mylib/pyproject.toml" in names and "packages/mylib/src/mylib/__init__.py" in names
    assert not [name for name in names if "egg-info" in name]
    assert archived_pins.startswith("Django==5.2.19\n")
    assert "# local package packages/mylib sha256=" in archived_pins


def test_a_change_in_a_local_package_makes_a_new_release_and_reinstalls_the_virtualenv(tmp_path):
    src, pins, package = project(tmp_path)
    first = json.loads(build(src, pins, tmp_path / "out", package).stdout)
    again = json.loads(build(src, pins, tmp_path / "out", package).stdout)
    assert again == first  # reproducible: an unchanged project is the same release
    (package / "src" / "mylib" / "__init__.py").write_text("VALUE = 2\n")
    changed = json.loads(build(src, pins, tmp_path / "out", package).stdout)
    assert changed["sha256"] != first["sha256"]
    # The virtualenv's stamp is this digest: a changed package is installed again.
    assert changed["requirements_sha1"] != first["requirements_sha1"]


def test_a_package_directory_without_a_build_file_is_refused_by_name(tmp_path):
    src, pins, _ = project(tmp_path)
    stderr = refused(build(src, pins, tmp_path / "out", tmp_path / "mysite"))
    assert "has no pyproject.toml or setup.py: each django_project_packages entry" in stderr


def wheel(where: Path, version: str = "1.0") -> Path:
    """A built distribution of the project, as `pip wheel` or `python -m build` leaves it (the archive's
    content is what matters here: release.py treats the file as opaque bytes)."""
    where.mkdir(parents=True, exist_ok=True)
    dist = where / f"mysite-{version}-py3-none-any.whl"
    dist.write_bytes(f"wheel of mysite {version}".encode())
    return dist


def test_a_built_wheel_is_the_release_with_its_pins_and_no_project_directory(tmp_path):
    _, pins, package = project(tmp_path)
    dist = wheel(tmp_path / "dist")
    done = build(dist, pins, tmp_path / "out", package)
    assert done.returncode == 0, done.stderr
    release = json.loads(done.stdout)
    # The project's own distribution installs last, after the packages it may import.
    assert release["packages"] == ["packages/mylib", f"dist/{dist.name}"]
    with tarfile.open(release["path"]) as tar:
        names = tar.getnames()
        archived_pins = tar.extractfile("requirements.txt").read().decode()
        assert tar.extractfile(f"dist/{dist.name}").read() == dist.read_bytes()
    assert "manage.py" not in names
    assert f"# project dist/{dist.name} sha256=" in archived_pins


def test_a_new_wheel_makes_a_new_release_and_reinstalls_the_virtualenv(tmp_path):
    _, pins, _ = project(tmp_path)
    first = json.loads(build(wheel(tmp_path / "a"), pins, tmp_path / "out").stdout)
    assert json.loads(build(wheel(tmp_path / "a"), pins, tmp_path / "out").stdout) == first
    (tmp_path / "a" / "mysite-1.0-py3-none-any.whl").write_bytes(b"rebuilt under the same version")
    changed = json.loads(build(tmp_path / "a" / "mysite-1.0-py3-none-any.whl", pins, tmp_path / "out").stdout)
    assert changed["sha256"] != first["sha256"]
    assert changed["requirements_sha1"] != first["requirements_sha1"]


@pytest.mark.parametrize("name", ["mysite-1.0.tar.gz", "mysite-1.0.zip"])
def test_an_sdist_is_a_release_source_too(tmp_path, name):
    _, pins, _ = project(tmp_path)
    dist = tmp_path / name
    dist.write_bytes(b"sdist")
    done = build(dist, pins, tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["packages"] == [f"dist/{name}"]


def test_a_file_that_is_no_built_distribution_is_refused_by_name(tmp_path):
    _, pins, _ = project(tmp_path)
    other = tmp_path / "mysite.txt"
    other.write_text("not a distribution")
    stderr = refused(build(other, pins, tmp_path / "out"))
    assert (
        f"{other} is neither a project directory with manage.py nor a wheel (.whl) or sdist (.tar.gz, .zip)" in stderr
    )


def test_requirements_that_include_others_travel_whole(tmp_path):
    src, _, _ = project(tmp_path)
    (tmp_path / "base.txt").write_text("Django==5.2.19\n")
    pins = tmp_path / "prod.txt"
    pins.write_text("-r base.txt\ngunicorn==23.0.0\n")
    release = json.loads(build(src, pins, tmp_path / "out").stdout)
    with tarfile.open(release["path"]) as tar:
        archived = tar.extractfile("requirements.txt").read().decode()
    # pip on the host has only this file: the included pins are in it, the include is not.
    assert "Django==5.2.19" in archived and "gunicorn==23.0.0" in archived and "-r " not in archived


def test_a_missing_include_is_named_and_no_archive_is_written(tmp_path):
    src, _, _ = project(tmp_path)
    pins = tmp_path / "prod.txt"
    pins.write_text("-r base.txt\n")
    stderr = refused(build(src, pins, tmp_path / "out"))
    assert f"release.py: {pins} includes {tmp_path / 'base.txt'}, which does not exist" in stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_wheel_is_named_as_missing(tmp_path):
    _, pins, _ = project(tmp_path)
    stderr = refused(build(tmp_path / "dist" / "nope.whl", pins, tmp_path / "out"))
    assert f"release.py: {tmp_path / 'dist' / 'nope.whl'} does not exist" in stderr
