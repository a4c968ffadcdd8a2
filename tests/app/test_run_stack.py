"""make run: the whole stack under Supervisor from the supervisor/ definitions, up and down cleanly."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django_celery_deploy.env import parse_env_file

from config.routing import QUEUE_NAMES
from tests.support.procs import APP_DIR, start_beat
from tests.support.servers import free_port

ROOT = APP_DIR.parent


def http(method, url, headers=None, body=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from django.conf import settings

    run_dir = tmp_path_factory.mktemp("run-stack")
    web, flower = free_port(), free_port()
    # Drop what this process loaded from the suite's env file: process env wins over a file.
    inherited = set(parse_env_file(os.environ["APP_ENV_FILE"])) | {"APP_ENV_FILE"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    # Same broker as the rest of this run.
    if settings.BROKER.kind == "redis":
        env["REDIS_URL"] = settings.REDIS_URL
    elif settings.BROKER.kind == "pgmq":
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    output = open(run_dir / "run.out", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "run.py"),
            "--dir",
            str(run_dir),
            "--web-port",
            str(web),
            "--flower-port",
            str(flower),
        ],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while "run: ready" not in (run_dir / "run.out").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("make run did not come up:\n" + (run_dir / "run.out").read_text()[-4000:])
        time.sleep(0.5)
    values = parse_env_file(run_dir / "app.env")
    yield {
        "proc": proc,
        "dir": run_dir,
        "web": f"http://127.0.0.1:{web}",
        "flower": f"http://127.0.0.1:{flower}",
        "env": values,
        "process_env": env,
        "output": run_dir / "run.out",
    }
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)


def test_a_task_sent_to_each_queue_completes_on_that_queues_worker(stack):
    auth = {"Authorization": f"Bearer {stack['env']['API_TOKEN']}"}
    for queue in QUEUE_NAMES:
        status, body = http("POST", f"{stack['web']}/api/queues/{queue}/ping", auth)
        assert status == 202, body
        task_id = json.loads(body)["task_id"]
        deadline = time.monotonic() + 30
        while True:
            status, body = http("GET", f"{stack['web']}/api/tasks/{task_id}", auth)
            result = json.loads(body)
            if result["state"] == "SUCCESS" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert result["state"] == "SUCCESS", result
        # <queue>-<n>@host for a queue with several processes (Supervisor's group).
        assert re.match(rf"{queue}(-\d+)?@", result["result"]["hostname"]), result


def test_supervisor_runs_one_worker_per_queue_one_beat_flower_and_web(stack):
    conf = stack["dir"] / "supervisor" / "supervisord.conf"
    status = subprocess.run(
        [sys.prefix + "/bin/supervisorctl", "-c", str(conf), "status"], capture_output=True, text=True
    ).stdout
    running = {line.split()[0] for line in status.splitlines() if "RUNNING" in line}
    sys.path.insert(0, str(ROOT / "scripts"))
    from role_settings import queue_settings

    workers = set()
    for queue in queue_settings()[0]:
        program = f"clinic-worker-{queue['name']}"
        if queue["processes"] == 1:
            workers.add(program)
        else:  # one Supervisor group, a process each
            workers |= {f"{program}:{program}-{n}" for n in range(queue["processes"])}
    assert "clinic-worker-emails:clinic-worker-emails-1" in workers
    assert running == workers | {"clinic-beat", "clinic-flower", "clinic-web"}
    assert oct(conf.parent.joinpath("supervisor.sock").stat().st_mode & 0o777) == "0o700"


def test_make_runs_workers_carry_each_queues_settings_from_the_celery_role(stack):
    sys.path.insert(0, str(ROOT / "scripts"))
    from role_settings import queue_settings

    queues, grace = queue_settings()
    assert {q["name"] for q in queues} == set(QUEUE_NAMES)
    for queue in queues:
        text = (stack["dir"] / "supervisor" / "conf.d" / f"worker-{queue['name']}.conf").read_text()
        assert f"--prefetch-multiplier {queue['prefetch_multiplier']}" in text
        assert f"--pool {queue['pool']} " in text
        limits = f"--soft-time-limit {queue['soft_time_limit']} --time-limit {queue['time_limit']}"
        # Only prefork enforces time limits: the threads pool's program does not carry them.
        assert (limits in text) == (queue["pool"] == "prefork"), text
        assert f"stopwaitsecs={queue['time_limit'] + grace}" in text


def test_flower_refuses_anonymous_access_and_admits_its_user(stack):
    assert http("GET", stack["flower"])[0] == 401
    token = base64.b64encode(stack["env"]["FLOWER_BASIC_AUTH"].encode()).decode()
    assert http("GET", stack["flower"], {"Authorization": f"Basic {token}"})[0] == 200


def test_flowers_metrics_need_its_basic_auth_and_its_healthcheck_names_nothing(stack):
    # /metrics names every worker and task type; Flower itself serves it to anyone.
    assert http("GET", f"{stack['flower']}/metrics")[0] == 401
    token = base64.b64encode(stack["env"]["FLOWER_BASIC_AUTH"].encode()).decode()
    status, body = http("GET", f"{stack['flower']}/metrics", {"Authorization": f"Basic {token}"})
    assert status == 200 and b"flower_" in body
    assert http("GET", f"{stack['flower']}/healthcheck") == (200, b"OK")


def test_healthz_and_admin_answer(stack):
    assert http("GET", f"{stack['web']}/healthz")[0] == 200
    status, _ = http("GET", f"{stack['web']}/admin/login/")
    assert status == 200
    assert http("GET", f"{stack['web']}/static/admin/css/base.css")[0] == 200


def test_a_second_beat_started_beside_supervisors_beat_stands_by(stack):
    # Supervisor's beat must hold the beat lock: a beat it runs without it (a --scheduler
    # on its command line beats the setting) let this one send every periodic task twice.
    env = {**stack["process_env"], "APP_ENV_FILE": str(stack["dir"] / "app.env")}
    second = start_beat(stack["dir"], env=env, inherit_env=False)
    try:
        second.wait_for_log("another beat holds the beat lock; standing by", timeout=60)
        assert "holding the beat lock" not in second.output()
    finally:
        second.stop()


def test_stack_stops_cleanly_on_sigterm(stack):
    proc = stack["proc"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(300) == 0
    assert "run: stopped" in stack["output"].read_text()
    leftover = subprocess.run(["pgrep", "-f", str(stack["dir"])], capture_output=True, text=True).stdout.split()
    assert leftover == [], f"processes still running: {leftover}"
