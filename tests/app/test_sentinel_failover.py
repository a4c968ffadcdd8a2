"""Redis behind Sentinel: the master dies under load, a replica takes over, and the
web side and the workers go on without a restart.

The group is configured as the redis role configures it (its ACL users and rules, its
min-replicas setting); the worker and the producer read the env file's Sentinel
variables exactly as deployed (REDIS_URL as a sentinel:// list, REDIS_SENTINEL_MASTER,
REDIS_SENTINEL_PASSWORD). The drill tasks record each of their runs, so what the
failover lost or ran twice is counted by the tasks themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.procs import start_worker
from tests.support.servers import SentinelGroup
from tests.support.waiting import wait_until

pytestmark = pytest.mark.own_redis

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "var" / "drills" / "sentinel-failover.json"


def test_the_master_killed_under_load_fails_over_and_no_task_is_lost(tmp_path, log_dir):
    from django_celery_deploy import brokers
    from django_celery_deploy.cache import SentinelRedisCache

    from clinic.management.commands.drill import count

    # The first sentinel of the list is on a host that is gone: clients must skip it quickly.
    group = SentinelGroup(tmp_path, dead_sentinel_first=True).start()
    env = {**os.environ, **group.env}
    worker = start_worker(["reports"], log_dir, concurrency=2, env=group.env, name="sentinel")
    ids_file = tmp_path / "drill.ids"
    producer = None
    try:
        worker.wait_for_log(" ready.", 60)
        worker_pid = worker.pid
        # The cache the web reads, on the same sentinel list (a process of its own would do the same).
        choice = brokers.choose_broker(
            None,
            group.url,
            {},
            sentinel_master=group.master_name,
            sentinel_password=group.sentinel_password,
        )
        cache_settings = brokers.cache_settings(choice, key_prefix="drill")
        cache = SentinelRedisCache(cache_settings["LOCATION"], cache_settings)
        cache.set("before", "failover", 600)

        # A steady load from a long-lived Django process, as the web is: 150 sends, 10 per second.
        producer = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "app" / "manage.py"),
                "drill",
                "enqueue",
                "--queue",
                "reports",
                "--count",
                "150",
                "--seconds",
                "0.1",
                "--interval",
                "0.1",
                "--ids",
                str(ids_file),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sent = lambda: len(ids_file.read_text().split()) if ids_file.exists() else 0  # noqa: E731
        wait_until(lambda: sent() >= 40, 60, 0.1, "40 tasks sent")
        wait_until(lambda: count(ids_file.read_text().split())["completed"] >= 10, 60, 0.2, "the worker drains")

        old_master = group.master_port()
        killed_at = time.monotonic()
        group.kill_master()
        wait_until(lambda: _new_master(group, old_master), 60, 0.1, "a sentinel majority names a new master")
        failover_s = time.monotonic() - killed_at

        out, err = producer.communicate(timeout=120)
        sent_summary = json.loads(out.strip().splitlines()[-1])
        ids = ids_file.read_text().split()

        def settled():
            figures = count(ids)
            return figures if figures["completed"] == len(ids) and not figures["running"] else None

        try:
            wait_until(settled, 90, 0.5, "every sent task finished")
            # A task left unacknowledged would run again after the visibility timeout (10 s here).
            time.sleep(12)
        except TimeoutError:
            pass
        figures = count(ids)
        figures.update(
            refused=sent_summary["refused"],
            refused_because=sorted({line[:200] for line in err.splitlines() if line.startswith("send refused")}),
            failover_seconds=round(failover_s, 1),
        )
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(figures, indent=2) + "\n")

        assert figures["lost"] == 0, _diagnosis(figures, err, worker, group)
        # At least once: a task that finished while its ack had no master to go to is handed
        # out again. Only the messages the worker held at the failover can be: its pool slots
        # times its prefetch multiplier.
        from django.conf import settings

        held = 2 * settings.CELERY_WORKER_PREFETCH_MULTIPLIER
        assert figures["duplicated"] <= held, _diagnosis(figures, err, worker, group)
        assert figures["enqueued"] + sent_summary["refused"] == 150
        # The same worker process served before and after: no restart.
        assert worker.proc.poll() is None and worker.pid == worker_pid
        # The cache followed the master too.
        assert cache.get("before") == "failover"
        cache.set("after", "failover", 600)
        assert cache.get("after") == "failover"
    finally:
        if producer and producer.poll() is None:
            producer.kill()
        worker.stop()
        group.stop()


def _diagnosis(figures: dict, producer_err: str, worker, group: SentinelGroup) -> str:
    """What to read when the drill fails: a string, since pytest shortens any other
    assertion message to 240 characters, and a copy under var/drills/ for the whole logs."""
    text = "\n".join(
        [
            json.dumps(figures),
            "--- producer stderr (tail)",
            producer_err[-4000:],
            "--- worker log (tail)",
            worker.output()[-6000:],
            group.logs(),
        ]
    )
    (FIGURES.parent / "sentinel-failover-failure.log").write_text(text)
    return text


def _new_master(group: SentinelGroup, old: int) -> bool:
    try:
        return group.master_port() != old
    except Exception:  # noqa: BLE001 - sentinels mid-election answer nothing useful yet
        return False
