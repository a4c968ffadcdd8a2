"""What a project gets from adding django_celery_deploy, proven on a throwaway project (testproject/)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import states
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_deploy import brokers, env
from django_celery_deploy.beat import FileBeatLock
from django_celery_deploy.models import WorkerHeartbeat
from django_celery_deploy.probe import probe_queues
from django_celery_deploy.results import FinalStateDatabaseBackend
from django_celery_deploy.routing import QueueTable, RoutingError

HERE = Path(__file__).resolve().parent
TOKEN = "t" * 40


# --- The env file -----------------------------------------------------------------------


def test_a_malformed_env_file_is_refused_naming_file_and_line(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("A=1\nA=2\n")
    with pytest.raises(env.EnvFileError, match=r"app.env:2: A is set twice"):
        env.parse_env_file(path)
    path.write_text("lower=1\n")
    with pytest.raises(env.EnvFileError, match=r"app.env:1: invalid variable name 'lower'"):
        env.parse_env_file(path)


def test_the_launcher_puts_the_files_values_in_the_environment_and_checks_files(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# a comment\nGREETING=a = b # kept literally\n")
    launcher = [sys.executable, "-m", "django_celery_deploy.env"]
    shown = subprocess.run(
        [*launcher, "exec", str(path), "--", sys.executable, "-c", "import os; print(os.environ['GREETING'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "a = b # kept literally"
    path.write_text("NO_EQUALS_SIGN\n")
    refused = subprocess.run([*launcher, "check", str(path)], capture_output=True, text=True)
    assert refused.returncode == 1 and "app.env:1: expected KEY=value" in refused.stderr


def test_a_bad_value_names_its_variable(monkeypatch):
    monkeypatch.setenv("SOME_LIMIT", "ten")
    with pytest.raises(env.EnvError, match="SOME_LIMIT='ten' is not an integer"):
        env.get_int("SOME_LIMIT", 1)


# --- The broker choice ------------------------------------------------------------------

SQLITE = brokers.parse_database_url("sqlite:////srv/app/db.sqlite3")
POSTGRES = brokers.parse_database_url("postgresql://shop:pw@db.internal:5432/shop")


def test_the_broker_is_redis_when_redis_url_is_set_else_the_database():
    assert brokers.choose_broker(None, "redis://127.0.0.1:6379/0", SQLITE).kind == brokers.REDIS
    assert brokers.choose_broker(None, None, SQLITE).kind == brokers.SQLALCHEMY
    choice = brokers.choose_broker(None, None, POSTGRES)
    assert choice.kind == brokers.PGMQ and not choice.explicit
    explicit = brokers.choose_broker("redis://other:6379/1", "redis://127.0.0.1:6379/0", POSTGRES)
    assert explicit.url == "redis://other:6379/1" and explicit.explicit


def test_the_visibility_timeout_reaches_every_place_celery_reads_it():
    redis = brokers.celery_settings(brokers.choose_broker(None, "redis://h/0", SQLITE), SQLITE, visibility_timeout=900)
    assert redis["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] == 900
    assert redis["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"]["visibility_timeout"] == 900
    assert redis["CELERY_RESULT_BACKEND"].endswith("+redis://h/0")
    pgmq = brokers.celery_settings(brokers.choose_broker(None, None, POSTGRES), POSTGRES, visibility_timeout=900)
    options = pgmq["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert options["visibility_timeout"] == 900 and "dbname='shop'" in options["conn_string"]
    assert pgmq["CELERY_BROKER_TRANSPORT"] == "django_celery_deploy.pgmq_transport:Transport"
    # Neither database broker can carry remote control's replies.
    assert not pgmq["CELERY_WORKER_ENABLE_REMOTE_CONTROL"]
    assert redis["CELERY_WORKER_ENABLE_REMOTE_CONTROL"]


SENTINELS = (
    "sentinel://celery:pw@10.0.0.1:26379/0;sentinel://celery:pw@10.0.0.2:26379/0;sentinel://celery:pw@10.0.0.3/0"
)


def test_a_sentinel_list_sets_the_master_name_and_sentinel_password_for_broker_results_and_cache():
    choice = brokers.choose_broker(None, SENTINELS, SQLITE, sentinel_master="django-celery", sentinel_password="s3")
    assert choice.kind == brokers.REDIS and choice.sentinel and "s3" not in repr(choice)
    assert brokers.sentinel_addresses(choice.url)[2] == ("10.0.0.3", 26379)
    values = brokers.celery_settings(choice, SQLITE, visibility_timeout=900)
    wanted = {"master_name": "django-celery", "visibility_timeout": 900, "socket_connect_timeout": 2}
    for key in ("CELERY_BROKER_TRANSPORT_OPTIONS", "CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"):
        assert wanted.items() <= values[key].items(), key
        # A dead host's sentinel is skipped after 2 s, not after the kernel's ~2 min of retries.
        sentinel_kwargs = values[key]["sentinel_kwargs"]
        assert (sentinel_kwargs["password"], sentinel_kwargs["socket_connect_timeout"]) == ("s3", 2)
        assert sentinel_kwargs["retry"].get_retries() == 0  # the next sentinel is the retry
        # A worker's `conf` reply (Flower asks every worker) carries these options as JSON:
        # the Retry object made every reply fail with EncodeError (seen in the Molecule cluster).
        from kombu.utils.json import dumps

        assert '"retry": "Retry(retries=0)"' in dumps(values[key])
    assert values["CELERY_VISIBILITY_TIMEOUT"] == 900  # the third place Celery reads it
    from kombu.transport import resolve_transport

    assert resolve_transport("sentinel").__module__ == "django_celery_deploy.sentinel_transport"
    assert values["CELERY_RESULT_BACKEND"] == "django_celery_deploy.results:SubscribeOnWaitSentinelBackend+" + SENTINELS
    cache = brokers.cache_settings(choice, key_prefix="shop")
    assert cache["BACKEND"] == "django_celery_deploy.cache.SentinelRedisCache"
    assert cache["OPTIONS"]["master_name"] == "django-celery"
    assert brokers.redact(SENTINELS).count(":***@") == 3 and "pw" not in brokers.redact(SENTINELS)


def test_a_sentinel_list_without_a_master_name_or_a_master_name_without_sentinels_is_refused():
    with pytest.raises(env.EnvError, match="REDIS_URL is a sentinel:// list: set REDIS_SENTINEL_MASTER"):
        brokers.choose_broker(None, SENTINELS, SQLITE)
    with pytest.raises(env.EnvError, match="REDIS_SENTINEL_MASTER='x' is set but REDIS_URL is not a sentinel:// list"):
        brokers.choose_broker(None, "redis://h/0", SQLITE, sentinel_master="x")
    with pytest.raises(env.EnvError, match=r"'redis://h:1/0' is not a sentinel://"):
        brokers.choose_broker(None, "sentinel://a:26379/0;redis://h:1/0", SQLITE, sentinel_master="x")


def test_an_unknown_or_missing_database_url_is_refused_by_name():
    with pytest.raises(env.EnvError, match=r"DATABASE_URL='mysql://u:\*\*\*@h/db': scheme 'mysql' is not supported"):
        brokers.parse_database_url("mysql://u:secret@h/db")
    with pytest.raises(env.EnvError, match="DATABASE_URL is not set: give postgresql://"):
        brokers.parse_database_url("")


def test_database_urls_parse_with_the_bundles_rules_on_top_of_dj_database_url():
    socket = brokers.parse_database_url("postgres://shop:p%40ss@/shop?host=/run/postgresql&sslmode=disable")
    assert (socket["HOST"], socket["PASSWORD"]) == ("/run/postgresql", "p@ss")
    assert socket["OPTIONS"] == {"sslmode": "disable"}
    assert (POSTGRES["PORT"], POSTGRES["CONN_MAX_AGE"], POSTGRES["CONN_HEALTH_CHECKS"]) == ("5432", 60, True)
    assert set(SQLITE) == {"ENGINE", "NAME", "OPTIONS"} and SQLITE["NAME"] == "/srv/app/db.sqlite3"
    assert SQLITE["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in SQLITE["OPTIONS"]["init_command"]
    with pytest.raises(env.EnvError, match="SQLite needs an absolute path"):
        brokers.parse_database_url("sqlite:///relative.sqlite3")
    with pytest.raises(env.EnvError, match="needs a database name"):
        brokers.parse_database_url("postgresql://shop@db.internal/")


def test_a_project_whose_celery_app_is_not_loaded_with_django_is_refused_by_the_checks():
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings", "bareproject.settings"],
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE), "DJANGO_SETTINGS_MODULE": "bareproject.settings"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "django_celery_deploy.E001" in done.stderr and "from .celery import app as celery_app" in done.stderr


# --- The queue table --------------------------------------------------------------------


def test_a_route_to_an_unknown_queue_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "queues.json"
    path.write_text(json.dumps({"queues": ["orders"], "routes": {"shop.tasks.mail": "mailing"}}))
    with pytest.raises(RoutingError, match=r"queues.json: routes name unknown queues \['mailing'\]"):
        QueueTable.from_file(path)


def test_the_queue_table_routes_named_tasks_and_defaults_the_rest():
    table = QueueTable.from_dict({"queues": {"orders": "", "mailing": ""}, "routes": {"shop.tasks.mail": "mailing"}})
    assert table.default_queue == "orders"
    assert table.queue_for("shop.tasks.mail") == "mailing" and table.queue_for("shop.tasks.other") == "orders"
    assert [queue.name for queue in table.task_queues] == ["orders", "mailing"]


# --- What migrate sets up ---------------------------------------------------------------


def test_migrate_creates_the_database_brokers_queues_the_cache_table_and_the_schedule():
    tables = connection.introspection.table_names()
    assert "test_cache" in tables
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM kombu_queue ORDER BY name")
        assert [row[0] for row in cursor.fetchall()] == ["mail", "orders"]
    assert PeriodicTask.objects.filter(name="health-check", task="django_celery_deploy.health_check").exists()


def test_sync_schedule_keeps_the_admins_retiming():
    from django.core.management import call_command

    task = PeriodicTask.objects.get(name="health-check")
    task.interval = IntervalSchedule.objects.create(every=42, period=IntervalSchedule.SECONDS)
    task.save()
    call_command("sync_schedule", verbosity=0)
    assert PeriodicTask.objects.get(name="health-check").interval.every == 42


# --- Results and the beat lock ----------------------------------------------------------


def test_a_late_retry_state_does_not_overwrite_a_success(celery_app_ready):
    backend = FinalStateDatabaseBackend(app=celery_app_ready)
    backend.store_result("t-1", 42, states.SUCCESS)
    backend.store_result("t-1", None, states.RETRY)
    assert backend.get_task_meta("t-1")["status"] == states.SUCCESS


STATES = [states.PENDING, states.RECEIVED, states.STARTED, states.RETRY, states.SUCCESS, states.FAILURE, states.REVOKED]


@pytest.mark.parametrize("stored", STATES)
def test_the_database_backend_replaces_a_stored_state_exactly_when_the_rule_allows(celery_app_ready, stored):
    from django_celery_deploy.results import keeps_stored_state

    backend = FinalStateDatabaseBackend(app=celery_app_ready)

    def value(state):  # an exception for the states that carry one, as Celery stores them
        return RuntimeError(state) if state in states.EXCEPTION_STATES else state

    for new in STATES:
        task_id = f"rule-{stored}-{new}"
        backend.store_result(task_id, value(stored), stored)
        backend.store_result(task_id, value(new), new)
        meta = backend.get_task_meta(task_id)
        expected = stored if keeps_stored_state(stored, new) else new
        assert meta["status"] == expected, (stored, new, meta)


def test_a_state_is_stored_in_one_statement_with_django_celery_results_fields(celery_app_ready):
    """Every task stores STARTED and then its result. The check-then-write under a row lock was a
    transaction of seven statements, then five: on the PostgreSQL broker those round trips were
    most of a task's cost (make bench). One conditional upsert each keeps the same rule."""
    from celery.app.task import Context
    from django.test.utils import CaptureQueriesContext
    from django_celery_results.models import TaskResult

    celery_app_ready.conf.result_extended = True
    try:
        backend = FinalStateDatabaseBackend(app=celery_app_ready)
        request = Context(id="one-statement", task="orders.ship", hostname="w1@host", argsrepr="(7,)", kwargsrepr="{}")
        with CaptureQueriesContext(connection) as started:
            backend.store_result("one-statement", None, states.STARTED, request=request)
        first = TaskResult.objects.get(task_id="one-statement")
        with CaptureQueriesContext(connection) as finished:
            backend.store_result("one-statement", {"shipped": 7}, states.SUCCESS, request=request)
        row = TaskResult.objects.get(task_id="one-statement")
    finally:
        celery_app_ready.conf.result_extended = False
    assert [len(started.captured_queries), len(finished.captured_queries)] == [1, 1], finished.captured_queries
    assert first.status == states.STARTED and first.date_started is not None
    assert row.status == states.SUCCESS and backend.get_task_meta("one-statement")["result"] == {"shipped": 7}
    # As django-celery-results writes them: created once, started kept, done at the last write.
    assert row.date_created == first.date_created and row.date_started == first.date_started
    assert row.date_done >= first.date_done
    assert (row.task_name, row.worker, row.task_args, row.task_kwargs) == ("orders.ship", "w1@host", '"(7,)"', '"{}"')


