#!/usr/bin/env python3
"""make run: the whole stack on this machine, unprivileged, under Supervisor.

web (gunicorn), one Celery worker per queue, one beat and Flower, rendered from
the same program templates the Ansible roles use (the supervisor role's templates/). SQLite and
the database broker by default; Redis when REDIS_URL is set.

Runs in the foreground: prints where to look once every queue answers a probe,
and stops everything cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
VENV = Path(sys.prefix)
sys.path.insert(0, str(APP_DIR))

from django_celery_deploy.env import parse_env_file, write_env_file  # noqa: E402
from role_settings import project_programs, queue_settings  # noqa: E402


def log(message: str) -> None:
    print(f"run: {message}", flush=True)


def render(env: Environment, template: str, target: Path, **context) -> None:
    target.write_text(env.get_template(template).render(**context))


def prepare_env_file(path: Path, data_dir: Path) -> dict:
    """Create the env file once; later runs keep its secrets."""
    if path.exists():
        values = parse_env_file(path)
    else:
        values = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "API_TOKEN": secrets.token_urlsafe(32),
            "FLOWER_BASIC_AUTH": f"admin:{secrets.token_urlsafe(18)}",
            "ADMIN_PASSWORD": secrets.token_urlsafe(18),
        }
    values.update(
        {
            "APP_DATA_DIR": str(data_dir),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            # Plain HTTP on loopback: no TLS proxy in front here.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "DJANGO_HSTS_SECONDS": "0",
            "EMAIL_BACKEND": "file",
            "EMAIL_FILE_PATH": str(data_dir / "outbox"),
            # The weekly report's recipients (into the outbox above, like every e-mail here).
            "DJANGO_ADMINS": "admin@localhost",
        }
    )
    # The broker follows the caller's environment on every run, never a stale file.
    for key in ("REDIS_URL", "DATABASE_URL"):
        if os.environ.get(key):
            values[key] = os.environ[key]
        else:
            values.pop(key, None)
    write_env_file(path, dict(sorted(values.items())), header="Written by scripts/run.py (make run).")
    return values


def manage(env_file: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=APP_DIR, check=True, env={**os.environ, "APP_ENV_FILE": str(env_file)}
    )


def wait_http(url: str, timeout: float, expect=(200,), headers=None) -> int:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=5) as response:
                last = response.status
        except urllib.error.HTTPError as exc:
            last = exc.code
        except OSError:
            last = None
        if last in expect:
            return last
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout} s (last: {last})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("RUN_DIR", ROOT / "var" / "run")),
        help="state directory (default var/run)",
    )
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("RUN_WEB_PORT", 8000)))
    parser.add_argument("--flower-port", type=int, default=int(os.environ.get("RUN_FLOWER_PORT", 5555)))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("RUN_CONCURRENCY", 1)))
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be a positive integer")

    base = args.dir.resolve()
    data_dir, log_dir, sup_dir = base / "data", base / "logs", base / "supervisor"
    include_dir = sup_dir / "conf.d"
    for path in (data_dir / "outbox", log_dir, include_dir):
        path.mkdir(parents=True, exist_ok=True)
    for stale in include_dir.glob("*.conf"):
        stale.unlink()

    env_file = base / "app.env"
    values = prepare_env_file(env_file, data_dir)
    broker = (
        "Redis"
        if "REDIS_URL" in values
        else "PostgreSQL database broker"
        if "DATABASE_URL" in values
        else "SQLite database broker"
    )
    log(f"state in {base}; broker: {broker}")

    log("migrating the database and collecting static files")
    manage(env_file, "migrate", "--verbosity", "0")
    manage(env_file, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env_file, "ensure_admin", "--username", "admin", "--password-env", "ADMIN_PASSWORD")

    # Not HTML: Supervisor ini files, rendered exactly as Ansible renders them (no autoescape).
    jinja = Environment(  # noqa: S701
        loader=FileSystemLoader(ROOT / "ansible" / "roles" / "supervisor" / "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )  # as Ansible's template module
    # The Ansible filters the program templates use.
    jinja.filters.update(from_json=json.loads, quote=shlex.quote)
    programs = project_programs()
    common = dict(
        program_prefix="clinic",
        celery_app=programs["celery_app"],
        # The env-file launcher the deployed programs start through (the companion package's).
        envfile_exec=str(VENV / "bin" / "django-celery-envfile"),
        app_dir=str(APP_DIR),
        venv_dir=str(VENV),
        env_file=str(env_file),
        log_dir=str(log_dir),
        app_user="",
        log_maxbytes="10MB",
        log_backups=3,
    )
    render(
        jinja,
        "supervisord.conf.j2",
        sup_dir / "supervisord.conf",
        supervisor_run_dir=str(sup_dir),
        supervisor_log_dir=str(log_dir),
        supervisor_include_dir=str(include_dir),
        supervisor_socket_mode="0700",
        supervisor_nodaemon=True,
    )
    # The celery role's settings of each queue (its limits and prefetch), as compose
    # and the deploy render them; only the concurrency is this machine's (--concurrency).
    queues, stop_grace = queue_settings()
    for queue in queues:
        spec = dict(queue, concurrency=args.concurrency)
        program = dict(common, queue=spec, stop_grace_seconds=stop_grace)
        render(jinja, "worker.conf.j2", include_dir / f"worker-{queue['name']}.conf", supervisor_program=program)
    # Program templates take one dict, supervisor_program, as the supervisor role passes it.
    beat = dict(common, schedule_file=str(data_dir / "celerybeat-schedule"))
    render(jinja, "beat.conf.j2", include_dir / "beat.conf", supervisor_program=beat)
    flower = dict(common, flower_address="127.0.0.1", flower_port=args.flower_port)
    render(jinja, "flower.conf.j2", include_dir / "flower.conf", supervisor_program=flower)
    web = dict(
        common, wsgi_app=programs["wsgi_app"], web_bind=f"127.0.0.1:{args.web_port}", web_workers=2, web_timeout=30
    )
    render(jinja, "web.conf.j2", include_dir / "web.conf", supervisor_program=web)

    conf = sup_dir / "supervisord.conf"
    supervisord = subprocess.Popen([str(VENV / "bin" / "supervisord"), "-c", str(conf)], cwd=base)

    def supervisorctl(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(VENV / "bin" / "supervisorctl"), "-c", str(conf), *command], capture_output=True, text=True
        )

    stopping = False

    def stop(signum=None, _frame=None):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log("stopping: workers finish their running tasks first")
        if supervisord.poll() is None:
            supervisorctl("shutdown")
            try:
                supervisord.wait(400)
            except subprocess.TimeoutExpired:
                supervisord.kill()
        log("stopped")

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    try:
        web = f"http://127.0.0.1:{args.web_port}"
        flower = f"http://127.0.0.1:{args.flower_port}"
        wait_http(f"{web}/healthz", timeout=120, expect=(200,))
        wait_http(flower, timeout=60, expect=(401,))
        deadline = time.monotonic() + 60
        while "STARTING" in (status := supervisorctl("status").stdout) and time.monotonic() < deadline:
            time.sleep(0.5)
        if "RUNNING" not in status or any(s in status for s in ("STARTING", "FATAL", "BACKOFF", "EXITED")):
            raise RuntimeError(f"not every program is RUNNING:\n{status}")
        print(
            "\n".join(
                [
                    "",
                    f"The stack is up ({broker}): every program RUNNING, /healthz says every queue has a live worker.",
                    f"  web          {web}/healthz   (JSON API under {web}/api/, token: API_TOKEN in {env_file})",
                    f"  admin        {web}/admin/     (user admin, password: ADMIN_PASSWORD in {env_file})",
                    f"  flower       {flower}/        (FLOWER_BASIC_AUTH in {env_file})",
                    f"  logs         {log_dir}/",
                    f"  e-mail       {data_dir / 'outbox'}/",
                    f"  supervisor   {VENV / 'bin' / 'supervisorctl'} -c {conf} status",
                    "",
                    status.rstrip(),
                    "",
                    "Ctrl-C stops everything (workers finish their running tasks first).",
                    "run: ready",
                ]
            ),
            flush=True,
        )
        if "REDIS_URL" not in values:
            print(
                "note: Flower shows no workers on a database broker (no event bus); use /healthz or "
                "manage.py probe_queues.",
                flush=True,
            )
        while supervisord.poll() is None and not stopping:
            time.sleep(0.5)
    except Exception as exc:  # noqa: BLE001 - report, stop what was started, exit non-zero
        log(f"failed: {exc}")
        for path in sorted(log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-5:]
            print(f"--- {path.name}\n" + "\n".join(tail), file=sys.stderr)
        stop()
        return 1
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
