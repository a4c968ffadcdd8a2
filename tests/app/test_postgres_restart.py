"""A PostgreSQL restart under the database broker (pgmq) loses no task and runs none twice.

With no Redis, the queue lives in the app's own PostgreSQL database, so a restart of
PostgreSQL takes the broker, the results and the tasks' own writes away at once.
It runs in the PostgreSQL suite only (marker own_postgres): it starts its own PostgreSQL, migrates it with the
app's own `migrate` (which installs the pgmq schema) and points a worker at it,
exactly as the deployed db-broker stack is shaped. The drill task records each run
in that database, and `manage.py drill report` counts them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.procs import APP_DIR, start_worker
from tests.support.servers import PostgresServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.own_postgres


def _manage(env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=APP_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_postgresql_restart_under_load_loses_no_task_and_runs_none_twice(tmp_path, log_dir):
    server = PostgresServer(tmp_path).start()
    # Empty values win over the suite's env file: no Redis, so pgmq on this database.
    # Prefetch multiplier 1: the reports worker as the celery role deploys it, where two
    # deliveries whose ack was lost filled the prefetch window and the worker stopped consuming.
    env = {
        "DATABASE_URL": server.url,
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
    }
    worker = None
    try:
        migrated = _manage(env, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        worker = start_worker(["reports"], log_dir, concurrency=2, env=env, name="pg-restart")
        worker.wait_for_log(" ready.", 90)
        ids = tmp_path / "drill.ids"
        sent = _manage(
            env, "drill", "enqueue", "--queue", "reports", "--count", "30", "--seconds", "0.5", "--ids", str(ids)
        )
        assert sent.returncode == 0, sent.stderr[-3000:]

        def finished() -> int:
            out = server.psql(
                "SELECT count(*) FROM clinic_taskexecution WHERE finished_at IS NOT NULL", database=server.database
            )
            return int(out.strip())

        wait_until(lambda: finished() >= 4, 60, 0.2, "the worker drains")

        server.restart()

        # The 10 s visibility timeout of the suite bounds any redelivery; past it a task
        # still queued means the worker stopped consuming.
        report = _manage(env, "drill", "report", "--ids", str(ids), "--wait", "90")
        figures = json.loads(report.stdout.strip().splitlines()[-1])
        assert (figures["lost"], figures["duplicated"]) == (0, 0), (figures, worker.output()[-4000:])
        assert report.returncode == 0, report.stderr[-2000:]
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def test_a_task_error_on_a_database_that_still_answers_is_not_taken_for_a_lost_connection():
    """A lock timeout or a constraint must fail the task, not requeue it forever."""
    from django.db import OperationalError, connection
    from django_celery_deploy.task_base import database_connection_lost

    connection.ensure_connection()
    assert not database_connection_lost(OperationalError("canceling statement due to lock timeout"))
    assert not database_connection_lost(ValueError("not a database error"))
    connection.close()
    connection.connection = None
    assert database_connection_lost(OperationalError("connection refused"))


def test_a_started_state_lost_with_the_database_does_not_fail_the_task_but_a_final_state_does(tmp_path):
    """track_started stores STARTED before the task body runs. A task that started while
    PostgreSQL was down failed that write, Celery took it for an internal error and
    acknowledged the task as failed without running it: the drill counted it lost. STARTED is
    informational, so its write is skipped when the database is gone (the body's own writes
    then requeue the task); a final state is never dropped silently."""
    server = PostgresServer(tmp_path).start()
    env = {"DATABASE_URL": server.url, "REDIS_URL": "", "CELERY_BROKER_URL": ""}
    try:
        migrated = _manage(env, "migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr[-3000:]
    finally:
        server.stop()
    store = "from celery import states; from config.celery import app; app.backend.store_result('t1', 1, states.{})"
    started = _manage(env, "shell", "-c", store.format("STARTED"))
    assert started.returncode == 0, started.stderr[-3000:]
    success = _manage(env, "shell", "-c", store.format("SUCCESS"))
    assert success.returncode != 0 and "OperationalError" in success.stderr, success.stderr[-3000:]


def test_a_second_pytest_locking_its_temp_root_does_not_lock_out_a_running_postgresql(tmp_path):
    """As root the server runs as the postgres user, which must reach its data directory.
    Every pytest run makes /tmp/pytest-of-<user> private again (0700) when it starts, so a
    server whose data lived under tmp_path lost its own files mid-test when a second suite
    started (APP_SUITES_SIDE_BY_SIDE, or any other pytest on the machine): PANIC at the
    next checkpoint, and the restart drill failed in CI."""
    server = PostgresServer(tmp_path).start()
    try:
        # What a second pytest does to every private directory above its own tmp_path.
        for parent in [tmp_path, *tmp_path.parents]:
            if parent.name.startswith("pytest-"):
                os.chmod(parent, 0o700)
        server.restart()
        assert server.psql("SELECT 1").strip() == "1"
    finally:
        server.stop()
