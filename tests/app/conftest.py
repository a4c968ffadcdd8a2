"""The app suite runs against one broker per pytest run: --broker=redis|sqlite|postgres.

Before Django is set up, this starts the real servers the broker needs, writes
the env file every process reads (the format the roles write) and migrates a
fresh database. Workers and beat are real subprocesses started by fixtures.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "app"))
sys.path.insert(0, str(ROOT))

from tests.support.procs import start_beat, start_worker, stop_all  # noqa: E402
from tests.support.servers import PostgresServer, RedisServer  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

BROKERS = ("redis", "sqlite", "postgres")
API_TOKEN = secrets.token_urlsafe(32)
# Short on purpose: the SIGKILL drills wait for the visibility timeout.
TEST_SETTINGS = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_COOKIES": "false",
    "DJANGO_ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "EMAIL_BACKEND": "file",
    "DJANGO_ADMINS": "admin-one@clinic.test,admin-two@clinic.test",
    "CELERY_VISIBILITY_TIMEOUT": "10",
    "CELERY_TASK_SOFT_TIME_LIMIT": "6",
    "CELERY_TASK_TIME_LIMIT": "8",
    "CELERY_BROKER_POLLING_INTERVAL": "0.05",
    "REMINDER_RETRY_DELAY": "1",
    "REPORT_RETRY_BACKOFF": "1",
    "REPORT_RETRY_BACKOFF_MAX": "1",
    "HEALTHZ_PROBE_TIMEOUT": "3",
    # Workers beat every second: a silent one is down after 3 s.
    "WORKER_HEARTBEAT_SECONDS": "1",
    "LOG_LEVEL": "WARNING",
}

_state: dict = {}


def pytest_addoption(parser):
    parser.addoption(
        "--broker",
        choices=BROKERS,
        default=os.environ.get("TEST_BROKER", "sqlite"),
        help="broker the suite runs against (default: sqlite, or $TEST_BROKER)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "own_redis: starts its own Redis servers; runs in the Redis suite only")
    config.addinivalue_line("markers", "own_postgres: starts its own PostgreSQL; runs in the PostgreSQL suite only")
    config.addinivalue_line("markers", "postgres_database: needs the suite's PostgreSQL; runs in its suite only")
    broker = config.getoption("--broker")
    base = Path(tempfile.mkdtemp(prefix=f"clinic-tests-{broker}-"))
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must traverse it
    _state.update(broker=broker, base=base, servers=[])
    data_dir = base / "data"
    (data_dir / "outbox").mkdir(parents=True)
    (data_dir / "static").mkdir()
    values = {
        **TEST_SETTINGS,
        "APP_DATA_DIR": str(data_dir),
        "EMAIL_FILE_PATH": str(data_dir / "outbox"),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "API_TOKEN": API_TOKEN,
    }
    if broker == "redis":
        redis = RedisServer(base).start()
        _state["servers"].append(redis)
        values["REDIS_URL"] = redis.url
    if broker == "postgres":
        pg = PostgresServer(base).start()
        _state["servers"].append(pg)
        values["DATABASE_URL"] = pg.url
    from django_celery_deploy.env import write_env_file

    env_file = base / "app.env"
    write_env_file(env_file, values, header="written by tests/app/conftest.py")
    os.environ["APP_ENV_FILE"] = str(env_file)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    _state["env_file"] = env_file

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# Marker of a test that starts its own server, and the suite it runs in.
OWN_SERVER = {"own_redis": "redis", "own_postgres": "postgres", "postgres_database": "postgres"}


def pytest_collection_modifyitems(config, items):
    """Tests of a server itself (a Redis or PostgreSQL restart, a worker losing its Redis)
    start their own servers whatever the suite's broker: each runs once, in its server's
    suite, not again in the others, where it would prove nothing new."""
    broker = config.getoption("--broker")
    elsewhere = [
        item
        for item in items
        if any(item.get_closest_marker(marker) and suite != broker for marker, suite in OWN_SERVER.items())
    ]
    if elsewhere:
        config.hook.pytest_deselected(items=elsewhere)
        items[:] = [item for item in items if item not in elsewhere]


def pytest_unconfigure(config):
    for server in reversed(_state.get("servers", [])):
        server.stop()
    base = _state.get("base")
    if base and not os.environ.get("KEEP_TEST_DIRS"):
        shutil.rmtree(base, ignore_errors=True)


def pytest_report_header(config):
    return f"broker: {config.getoption('--broker')}"


# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def broker() -> str:
    return _state["broker"]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _state["base"] / "data"


@pytest.fixture(scope="session")
def log_dir() -> Path:
    path = _state["base"] / "logs"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def outbox(data_dir):
    """Read the e-mails the file backend wrote (one .log file per connection)."""

    class Outbox:
        path = data_dir / "outbox"

        def messages(self) -> list[str]:
            text = "".join(p.read_text(errors="replace") for p in sorted(self.path.glob("*.log")))
            return [m for m in text.split("-" * 79) if m.strip()]

        def to(self, address: str) -> list[str]:
            return [m for m in self.messages() if f"To: {address}" in m]

    return Outbox()


class Api:
    """Django's test client with the bearer token and JSON bodies."""

    def __init__(self):
        from django.test import Client

        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")

    def post(self, url, data=None, raw=None):
        body = raw if raw is not None else json.dumps(data if data is not None else {})
        return self.client.post(url, data=body, content_type="application/json")

    def get(self, url):
        return self.client.get(url)

    def wait_state(self, task_id, states=("SUCCESS", "FAILURE"), timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.get(f"/api/tasks/{task_id}").json()
            if body["state"] in states:
                return body
            time.sleep(0.1)
        raise TimeoutError(f"task {task_id} still {body['state']} after {timeout} s")


@pytest.fixture(scope="session")
def api() -> Api:
    return Api()


@pytest.fixture(scope="module")
def workers(log_dir):
    """One worker per queue, as production runs them."""
    from config.routing import QUEUE_NAMES

    started = [start_worker([queue], log_dir, name=queue) for queue in QUEUE_NAMES]
    try:
        for worker in started:
            worker.wait_for_log("ready.", timeout=90)
        wait_for_round_trips(QUEUE_NAMES)
        yield {queue: worker for queue, worker in zip(QUEUE_NAMES, started, strict=True)}
    finally:
        stop_all(started)


def wait_for_round_trips(queues, timeout=60):
    """Ready means a probe task went through the queue and back, not just a log line."""
    from django_celery_deploy.probe import probe_queues

    deadline = time.monotonic() + timeout
    while True:
        statuses = probe_queues(list(queues), timeout=5)
        if all(status.ok for status in statuses):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"queues not answering after {timeout} s: {statuses}")


@pytest.fixture
def beat(log_dir):
    proc = start_beat(log_dir)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def until():
    return wait_until


@pytest.fixture
def every_second_task():
    """A periodic task due every second, for tests that watch what beat sends."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    # Expires at once: nothing piles up on the default queue for later tests.
    task = PeriodicTask.objects.create(
        name="every-second-task",
        interval=every_second,
        task="clinic.tasks.drill_work",
        kwargs='{"seconds": 0}',
        expire_seconds=2,
    )
    yield task
    task.delete()