def test_a_second_beat_lock_on_the_same_database_stands_by(tmp_path):
    first, second = FileBeatLock(tmp_path / "beat.lock"), FileBeatLock(tmp_path / "beat.lock")
    assert first.try_acquire() and first.held()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


# --- /healthz from heartbeats -------------------------------------------------------------


def beat_row(queue, hostname, **values):
    fields = {"pid": 1, "concurrency": 2, "active": 0, "connected": True, "seen_at": timezone.now(), **values}
    WorkerHeartbeat.objects.update_or_create(queue=queue, hostname=hostname, source="worker", defaults=fields)


def healthz(**headers):
    response = Client(**headers).get("/healthz")
    return response.status_code, response.json()


def test_healthz_calls_a_queue_without_heartbeats_down():
    WorkerHeartbeat.objects.all().delete()
    code, body = healthz()
    assert code == 503 and body["down"] == ["orders", "mail"]
    assert "no worker has sent a heartbeat" in body["queues"]["orders"]["error"]


def test_healthz_tells_a_busy_worker_from_a_dead_one_and_names_no_host():
    WorkerHeartbeat.objects.all().delete()
    beat_row("orders", "orders@host-a")
    beat_row("mail", "mail@host-a", active=2)  # every pool slot taken: busy, not down
    code, body = healthz()
    assert code == 200, body
    assert body["queues"]["orders"]["state"] == "live" and body["queues"]["mail"]["state"] == "busy"
    assert "host-a" not in json.dumps(body)
    beat_row("mail", "mail@host-a", seen_at=timezone.now() - timedelta(seconds=30))  # 3 beats missed
    code, body = healthz()
    assert (
        code == 503 and body["down"] == ["mail"] and "no heartbeat from mail@host-a" in body["queues"]["mail"]["error"]
    )


