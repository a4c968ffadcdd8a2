"""manage.py start_celery: the developer's runner stops warmly however it is signalled.

A terminal's Ctrl-C, `timeout` and `kill -- -PGID` signal the whole process group;
an IDE or `kill PID` signals the runner alone. Each child must get exactly one
TERM: a second one on top of a warm shutdown left the worker hanging forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from tests.support.procs import APP_DIR
from tests.support.waiting import wait_until


class Runner:
    def __init__(self, log_dir, *args):
        self.log = log_dir / f"start_celery-{uuid.uuid4().hex[:6]}.log"
        self._logfile = open(self.log, "wb")
        # Its own process group, as a terminal's foreground job has.
        self.groups = []
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "start_celery", "--concurrency", "1", *args],
            cwd=APP_DIR,
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[str]:
        found = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return found.stdout.split()

    def members(self, groups) -> list[str]:
        """Every live process of the runner's group and of the given (its children's) groups."""
        found = subprocess.run(["pgrep", "-g", ",".join([str(self.proc.pid), *groups])], capture_output=True, text=True)
        return found.stdout.split()

    def kill(self):
        for pid in self.members(self.groups):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._logfile.close()


@pytest.fixture
def runner(log_dir):
    started = []

    def start(*args):
        runner = Runner(log_dir, *args)
        started.append(runner)
        wait_until(lambda: " ready." in runner.output(), 90, 0.2, f"the worker is ready ({runner.log})")
        runner.groups = runner.children()  # each child leads its own process group
        return runner

    yield start
    for runner in started:
        runner.kill()


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(lambda proc: os.killpg(proc.pid, signal.SIGTERM), id="TERM-to-the-process-group"),
        pytest.param(lambda proc: os.killpg(proc.pid, signal.SIGINT), id="Ctrl-C-to-the-process-group"),
        pytest.param(lambda proc: proc.send_signal(signal.SIGTERM), id="TERM-to-the-runner-alone"),
    ],
)
def test_start_celery_lets_the_task_in_flight_finish_and_exits_however_it_is_signalled(runner, how):
    from clinic.models import ProgressRun
    from clinic.tasks import long_running_task

    dev = runner("--queues", "reports")
    task_id = long_running_task.delay(total=4, step_seconds=1).id
    wait_until(lambda: ProgressRun.objects.filter(task_id=task_id, done__gte=1).exists(), 60, 0.2, "the task runs")
    how(dev.proc)
    try:
        code = dev.proc.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"start_celery still running 60 s after the signal:\n{dev.output()[-3000:]}")
    assert code == 0, dev.output()[-3000:]
    assert "Warm shutdown" in dev.output(), dev.output()[-3000:]
    run = ProgressRun.objects.get(task_id=task_id)
    assert (run.done, run.finished_at is not None) == (4, True), dev.output()[-3000:]
    assert dev.groups, "start_celery started no child"
    wait_until(lambda: not dev.members(dev.groups), 10, 0.2, "no process of the runner or its children is left")
