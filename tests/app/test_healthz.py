"""/healthz reads the workers' heartbeats: no task and no broker connection per request,
a busy worker is not a dead one, and a stopped or killed worker's queue is down within the
staleness bound. The round trip stays for operators (probe_queues, /healthz?deep=1 with the token).
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import kombu
import pytest
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_celery_deploy.probe import probe_queues

from config.routing import QUEUE_NAMES
from tests.support.procs import APP_DIR, start_worker, stop_all
from tests.support.servers import RedisServer

# getattr: the suite must fail on behaviour, not on a missing setting, where they are absent.
HEARTBEAT = getattr(settings, "WORKER_HEARTBEAT_SECONDS", 1.0)
STALE_AFTER = 3 * HEARTBEAT
CACHED_FOR = getattr(settings, "HEALTHZ_CACHE_SECONDS", 1.0)


def probe_command(*args):
    return subprocess.run(
        [sys.executable, "manage.py", "probe_queues", *args], cwd=APP_DIR, capture_output=True, text=True, timeout=60
    )


def healthz(client=None, path="/healthz"):
    response = (client or Client()).get(path)
    return response.status_code, response.json()


def in_state(queue, state):
    """(status code, body) if /healthz reports `queue` in `state`, else None: for until()."""
    code, body = healthz()
    return (code, body) if body["queues"][queue].get("state") == state else None


@pytest.fixture(scope="module")
def fleet(log_dir):
    """One worker per queue; the reports worker has a single pool slot."""
    started = {
        queue: start_worker([queue], log_dir, concurrency=1 if queue == "reports" else 2, name=f"hz-{queue}")
        for queue in QUEUE_NAMES
    }
    try:
        for worker in started.values():
            worker.wait_for_log("ready.", timeout=90)
        deadline = time.monotonic() + 60
        while healthz()[0] != 200:
            assert time.monotonic() < deadline, f"/healthz never 200: {healthz()[1]}"
            time.sleep(0.2)
        # And a probe task through every queue and back (a first one on pgmq can take
        # seconds: cold connections), so that the deep mode's round trip is warm.
        while not all(status.ok for status in probe_queues(timeout=5)):
            assert time.monotonic() < deadline, "probe round trips never all came back"
        yield started
    finally:
        stop_all(list(started.values()))


def test_healthz_is_ok_and_every_queue_live_when_every_queue_has_an_idle_worker(fleet, until):
    # Idle: the last probe task may still have held a slot at the last beat.
    def all_live():
        code, body = healthz()
        return (code, body) if all(q.get("state") == "live" for q in body["queues"].values()) else None

    code, body = until(all_live, timeout=STALE_AFTER + 5, message="every queue live")
    assert code == 200, body
    assert body["status"] == "ok" and body["database"]["ok"] and body["broker"]["ok"], body
    assert set(body["queues"]) == set(QUEUE_NAMES)
    for queue, status in body["queues"].items():
        assert status["ok"] is True and status["state"] == "live", (queue, body)
        assert status["live"] >= 1 and status["seconds_since_beat"] <= STALE_AFTER, (queue, body)
    assert body["down"] == []


def test_anonymous_healthz_sends_no_task_opens_no_broker_connection_and_bounds_its_queries(fleet, monkeypatch):
    published, connections = [], []

    def on_publish(sender=None, routing_key=None, **_):
        published.append((sender, routing_key))

    opened = kombu.Connection.__init__

    def counting_init(self, *args, **kwargs):
        connections.append(args[:1])
        opened(self, *args, **kwargs)

    monkeypatch.setattr(kombu.Connection, "__init__", counting_init)
    before_task_publish.connect(on_publish, weak=False)
    client = Client()
    try:
        started = time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            codes = [client.get("/healthz").status_code for _ in range(100)]
        elapsed = time.monotonic() - started
    finally:
        before_task_publish.disconnect(on_publish)
    assert codes == [200] * 100
    assert published == [], f"{len(published)} tasks published by 100 anonymous requests"
    assert connections == [], f"{len(connections)} broker connections opened by 100 anonymous requests"
    # The answer is computed at most once per HEALTHZ_CACHE_SECONDS (one query each time).
    assert len(queries) <= math.ceil(elapsed / CACHED_FOR) + 1, [q["sql"] for q in queries]


def test_a_worker_whose_only_pool_slot_runs_a_long_task_is_busy_and_healthz_stays_200(fleet, api, until):
    response = api.post("/api/tasks/long-running", {"total": 5, "step_seconds": 1})
    assert response.status_code == 202, response.content
    task_id = response.json()["task_id"]
    code, body = until(lambda: in_state("reports", "busy"), timeout=STALE_AFTER + 5, message="reports busy")
    assert code == 200, body
    assert body["status"] == "ok" and body["down"] == [], body
    reports = body["queues"]["reports"]
    assert reports["ok"] is True and reports["busy"] == 1 and reports["live"] == 0, body
    assert all(body["queues"][q]["state"] == "live" for q in QUEUE_NAMES if q != "reports"), body

    assert api.wait_state(task_id, timeout=30)["state"] == "SUCCESS"
    until(lambda: in_state("reports", "live"), timeout=STALE_AFTER + 5, message="reports live again")


def test_deep_healthz_needs_the_api_token_and_probes_every_queue_by_a_round_trip(fleet, api):
    code, body = healthz(path="/healthz?deep=1")
    assert code == 401, body

    code, body = healthz(api.client, "/healthz?deep=1")
    assert code == 200, body
    assert body["broker"]["ok"] is True, body
    for queue in QUEUE_NAMES:
        probe = body["queues"][queue]["probe"]
        assert probe["ok"] is True and probe["worker"].startswith(f"{fleet[queue].hostname_prefix}@"), body
        assert body["queues"][queue]["workers"], body


def test_probe_command_exits_zero_when_every_queue_answers(fleet):
    done = probe_command("--timeout", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    for queue in fleet:
        assert f"{queue}" in done.stdout and "DOWN" not in done.stdout


@pytest.mark.own_redis  # its own Redis, whatever the suite's broker: run in the Redis suite
def test_a_worker_that_lost_its_redis_broker_is_down_until_it_reconnects(fleet, log_dir, tmp_path, until):
    from django_celery_deploy.heartbeat import queue_liveness

    def lonely_in(state):
        [default] = queue_liveness(["default"])
        mine = [worker for worker in default.workers if worker.hostname.startswith("hz-lonely@")]
        return mine[0] if mine and mine[0].state == state else None

    # A worker of its own, on a Redis of its own (the env beats the env file), so that
    # stopping that Redis leaves the fleet alone.
    server = RedisServer(tmp_path).start()
    lonely = start_worker(["default"], log_dir, env={"REDIS_URL": server.url}, name="hz-lonely")
    try:
        lonely.wait_for_log("ready.", timeout=90)
        until(lambda: lonely_in("live"), timeout=STALE_AFTER + 5, message="lonely worker live")

        server.proc.terminate()
        server.proc.wait(10)
        worker = until(lambda: lonely_in("down"), timeout=STALE_AFTER + 10, message="lonely worker down")
        assert worker.connected is False and "not connected to the broker" in worker.error, worker
        assert healthz()[1]["queues"]["default"]["state"] == "live"  # the fleet's worker still serves it

        server.start()
        until(lambda: lonely_in("live"), timeout=60, message="lonely worker live again")
    finally:
        lonely.stop()
        server.stop()


def test_a_cleanly_stopped_queue_is_down_at_once_and_healthz_503_names_it(fleet, until):
    fleet["cache"].stop()
    stopped_at = time.monotonic()
    code, body = until(lambda: in_state("cache", "down"), timeout=CACHED_FOR + 2, message="cache down")
    # Marked by the worker on its way out: well before its heartbeat could go stale.
    assert time.monotonic() - stopped_at < STALE_AFTER, body
    assert code == 503 and body["status"] == "down", body
    assert body["down"] == ["cache"], body
    assert body["queues"]["cache"]["ok"] is False and "stopped" in body["queues"]["cache"]["error"], body
    assert all(body["queues"][q]["ok"] for q in ("default", "reports", "monitoring")), body

    done = probe_command("--queue", "cache", "--timeout", "2")
    assert done.returncode == 1
    assert "cache" in done.stdout and "DOWN" in done.stdout


def test_a_killed_workers_heartbeat_goes_stale_and_its_queue_is_down_within_the_staleness_bound(fleet, until):
    fleet["monitoring"].kill()  # SIGKILL to main process and pool: no chance to say goodbye
    killed_at = time.monotonic()
    code, body = until(
        lambda: in_state("monitoring", "down"), timeout=STALE_AFTER + CACHED_FOR + 3, message="monitoring down"
    )
    assert time.monotonic() - killed_at <= STALE_AFTER + CACHED_FOR + 2, body
    assert code == 503 and body["status"] == "down", body
    assert "monitoring" in body["down"], body
    assert "no heartbeat" in body["queues"]["monitoring"]["error"], body
    assert body["queues"]["default"]["ok"] and body["queues"]["reports"]["ok"], body
