"""Celery workers and beat as real subprocesses, each in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from scripts.role_settings import queue_settings, worker_argv

APP_DIR = Path(__file__).resolve().parents[2] / "app"


class CeleryProcess:
    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict | None = None,
        name: str = "celery",
        app: str = "config",
        inherit_env: bool = True,
        argv: list[str] | None = None,
    ):
        self.name = name
        self.log = log
        # argv: a whole command line (a worker's, from its one definition); else celery -A app + args.
        self.args = argv or [sys.executable, "-m", "celery", "-A", app, *args]
        self._logfile = open(log, "ab")
        # Own session: the test can SIGKILL the whole worker (main + pool) like the OOM killer would.
        self.proc = subprocess.Popen(
            self.args,
            cwd=APP_DIR,
            # inherit_env=False: exactly `env`, for a process of another stack than the suite's.
            # PYTHONFAULTHANDLER: a process that will not stop dumps every thread's stack on
            # SIGABRT (stop() sends one before SIGKILL), so a hang names its own cause.
            env={**(os.environ if inherit_env else {}), "PYTHONFAULTHANDLER": "1", **(env or {})},
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: {needle!r} not logged within {timeout} s:\n{self.output()[-3000:]}")

    def stop(self, timeout: float = 30) -> int:
        """Warm shutdown: TERM to the main process only, as Supervisor does."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGABRT)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass
                self.kill()
        self._logfile.close()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once: no chance to ack or requeue."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)


def suite_worker_argv(queues: list[str], concurrency: int, name: str, pool: str | None = None) -> list[str]:
    """The deploy's command line (scripts/role_settings.worker_argv) with the queues' configured
    pool (the e-mail queue's threads are tested as they run) and prefetch (the reports queue's
    1), the app's settings' time limits (the suite's are short) and the test's own concurrency
    and node name; `pool` overrides the configured one (the benchmark's prefork baseline). A
    worker of several queues takes the smallest prefetch among them."""
    configured = [queue for queue in queue_settings()[0] if queue["name"] in queues]
    pools = {pool} if pool else {queue["pool"] for queue in configured}
    spec = {"name": ",".join(queues), "concurrency": concurrency, "pool": pools.pop() if len(pools) == 1 else "prefork"}
    if configured:
        spec["prefetch_multiplier"] = min(queue["prefetch_multiplier"] for queue in configured)
    return worker_argv([sys.executable, "-m", "celery"], "config", spec, hostname=f"{name}@%h", loglevel="info")


def start_worker(
    queues: list[str],
    log_dir: Path,
    concurrency: int = 2,
    env: dict | None = None,
    name: str | None = None,
    pool: str | None = None,
) -> CeleryProcess:
    name = name or f"{'-'.join(queues)}-{uuid.uuid4().hex[:6]}"
    argv = suite_worker_argv(queues, concurrency, name, pool)
    worker = CeleryProcess([], log_dir / f"worker-{name}.log", env=env, name=f"worker {name}", argv=argv)
    worker.hostname_prefix = name
    return worker


def start_beat(log_dir: Path, env: dict | None = None, inherit_env: bool = True) -> CeleryProcess:
    return CeleryProcess(
        ["beat", "-l", "info", "--pidfile=", "--max-interval", "1"],
        log_dir / f"beat-{uuid.uuid4().hex[:6]}.log",
        env=env,
        name="beat",
        inherit_env=inherit_env,
    )


def stop_all(processes: list[CeleryProcess], timeout: float = 30) -> None:
    """TERM every process first, then wait: warm shutdowns overlap instead of queueing."""
    for process in processes:
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGTERM)
    for process in processes:
        process.stop(timeout)
