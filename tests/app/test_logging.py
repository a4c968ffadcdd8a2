"""Workers log through Django's LOGGING (config/celery.py's setup_logging): one format for every
process, each line logged in a task naming it, and LOG_FORMAT=json for a log shipper."""

from __future__ import annotations

import json

import pytest

from clinic import tasks
from tests.support.procs import start_worker


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_a_workers_task_lines_go_through_djangos_logging_naming_the_task(log_dir, until, log_format):
    worker = start_worker(["default"], log_dir, env={"LOG_FORMAT": log_format}, name=f"logging-{log_format}")
    try:
        worker.wait_for_log("ready.", timeout=90)
        result = tasks.process_bulk_claims.apply_async(([10**9],))
        assert result.get(timeout=30)["missing"] == [10**9]
        until(lambda: "bulk claims:" in worker.output(), timeout=10, message="the task's line")
    finally:
        worker.stop()
    lines = [line for line in worker.output().splitlines() if "bulk claims:" in line]
    assert len(lines) == 1, lines
    if log_format == "json":
        record = json.loads(lines[0])
        assert record["message"] == "bulk claims: 0 approved, 0 rejected, 0 already decided, 1 missing"
        assert record["task_id"] == result.id and record["task_name"] == "clinic.tasks.process_bulk_claims"
        assert record["level"] == "INFO" and record["name"] == "clinic.tasks.claims"
        # Celery's own lines (the worker's "ready.") are JSON too: one configuration for all.
        ready = [line for line in worker.output().splitlines() if "ready." in line]
        assert ready and json.loads(ready[0])["level"] == "INFO"
    else:
        expected = f" clinic.tasks.process_bulk_claims[{result.id}] clinic.tasks.claims: bulk claims: 0 approved"
        assert expected in lines[0]


def test_an_unknown_log_format_is_refused_naming_the_setting(tmp_path):
    import subprocess
    import sys

    from tests.support.procs import APP_DIR

    env_file = tmp_path / "app.env"
    env_file.write_text("DJANGO_DEBUG=true\nLOG_FORMAT=xml\n")
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=APP_DIR,
        env={"PATH": "/usr/bin:/bin", "APP_ENV_FILE": str(env_file), "APP_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "LOG_FORMAT='xml': use plain or json" in done.stderr
