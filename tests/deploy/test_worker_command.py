"""A worker's command line has one definition (the supervisor role's celery_worker_argv.j2), which
the deploy's Supervisor program, compose and make run render alike."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from role_settings import SUPERVISOR_TEMPLATES, project_programs, queue_settings, worker_argv  # noqa: E402

QUEUES, GRACE = queue_settings()
APP = project_programs()["celery_app"]


def test_compose_runs_each_queues_worker_with_the_one_command_line():
    for filename in ("compose.yml", "compose.db-broker.yml"):
        services = yaml.safe_load((ROOT / "docker" / filename).read_text())["services"]
        for queue in QUEUES:
            assert services[f"worker-{queue['name']}"]["command"] == worker_argv(["celery"], APP, queue), filename


def test_the_supervisor_program_runs_the_one_command_line_quoted_for_supervisor():
    env = jinja2.Environment(  # noqa: S701 - an ini file, as Ansible's template module renders it
        loader=jinja2.FileSystemLoader(SUPERVISOR_TEMPLATES), undefined=jinja2.StrictUndefined, trim_blocks=True
    )
    env.filters.update(from_json=json.loads, quote=shlex.quote)
    venv = "/srv/my app/venv"  # a space: the program's command must quote it
    for queue in QUEUES:
        program = {
            "program_prefix": "clinic",
            "envfile_exec": "/usr/local/bin/django-celery-envfile",
            "celery_app": APP,
            "queue": queue,
            "app_dir": "/srv/my app/current",
            "venv_dir": venv,
            "env_file": "/etc/clinic/clinic.env",
            "log_dir": "/var/log/clinic",
            "stop_grace_seconds": GRACE,
        }
        conf = env.get_template("worker.conf.j2").render(supervisor_program=program)
        command = next(line for line in conf.splitlines() if line.startswith("command="))
        # Supervisor reads %(...)s expansions, then splits the command as a shell would.
        argv = shlex.split(command.removeprefix("command=").replace("%%", "%"))
        assert argv[:4] == ["/usr/local/bin/django-celery-envfile", "exec", "/etc/clinic/clinic.env", "--"]
        assert argv[4:] == worker_argv([f"{venv}/bin/celery"], APP, queue)
        assert f"{queue['name']}@%%h" in command


def test_only_the_definition_spells_a_workers_flags():
    flag = "--max-tasks" + "-per-child"  # split, so that this file does not spell it
    spelled = subprocess.run(
        ["git", "grep", "-l", "--untracked", "--", flag], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    # The compose files are generated from the definition (scripts/compose.py --check).
    generated = {"docker/compose.yml", "docker/compose.db-broker.yml"}
    assert set(spelled) - generated == {"ansible/roles/supervisor/templates/celery_worker_argv.j2"}


def test_each_queue_runs_the_pool_its_workload_needs():
    pools = {queue["name"]: queue["pool"] for queue in QUEUES}
    # E-mail waits on SMTP: threads; the CPU-bound reports keep processes.
    assert pools["emails"] == "threads" and pools["reports"] == "prefork", pools
    emails = worker_argv(["celery"], APP, next(q for q in QUEUES if q["name"] == "emails"))
    assert emails[emails.index("--pool") + 1] == "threads"
    assert emails[emails.index("--concurrency") + 1] == "32"


def test_flags_a_pool_ignores_are_not_written():
    # Celery's threads and solo pools accept the time limits and child recycling, and enforce none.
    for pool in ("threads", "solo"):
        argv = worker_argv(["celery"], APP, {"name": "q", "concurrency": 4, "pool": pool, "time_limit": 60})
        assert not [flag for flag in argv if flag.startswith(("--time", "--soft", "--max"))], argv
    argv = worker_argv(["celery"], APP, {"name": "q", "concurrency": 4, "soft_time_limit": 50, "time_limit": 60})
    assert argv[argv.index("--soft-time-limit") :][:4] == ["--soft-time-limit", "50", "--time-limit", "60"]
