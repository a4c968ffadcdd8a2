"""The roles ship as the collection django_celery.deploy, and work installed from its tarball.

The tarball is built with `ansible-galaxy collection build`, installed offline into an
empty collections path, and used by a playbook in another directory that names only
FQCN roles, with none of this repository's ansible.cfg: what a team that installs the
collection gets. The playbook runs the collection's preflight (which reads the sibling
roles' rules from the installed copy) and the celery role's computed worker settings;
neither contacts a host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from inventory_facts import PROJECT, SECRETS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((ROOT / "ansible" / "galaxy.yml").read_text())


def run(args: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def clean_env(tmp_path: Path, **extra: str) -> dict:
    """No ANSIBLE_* of the caller and an empty ansible.cfg: nothing of this repository's config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    empty_cfg = tmp_path / "ansible.cfg"
    empty_cfg.write_text("[defaults]\n")
    env.update(ANSIBLE_CONFIG=str(empty_cfg), ANSIBLE_NOCOLOR="1", PATH=f"{BIN}:{env['PATH']}", **extra)
    return env


def build_and_install(tmp_path: Path) -> tuple[Path, Path]:
    env = clean_env(tmp_path)
    built = run([str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT / "ansible"),
                 "--output-path", str(tmp_path)], tmp_path, env)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    tarball = tmp_path / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    assert tarball.is_file(), built.stdout
    collections = tmp_path / "collections"
    installed = run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", str(tarball),
                     "-p", str(collections)], tmp_path, env)  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return tarball, collections


def test_the_tarball_holds_every_role_self_contained_with_license_and_readmes(tmp_path):
    tarball, _ = build_and_install(tmp_path)
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        license_text = tar.extractfile("LICENSE").read().decode()
    assert {"LICENSE", "README.md", "meta/runtime.yml", "MANIFEST.json"} <= names
    for role in ("preflight", "redis", "postgresql", "supervisor", "django", "celery"):
        assert f"roles/{role}/README.md" in names and f"roles/{role}/meta/argument_specs.yml" in names
        meta = yaml.safe_load((ROOT / "ansible" / "roles" / role / "meta" / "main.yml").read_text())
        assert meta["galaxy_info"]["license"] in GALAXY["license"]
    # The program templates and the release builder travel inside their roles.
    for kind in ("worker", "beat", "flower", "web", "supervisord"):
        assert f"roles/supervisor/templates/{kind}.conf.j2" in names
    assert "roles/django/files/release.py" in names
    # The launcher is a link to the companion package's env.py in the repository; the tarball holds the file.
    with tarfile.open(tarball) as tar:
        launcher = tar.getmember("roles/supervisor/files/django-celery-envfile.py")
        assert launcher.isfile()
        assert (
            tar.extractfile(launcher).read()
            == (ROOT / "packages" / "django-celery-deploy" / "src" / "django_celery_deploy" / "env.py").read_bytes()
        )
    assert GALAXY["license"] == ["MIT"] and license_text.startswith("MIT License")
    assert (ROOT / "LICENSE").read_text() == license_text


def write_play(where: Path, hosts: dict) -> tuple[Path, Path]:
    where.mkdir()
    play = [
        {
            "name": "Preflight from the installed collection",
            "hosts": "all",
            "gather_facts": False,
            "any_errors_fatal": True,
            "tasks": [
                {
                    "name": "Ensure the inventory passes every preflight rule.",
                    "ansible.builtin.import_role": {"name": "django_celery.deploy.preflight"},
                    "run_once": True,
                    "tags": ["always"],  # runs under --tags probe below
                }
            ],
        },
        {
            "name": "The celery role's worker settings from the installed collection",
            "hosts": "worker",
            "gather_facts": False,
            "vars": {"django_deployment": {"name": "clinic", "broker": "redis", "visibility_timeout": 2400}},
            "roles": ["django_celery.deploy.celery"],
            "post_tasks": [
                {"name": "Show them", "ansible.builtin.debug": {"var": "celery_workers"}, "tags": ["probe"]},
            ],
        },
    ]
    (where / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    (where / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return where / "play.yml", where / "hosts.yml"


def inventory(**app1_vars) -> dict:
    # Absolute paths: this playbook lives elsewhere, so playbook_dir is not the repository.
    project = json.loads(json.dumps(PROJECT).replace("{{ playbook_dir }}", str(ROOT)))
    host = {"ansible_connection": "local", **app1_vars}
    groups = {group: {"hosts": {"app1": host}} for group in ("redis", "db", "web", "worker")}
    groups["beat"] = {"hosts": {"app1": {"celery_beat_enabled": True, **host}}}
    return {"all": {"vars": {**SECRETS, **project}, "children": groups}}


def play_installed(tmp_path: Path, hosts: dict) -> subprocess.CompletedProcess:
    _, collections = build_and_install(tmp_path)
    play, hosts_file = write_play(tmp_path / "elsewhere", hosts)
    env = clean_env(tmp_path, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    # --tags probe: of the celery role only its argument check (tagged always) and the debug run.
    return run([str(BIN / "ansible-playbook"), "-i", str(hosts_file), "--tags", "probe,always", str(play)],
                play.parent, env)  # fmt: skip


def test_a_playbook_elsewhere_runs_the_installed_collection_by_fqcn_only(tmp_path):
    done = play_installed(tmp_path, inventory())
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    plays = json.loads(done.stdout)["plays"]
    workers = plays[1]["tasks"][-1]["hosts"]["app1"]["celery_workers"]
    routing = json.loads((ROOT / "app" / "config" / "queues.json").read_text())
    assert [w["name"] for w in workers] == list(routing["queues"])
    assert {w["name"]: w["time_limit"] for w in workers}["reports"] == 1860


def test_the_installed_collections_preflight_refuses_with_the_roles_rules(tmp_path):
    done = play_installed(tmp_path, inventory(celery_queue_overrides={"sms": {"concurrency": 2}}))
    assert done.returncode == 2, done.stdout[-4000:] + done.stderr[-2000:]
    assert "celery_queue_overrides names ['sms']" in done.stdout
