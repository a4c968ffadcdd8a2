"""A Redis restart keeps what kombu and Celery wrote in transactions.

Redis replays its append-only file as the default user and re-checks each
MULTI/EXEC block against that user's rules. With `user default off` and no
permissions, every transaction was dropped on load: kombu's unacked hash (the
tasks a worker held) and Celery's results vanished at each restart. The server
here is configured by the redis role's own ACL lines, with appendonly as deployed.
"""

from __future__ import annotations

import time

import pytest
import redis as redis_client
from celery import Celery
from kombu import Connection

from tests.support.procs import start_worker
from tests.support.servers import RedisServer
from tests.support.waiting import wait_until

# Its own Redis servers, whatever the suite's broker: run in the Redis suite (conftest.py).
pytestmark = pytest.mark.own_redis


def test_a_redis_restart_keeps_the_unacked_tasks_the_queue_and_the_results(tmp_path):
    server = RedisServer(tmp_path, appendonly=True).start()
    conn = Connection(server.url, transport_options={"visibility_timeout": 3600})
    try:
        queue = conn.SimpleQueue("restart-drill")
        for number in range(5):
            queue.put({"n": number})
        # Fetched and not acknowledged: kombu records them in its unacked hash, in a transaction.
        held = [queue.get(timeout=5) for _ in range(2)]
        assert sorted(message.payload["n"] for message in held) == [0, 1]
        results = Celery(broker=server.url, backend=server.url, set_as_current=False)
        results.backend.store_result("restart-drill-result", {"ok": True}, "SUCCESS")

        server.restart()

        client = redis_client.Redis.from_url(server.url)
        assert client.hlen("unacked") == 2, server.log()[-2000:]
        assert client.zcard("unacked_index") == 2
        assert client.llen("restart-drill") == 3
        after = Celery(broker=server.url, backend=server.url, set_as_current=False)
        assert after.AsyncResult("restart-drill-result").result == {"ok": True}
        assert "NOPERM" not in server.log()
        # ... and the default user stays locked: anonymous clients get NOAUTH.
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(host="127.0.0.1", port=server.port).ping()
    finally:
        conn.release()
        server.stop()


def test_a_redis_restart_under_load_loses_no_task_and_runs_none_twice(tmp_path, log_dir):
    """Restart Redis (SIGTERM, as systemctl does) while a worker drains drill tasks.

    The worker is pointed at this Redis (REDIS_URL wins over the suite's env file),
    whatever broker the suite runs on; the tasks record their runs in the suite's database.
    """
    from clinic.management.commands.drill import count
    from clinic.tasks import drill_work

    server = RedisServer(tmp_path, appendonly=True).start()
    worker = start_worker(["reports"], log_dir, concurrency=2, env={"REDIS_URL": server.url})
    try:
        worker.wait_for_log(" ready.", 60)
        with Connection(server.url) as producer:
            ids = [
                drill_work.apply_async(kwargs={"seconds": 0.5}, queue="reports", connection=producer).id
                for _ in range(30)
            ]
        wait_until(lambda: count(ids)["completed"] >= 4, 60, 0.2, "the worker drains")

        server.restart()

        def settled():
            figures = count(ids)
            return figures if figures["completed"] == len(ids) and not figures["running"] else None

        client = redis_client.Redis.from_url(server.url)
        try:
            wait_until(settled, 60, 0.5, "every task finished")
            # A message left unacknowledged would run again once the visibility timeout
            # (10 s here) is up: wait until the broker holds nothing, then past that.
            wait_until(lambda: client.hlen("unacked") == 0 and client.llen("reports") == 0, 30, 0.5, "nothing held")
            time.sleep(12)
        except TimeoutError:
            pass
        figures = count(ids)
        state = {
            "unacked": client.hlen("unacked"),
            "index": client.zrange("unacked_index", 0, -1, withscores=True),
            "mutex_ttl": client.ttl("unacked_mutex"),
            "queue": client.llen("reports"),
        }
        assert (figures["lost"], figures["duplicated"]) == (0, 0), (figures, state)
    finally:
        worker.stop()
        server.stop()
