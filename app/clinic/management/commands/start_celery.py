"""Development runner: a worker and beat in the foreground, stopped together.

Production runs them under Supervisor (one worker per queue, one beat); this
command is for a developer's terminal.
"""

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.routing import QUEUE_NAMES

# The repository's scripts/role_settings.py renders a worker's command line from its one
# definition (the supervisor role's celery_worker_argv.j2), as the deploy, compose, make run
# and the tests do. A development command: it runs from a checkout.
ROLE_SETTINGS = Path(__file__).resolve().parents[4] / "scripts" / "role_settings.py"


def worker_argv(*args, **kwargs) -> list[str]:
    if not ROLE_SETTINGS.exists():
        raise CommandError(f"start_celery runs from the repository: {ROLE_SETTINGS} is missing")
    spec = importlib.util.spec_from_file_location("role_settings", ROLE_SETTINGS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.worker_argv(*args, **kwargs)


class Command(BaseCommand):
    help = "Start a Celery worker and beat for development (Ctrl-C stops both)."

    def add_arguments(self, parser):
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--worker-only", action="store_true", help="start only the worker")
        only.add_argument("--beat-only", action="store_true", help="start only beat")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
        parser.add_argument(
            "--queues", default=",".join(QUEUE_NAMES), help=f"comma-separated queues (default {','.join(QUEUE_NAMES)})"
        )
        parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])

    def handle(self, *args, **options):
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be a positive integer")
        queues = [queue.strip() for queue in options["queues"].split(",") if queue.strip()]
        unknown = sorted(set(queues) - set(QUEUE_NAMES))
        if not queues or unknown:
            raise CommandError(f"unknown queue(s) {unknown or queues}; the queues are {', '.join(QUEUE_NAMES)}")

        celery = [sys.executable, "-m", "celery", "-A", "config"]
        commands = []
        if not options["beat_only"]:
            # One worker for every queue asked for; the app's settings give its time limits.
            queue = {"name": ",".join(queues), "concurrency": options["concurrency"]}
            commands.append(worker_argv(celery[:3], "config", queue, hostname="dev@%h", loglevel=options["loglevel"]))
        if not options["worker_only"]:
            # No pidfile: a stale one is the classic reason beat refuses to start.
            commands.append([*celery, "beat", "-l", options["loglevel"], "--pidfile="])

        # Each child leads a process group of its own, so a signal to the runner's
        # group (Ctrl-C, `timeout`, `kill -- -PGID`) reaches the runner alone. It then
        # sends each child's main process one TERM: a worker's warm shutdown lets its
        # tasks finish. A TERM that reached the pool directly killed the task in
        # flight, and a second TERM on top of a warm shutdown could leave it hanging.
        children = [subprocess.Popen(command, process_group=0) for command in commands]
        stopping = []

        def stop(_signum=None, _frame=None):
            if stopping:
                return
            stopping.append(True)
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop()
            codes = [child.wait() for child in children]
        if any(codes):
            raise SystemExit(max(codes))
