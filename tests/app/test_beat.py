"""Beat (DatabaseScheduler) fires schedules from the database; the default schedule syncs idempotently."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_deploy.models import WorkerHeartbeat

from tests.support.procs import start_beat, start_worker


@pytest.fixture
def monitoring_worker(log_dir):
    worker = start_worker(["monitoring"], log_dir, name="beat-monitoring")
    worker.wait_for_log("ready.", timeout=90)
    yield worker
    worker.stop()


def test_default_schedule_syncs_into_the_database_idempotently():
    call_command("sync_schedule", verbosity=0)
    call_command("sync_schedule", verbosity=0)
    names = set(settings.CELERY_BEAT_SCHEDULE)
    tasks = PeriodicTask.objects.filter(name__in=names)
    assert tasks.count() == len(names)
    reminders = PeriodicTask.objects.get(name="send-daily-reminders")
    assert (reminders.crontab.hour, reminders.crontab.minute) == ("8", "0")
    weekly = PeriodicTask.objects.get(name="generate-weekly-report")
    assert weekly.crontab.day_of_week == "mon"
    assert PeriodicTask.objects.get(name="check-expired-appointments").crontab.minute == "*/5"
    assert json.loads(PeriodicTask.objects.get(name="health-check").kwargs) == {"source": "beat"}


def test_beat_fires_a_database_schedule(monitoring_worker, beat, until):
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(
        name="beat-test",
        interval=every_second,
        task="django_celery_deploy.health_check",
        kwargs=json.dumps({"source": "beat-test"}),
    )
    try:
        beat.wait_for_log("beat: Starting", timeout=60)

        def fired_three_times():
            row = WorkerHeartbeat.objects.filter(source="beat-test", queue="monitoring").first()
            return row and row.count >= 3

        until(fired_three_times, timeout=45, interval=0.5, message="beat-test fired three times")
        assert "Scheduler: Sending due task beat-test" in beat.output()
    finally:
        task.delete()


def _beat_health(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("beat_health", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_beat_health_fails_until_beats_heartbeat_reached_a_worker():
    WorkerHeartbeat.objects.filter(source="beat").delete()
    code, text = _beat_health()
    assert code == 1 and "no heartbeat yet" in text


def test_beat_health_passes_on_a_fresh_heartbeat_and_fails_on_a_stale_one():
    WorkerHeartbeat.objects.filter(source="beat").delete()
    row = WorkerHeartbeat.objects.create(queue="monitoring", hostname="monitoring@h", source="beat", count=4)
    try:
        assert _beat_health("--max-age", "60")[0] == 0
        WorkerHeartbeat.objects.filter(pk=row.pk).update(seen_at=timezone.now() - timedelta(seconds=120))
        code, text = _beat_health("--max-age", "60")
        assert code == 1 and "limit 60 s" in text
        # The default limit is two 5-minute firings plus slack: 120 s is still fine.
        assert _beat_health()[0] == 0
    finally:
        row.delete()


def test_beat_health_refuses_a_non_positive_limit():
    with pytest.raises(CommandError, match="--max-age must be a positive"):
        call_command("beat_health", "--max-age", "0")


def test_a_second_beat_stands_by_and_sends_nothing_until_the_first_one_stops(log_dir, every_second_task, until):
    first = start_beat(log_dir)
    second = None
    try:
        first.wait_for_log("holding the beat lock", timeout=60)
        first.wait_for_log("Sending due task every-second-task", timeout=30)
        second = start_beat(log_dir)
        second.wait_for_log("another beat holds the beat lock; standing by", timeout=60)
        sent_by_first = first.output().count("Sending due task every-second-task")
        until(lambda: first.output().count("Sending due task every-second-task") >= sent_by_first + 3, timeout=30)
        assert "Sending due task" not in second.output()
        assert "holding the beat lock" not in second.output()

        assert first.stop() == 0
        second.wait_for_log("holding the beat lock", timeout=30)
        second.wait_for_log("Sending due task every-second-task", timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None:
                proc.stop()


def test_a_standing_by_beat_stops_promptly_on_sigterm(log_dir):
    first = start_beat(log_dir)
    try:
        first.wait_for_log("holding the beat lock", timeout=60)
        second = start_beat(log_dir)
        second.wait_for_log("standing by", timeout=60)
        started = time.monotonic()
        second.stop(timeout=20)
        assert time.monotonic() - started < 10
        assert second.proc.returncode is not None
        assert "holding the beat lock" not in second.output()
    finally:
        first.stop()


def test_a_standing_by_beat_exits_when_a_second_sigterm_arrives_while_it_exits(log_dir):
    """`timeout` sends TERM to its child and then to its process group: a standby beat got it
    twice, and the second arrived while the first was ending the process (threading's
    shutdown, py-spy showed). Its handler built a new scheduler to sync, which waited for the
    lock again: the beat never exited (Molecule's verify hung). Here the beat sends itself
    that second TERM at exit."""
    import signal
    import sys

    from tests.support.procs import APP_DIR, CeleryProcess

    first = start_beat(log_dir)
    second = None
    try:
        first.wait_for_log("holding the beat lock", timeout=60)
        second = CeleryProcess(
            ["beat", "-l", "info", "--pidfile=", "--max-interval", "1"], log_dir / "beat-late-term.log"
        )
        second.proc.kill()
        second.proc.wait(10)
        # The same command, with a TERM to itself at interpreter exit.
        code = (
            "import atexit, os, signal, sys; atexit.register(os.kill, os.getpid(), signal.SIGTERM); "
            "sys.argv = ['celery', '-A', 'config', 'beat', '-l', 'info', '--pidfile=', '--max-interval', '1']; "
            "from celery.__main__ import main; main()"
        )
        second.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=APP_DIR,
            stdout=second._logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        second.wait_for_log("standing by", timeout=60)
        second.proc.send_signal(signal.SIGTERM)
        try:
            second.proc.wait(20)
        except subprocess.TimeoutExpired:
            second.kill()
            pytest.fail(
                f"a standby beat given a late second TERM was still running 20 s later:\n{second.output()[-2000:]}"
            )
        assert "holding the beat lock" not in second.output()
    finally:
        if second is not None:
            second.stop()
        first.stop()


def test_beat_exits_when_it_can_no_longer_prove_it_holds_the_lock(log_dir):
    from django.db import connection

    beat = start_beat(log_dir)
    try:
        beat.wait_for_log("holding the beat lock", timeout=60)
        if connection.vendor == "postgresql":
            # The lock's own session ends (a failover, a network cut, an admin's kill).
            from django_celery_deploy.beat import LOCK_APPLICATION_NAME

            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    [LOCK_APPLICATION_NAME],
                )
                assert cursor.fetchone() == (True,)
        else:
            # Someone deletes the lock file: another beat could now lock a new one.
            lock_file = Path(str(settings.DATABASES["default"]["NAME"]) + ".beat.lock")
            lock_file.unlink()
        beat.wait_for_log("the beat lock is lost", timeout=30)
        assert beat.proc.wait(30) == 1
    finally:
        beat.stop()


@pytest.mark.postgres_database  # the SQLite lock is a file, with no session to keep alive
def test_the_lock_session_asks_the_server_for_keepalives_so_a_dead_beat_host_frees_the_lock():
    # A standby beat waits for the server to end a dead host's session: with the kernel's
    # defaults that is 2 hours; the lock's session asks for ~11 s (idle 5, 3 probes 2 s apart).
    from django_celery_deploy.beat import PostgresBeatLock

    database = dict(settings.DATABASES["default"], HOST="127.0.0.1")  # keepalives are TCP's
    lock = PostgresBeatLock(database)
    try:
        assert lock.try_acquire()
        settings_now = dict(
            lock.conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name LIKE 'tcp_keepalives_%' ORDER BY name"
            ).fetchall()
        )
        assert settings_now == {"tcp_keepalives_count": "3", "tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2"}
        assert lock.conn.info.get_parameters()["keepalives_idle"] == "5"
    finally:
        lock.release()


@pytest.mark.own_redis
def test_a_beat_terminated_while_it_publishes_stops_once_the_message_is_sent(tmp_path, log_dir, every_second_task):
    """TERM mostly lands while beat sleeps, but now and then mid-publish. Celery's own handler then
    closes the broker connection under the publish and raises SystemExit, which the socket code's
    cleanup replaced with an I/O error: beat logged a failed send and went on sending, with its lock
    released, beside the standby that took it (CI saw it as a beat that would not stop). Redis
    holding every write for a while puts the TERM mid-publish every time."""
    import redis as redis_client

    from tests.support.servers import RedisServer

    server = RedisServer(tmp_path, extra_acl="user pauser on >pause-password +ping +client|pause\n").start()
    admin = redis_client.Redis(host="127.0.0.1", port=server.port, username="pauser", password="pause-password")
    broker = redis_client.Redis.from_url(server.url)
    beat = start_beat(log_dir, env={"REDIS_URL": server.url})
    try:
        beat.wait_for_log("Sending due task every-second-task", timeout=60)
        queued = broker.llen("default")
        admin.client_pause(3000, all=False)  # writes wait 3 s; reads (and the pause itself) do not
        sends = beat.output().count("Sending due task")
        deadline = time.monotonic() + 10
        while beat.output().count("Sending due task") == sends and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # beat logs before it publishes: now it waits in the LPUSH
        beat.proc.send_signal(signal.SIGTERM)
        try:
            code = beat.proc.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"beat still runs 20 s after TERM:\n{beat.output()[-3000:]}")
        output = beat.output()
        assert code == 0, output[-3000:]
        assert "Couldn't apply scheduled task" not in output, output[-3000:]
        # The send under way completed; none followed it.
        assert broker.llen("default") == queued + 1
        assert output.count("Sending due task") == sends + 1, output[-3000:]
    finally:
        beat.stop()
        server.stop()
