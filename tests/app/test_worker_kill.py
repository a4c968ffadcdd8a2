"""A worker killed with SIGKILL mid-task: on Redis and on the PostgreSQL (pgmq) broker the task
runs again after the visibility timeout and completes. On the SQLite (SQLAlchemy) broker the
fetched task is lost: this test pins down the limit the README states.
"""

from __future__ import annotations

import time

from django.conf import settings

from tests.support.procs import start_worker


def test_task_of_a_killed_worker_is_not_lost(api, broker, log_dir, until):
    first = start_worker(["reports"], log_dir, name="doomed")
    first.wait_for_log("ready.", timeout=90)
    response = api.post("/api/tasks/long-running", {"total": 8, "step_seconds": 0.5})
    task_id = response.json()["task_id"]
    until(lambda: api.get(f"/api/tasks/{task_id}/progress").json()["current"] >= 2, timeout=30, message="task running")
    first.kill()
    killed_at = time.monotonic()

    second = start_worker(["reports"], log_dir, name="successor")
    try:
        second.wait_for_log("ready.", timeout=90)
        limit = settings.CELERY_VISIBILITY_TIMEOUT + 20
        if broker == "sqlite":
            time.sleep(limit)
            body = api.get(f"/api/tasks/{task_id}").json()
            assert body["state"] == "PROGRESS", body  # never redelivered: the documented limit
            assert task_id not in second.output()
            return
        body = api.wait_state(task_id, timeout=limit)
        assert body["state"] == "SUCCESS", body
        # Not before the visibility timeout: nothing but the timeout brought it back.
        assert time.monotonic() - killed_at >= settings.CELERY_VISIBILITY_TIMEOUT - 1
        assert body["result"]["resumed_from"] >= 2  # picked up where the dead worker stopped
        assert task_id in second.output()
    finally:
        second.stop()