def test_deep_healthz_needs_the_token_and_says_when_the_server_has_none(settings):
    assert Client().get("/healthz?deep=1").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/healthz?deep=1").status_code == 401
    settings.HEALTHZ_TOKEN = ""
    off = Client(HTTP_AUTHORIZATION="Bearer ").get("/healthz?deep=1")
    assert off.status_code == 403 and "HEALTHZ_TOKEN is empty" in off.json()["error"]


@pytest.mark.parametrize(
    ("header", "accepted"),
    [("Bearer {t}", True), ("bearer {t}", True), ("BEARER  {t}", True), ("Bearer {t}x", False), ("Basic {t}", False)],
)
def test_the_deep_healthz_token_scheme_is_case_insensitive_and_the_token_exact(settings, header, accepted):
    from django.test import RequestFactory
    from django_celery_deploy.health import _token_ok

    settings.HEALTHZ_TOKEN = TOKEN
    request = RequestFactory().get("/healthz?deep=1", HTTP_AUTHORIZATION=header.format(t=TOKEN))
    assert _token_ok(request) is accepted


def test_probing_an_unknown_queue_names_the_queues():
    with pytest.raises(ValueError, match=r"unknown queue\(s\) \['nope'\]; the queues are \['orders', 'mail'\]"):
        probe_queues(["nope"])


