"""A bare Celery app for the benchmark: Celery's defaults on the broker under test.

Configured from the environment by scripts/bench.py; no Django, no app settings.
"""

import json
import os
import time

from celery import Celery

app = Celery("bare", broker=os.environ["BENCH_BROKER_URL"], backend=os.environ.get("BENCH_BACKEND_URL") or None)
app.conf.broker_transport_options = json.loads(os.environ.get("BENCH_TRANSPORT_OPTIONS", "{}"))
app.conf.task_default_queue = "bare"
app.conf.worker_hijack_root_logger = False


@app.task(name="bare.noop")
def noop(sent_at=None):
    return time.time()
