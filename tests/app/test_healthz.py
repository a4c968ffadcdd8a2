"""/healthz and the probe command tell a stopped queue from a live one, within a bounded time."""

from __future__ import annotations

import subprocess
import sys
import time

from django.conf import settings
from django.test import Client

from tests.support.procs import APP_DIR


def probe_command(*args):
    return subprocess.run(
        [sys.executable, "manage.py", "probe_queues", *args], cwd=APP_DIR, capture_output=True, text=True, timeout=60
    )


def test_healthz_is_ok_when_every_queue_has_a_worker(workers):
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["database"]["ok"] and body["broker"]["ok"]
    assert set(body["queues"]) == set(workers)
    assert all(queue["ok"] for queue in body["queues"].values())


def test_probe_command_exits_zero_when_every_queue_answers(workers):
    done = probe_command("--timeout", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    for queue in workers:
        assert f"{queue}" in done.stdout and "DOWN" not in done.stdout


def test_stopped_queue_is_reported_down_within_the_probe_timeout(workers):
    workers["cache"].stop()
    started = time.monotonic()
    response = Client().get("/healthz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "down"
    assert body["queues"]["cache"]["ok"] is False
    assert "no worker answered" in body["queues"]["cache"]["error"]
    assert all(body["queues"][q]["ok"] for q in ("default", "reports", "monitoring")), body
    assert elapsed <= settings.HEALTHZ_PROBE_TIMEOUT + 2

    done = probe_command("--queue", "cache", "--timeout", "2")
    assert done.returncode == 1
    assert "cache" in done.stdout and "DOWN" in done.stdout
