"""A worker's command line has one definition (the supervisor role's celery_worker_argv.j2), which
the deploy's Supervisor program, compose and make run render alike."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
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
            # One service per process (worker-<queue>-<n>); its container's hostname names the node.
            names = (
                [f"worker-{queue['name']}"]
                if queue["processes"] == 1
                else [f"worker-{queue['name']}-{n}" for n in range(queue["processes"])]
            )
            for name in names:
                assert services[name]["command"] == worker_argv(["celery"], APP, queue), filename
                assert services[name]["hostname"] == name
        workers = {name for name in services if name.startswith("worker-")}
        assert len(workers) == sum(queue["processes"] for queue in QUEUES), workers


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
        lines = conf.splitlines()
        command = next(line for line in lines if line.startswith("command="))
        processes = queue["processes"]
        for n in range(processes):
            # Supervisor expands %(process_num)d and %%, then splits the command as a shell would.
            expanded = command.removeprefix("command=").replace("%(process_num)d", str(n)).replace("%%", "%")
            argv = shlex.split(expanded)
            assert argv[:4] == ["/usr/local/bin/django-celery-envfile", "exec", "/etc/clinic/clinic.env", "--"]
            node = f"{queue['name']}-{n}@%h" if processes > 1 else None
            assert argv[4:] == worker_argv([f"{venv}/bin/celery"], APP, queue, hostname=node)
        if processes > 1:
            assert f"numprocs={processes}" in lines and "process_name=%(program_name)s-%(process_num)d" in lines
            assert any(line.endswith(f"worker-{queue['name']}-%(process_num)d.log") for line in lines)
        else:
            assert not [line for line in lines if line.startswith(("numprocs", "process_name"))]


# Files that may name a worker's flags without spelling a command line: the compose files are
# generated from the definition (scripts/compose.py --check), two tests read rendered output,
# and the companion package's own suite starts a worker of its own test project (the package
# does not ship the bundle's template). This file builds the flags from parts.
READ_NOT_SPELLED = {
    "docker/compose.yml",
    "docker/compose.db-broker.yml",
    "tests/app/test_run_stack.py",
    "packages/django-celery-deploy/tests/test_package.py",
}


@pytest.mark.parametrize("flag", ["max-tasks-per-child", "prefetch-multiplier", "soft-time-limit", "pool"])
def test_only_the_definition_spells_a_workers_flags(flag):
    grep = ["git", "grep", "-l", "--untracked", "-e", "--" + flag, "--", ":!*.md"]  # prose may name them
    spelled = subprocess.run(grep, cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert set(spelled) - READ_NOT_SPELLED == {"ansible/roles/supervisor/templates/celery_worker_argv.j2"}


def test_each_queue_runs_the_pool_its_workload_needs():
    pools = {queue["name"]: queue["pool"] for queue in QUEUES}
    # E-mail waits on SMTP: threads; the CPU-bound reports keep processes.
    assert pools["emails"] == "threads" and pools["reports"] == "prefork", pools
    # One threads process is one core (the GIL): the e-mail queue runs two.
    assert {queue["name"]: queue["processes"] for queue in QUEUES}["emails"] == 2
    emails = worker_argv(["celery"], APP, next(q for q in QUEUES if q["name"] == "emails"))
    assert emails[emails.index("-" + "-pool") + 1] == "threads"
    assert emails[emails.index("--concurrency") + 1] == "16"


def test_flags_a_pool_ignores_are_not_written():
    # Celery's threads and solo pools accept the time limits and child recycling, and enforce none.
    for pool in ("threads", "solo"):
        argv = worker_argv(["celery"], APP, {"name": "q", "concurrency": 4, "pool": pool, "time_limit": 60})
        assert not [flag for flag in argv if flag.startswith(("--time", "--soft", "--max"))], argv
    argv = worker_argv(["celery"], APP, {"name": "q", "concurrency": 4, "soft_time_limit": 50, "time_limit": 60})
    soft = "-" + "-soft-time-limit"
    assert argv[argv.index(soft) :][:4] == [soft, "50", "--time-limit", "60"]


def test_the_suites_workers_run_each_queues_pool_and_prefetch():
    sys.path.insert(0, str(ROOT))
    from tests.support.procs import suite_worker_argv

    for queue in QUEUES:
        argv = suite_worker_argv([queue["name"]], 2, "node")
        spec = {k: queue[k] for k in ("name", "pool", "prefetch_multiplier")}
        # The suite's own concurrency and node; the app's time limits (the suite's are short).
        celery = [sys.executable, "-m", "celery"]
        expected = worker_argv(celery, "config", {**spec, "concurrency": 2}, "node@%h", "info")
        assert argv == expected
    # One long report must not hold others back in the suite either.
    reports = suite_worker_argv(["reports"], 2, "node")
    assert reports[reports.index("-" + "-prefetch-multiplier") + 1] == "1"