# --- A real worker ------------------------------------------------------------------------


@pytest.fixture
def settings():
    """Django's settings, restored after the test (no pytest-django here)."""
    from django.conf import settings as django_settings
    from django.test.utils import override_settings

    with override_settings():
        yield django_settings


@pytest.fixture
def celery_app_ready():
    from testproject.celery import app

    return app


@pytest.fixture
def worker():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "testproject",
            "worker",
            "-Q",
            "orders,mail",
            "-c",
            "1",
            "--pool",
            "solo",
            "-l",
            "warning",
            "--hostname",
            "pkgtest@%h",
        ],
        cwd=HERE,
        env={**os.environ, "PYTHONPATH": str(HERE)},
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_worker_answers_the_probe_on_every_queue_and_beats_for_healthz(worker):
    WorkerHeartbeat.objects.all().delete()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if WorkerHeartbeat.objects.filter(source="worker", stopped_at=None).count() == 2:
            break
        time.sleep(0.5)
    code, body = healthz()
    assert code == 200 and body["status"] == "ok", body
    statuses = probe_queues(timeout=30)
    assert [(status.queue, status.ok) for status in statuses] == [("orders", True), ("mail", True)], statuses
    deep = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}").get("/healthz?deep=1")
    assert deep.status_code == 200 and deep.json()["queues"]["mail"]["probe"]["ok"], deep.json()
    worker.send_signal(signal.SIGTERM)
    worker.wait(30)
    # A worker that stopped says so on its way out: down at once, not after its beats go stale.
    code, body = healthz()
    assert code == 503 and "stopped" in body["queues"]["orders"]["error"], body
