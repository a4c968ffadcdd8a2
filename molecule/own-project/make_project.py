#!/usr/bin/env python3
"""Generate the project the own-project scenario deploys: made the way a team makes one.

`django-admin startproject shop`, then what a team adds for Celery, deliberately unlike
the clinic example: another settings package (shop), the Celery app in shop/tasking.py
(`celery -A shop.tasking`), two queues with other names (orders, mailing) routed by task
module, its own task modules, settings read from os.environ only (no env-file loader:
the deployed programs get their environment from the supervisor role's launcher), and
the code committed to a git repository that the inventory names by a local path.

    make_project.py DIR [--companion] [--wheel]
        creates DIR (a git repository on branch main) unless it exists

--companion adds the companion package, as its README tells a project to: INSTALLED_APPS,
the single-beat scheduler and beat's heartbeat entry, /healthz, the queues declared (the
probe and /healthz cover the declared queues), and the pins it needs. The package's code
is not in the project: the inventory names its directory in django_project_packages. That
variant also pins uvicorn and uvicorn-worker: the inventory serves it as ASGI (shop/asgi.py).

--wheel makes the project installable (a pyproject.toml with setuptools, committed) and builds
its wheel into DIR/dist/ (ignored by git), as a team's CI would: the inventory deploys that
file (django_project_dist), whose release holds no manage.py. Built offline, with the
setuptools that requirements/dev.txt pins.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SETTINGS_TAIL = """

# --- Added for the deployment: everything from the environment the roles write ------------
import os  # noqa: E402
from urllib.parse import unquote, urlsplit  # noqa: E402

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = os.environ.get("DJANGO_DEBUG", "false") == "true"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]
INSTALLED_APPS += ["orders", "mailing"]  # noqa: F405


def _database(url):
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": _database(os.environ["DATABASE_URL"])}
STATIC_ROOT = os.path.join(os.environ["APP_DATA_DIR"], "static")

CELERY_BROKER_URL = os.environ["REDIS_URL"]
CELERY_RESULT_BACKEND = os.environ["REDIS_URL"]
CELERY_TASK_ROUTES = {"orders.tasks.*": {"queue": "orders"}, "mailing.tasks.*": {"queue": "mailing"}}
CELERY_TASK_DEFAULT_QUEUE = "orders"
CELERY_BEAT_SCHEDULE = {"tick": {"task": "orders.tasks.tick", "schedule": 5.0}}
"""

COMPANION_SETTINGS = """

# --- The companion package (packages/django-celery-deploy): probes, heartbeats, one beat --
from kombu import Queue  # noqa: E402

INSTALLED_APPS += ["django_celery_beat", "django_celery_results", "django_celery_deploy"]  # noqa: F405
CELERY_TASK_QUEUES = (Queue("orders"), Queue("mailing"))
CELERY_BEAT_SCHEDULER = "django_celery_deploy.beat:SingleBeatScheduler"
CELERY_BEAT_SCHEDULE["beat-heartbeat"] = {
    "task": "django_celery_deploy.health_check",
    "schedule": 5.0,
    "kwargs": {"source": "beat"},
}
HEALTHZ_TOKEN = os.environ.get("API_TOKEN", "")
"""

COMPANION_URLS = """
urlpatterns += [path("", include("django_celery_deploy.urls"))]  # /healthz
"""

TASKING = '''"""The Celery app: `celery -A shop.tasking`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
'''

ORDERS_TASKS = '''import socket

from celery import shared_task


@shared_task(bind=True)
def where(self):
    """Which worker ran this: proves the orders queue has its own worker."""
    return {"queue": "orders", "hostname": self.request.hostname, "host": socket.gethostname()}


@shared_task
def tick():
    """Sent by beat every 5 seconds."""
    return "tick"
'''

MAILING_TASKS = '''from celery import shared_task


@shared_task(bind=True)
def where(self):
    """Which worker ran this: proves the mailing queue has its own worker."""
    return {"queue": "mailing", "hostname": self.request.hostname}
'''

# What the project pins: the runtime packages it needs, at the versions this repository tests.
NEEDS = {"django", "celery", "redis", "gunicorn", "psycopg", "psycopg-binary"}
# And what the companion package needs on top: its declared dependencies (its pyproject.toml,
# the one list), and what django-celery-beat pulls in.
COMPANION_NEEDS = {
    re.split(r"[<>=!~\[; ]", dependency, maxsplit=1)[0].lower()
    for dependency in tomllib.loads((ROOT / "packages" / "django-celery-deploy" / "pyproject.toml").read_text())[
        "project"
    ]["dependencies"]
} | {"django-timezone-field", "python-crontab", "cron-descriptor"}
# The companion variant is served as ASGI: gunicorn with uvicorn's worker class. Not in the
# clinic's pins, so pinned here (the versions this repository last tested).
ASGI_PINS = ["uvicorn==0.54.0", "uvicorn-worker==0.4.0", "h11==0.16.0"]


PYPROJECT = """[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "shop"
version = "0.1.0"
requires-python = ">=3.11"

[tool.setuptools.packages.find]
include = ["shop*", "orders*", "mailing*"]
"""
WHEEL = "shop-0.1.0-py3-none-any.whl"


def name(line: str) -> str:
    return line.split("==")[0].split("[")[0].strip().lower().replace("_", "-")


def pins(companion: bool) -> str:
    lines = (ROOT / "requirements" / "app.txt").read_text().splitlines()
    needs = NEEDS | COMPANION_NEEDS if companion else NEEDS
    wanted = [line for line in lines if name(line) in needs]
    # And what those pull in, so pip resolves nothing unpinned.
    deps = {"amqp", "asgiref", "billiard", "click", "click-didyoumean", "click-plugins", "click-repl", "kombu",
            "prompt-toolkit", "python-dateutil", "six", "sqlparse", "tzdata", "vine", "wcwidth", "packaging",
            "typing-extensions"}  # fmt: skip
    wanted += [line for line in lines if name(line) in deps]
    if companion:
        wanted += ASGI_PINS
    return "\n".join(["# shop's runtime, pinned", *sorted(set(wanted), key=str.lower)]) + "\n"


def git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "shop", "GIT_AUTHOR_EMAIL": "shop@example.invalid",
           "GIT_COMMITTER_NAME": "shop", "GIT_COMMITTER_EMAIL": "shop@example.invalid",
           "PATH": "/usr/bin:/bin", "HOME": str(repo)}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def make(target: Path, companion: bool, wheel: bool) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    django_admin = Path(sys.executable).parent / "django-admin"
    subprocess.run([str(django_admin), "startproject", "shop", str(tmp)], check=True)
    settings = tmp / "shop" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_TAIL + (COMPANION_SETTINGS if companion else ""))
    if companion:
        urls = tmp / "shop" / "urls.py"
        text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
        urls.write_text(text + COMPANION_URLS)
    (tmp / "shop" / "tasking.py").write_text(TASKING)
    # As Celery's Django guide has it: the app loads with Django, so shared tasks sent from
    # the web or a shell use it (and its broker), not Celery's default app.
    (tmp / "shop" / "__init__.py").write_text('from .tasking import app as celery_app\n\n__all__ = ("celery_app",)\n')
    for app, tasks in (("orders", ORDERS_TASKS), ("mailing", MAILING_TASKS)):
        (tmp / app).mkdir()
        (tmp / app / "__init__.py").write_text("")
        (tmp / app / "tasks.py").write_text(tasks)
    (tmp / "requirements.txt").write_text(pins(companion))
    if wheel:
        (tmp / "pyproject.toml").write_text(PYPROJECT)
        (tmp / ".gitignore").write_text("/build/\n/dist/\n*.egg-info/\n")
    git(tmp, "init", "-q", "-b", "main")
    git(tmp, "add", "-A")
    git(tmp, "commit", "-q", "-m", "shop: startproject, Celery, two queues")
    if wheel:
        # No build isolation: nothing is fetched, the controller's setuptools builds it.
        build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", "."]
        subprocess.run(build, check=True, cwd=tmp)
        if not (tmp / "dist" / WHEEL).is_file():
            sys.exit(f"make_project.py: pip built no dist/{WHEEL} in {tmp}")
    tmp.rename(target)


def main(argv: list[str]) -> int:
    flags = argv[1:]
    if not argv or not set(flags) <= {"--companion", "--wheel"} or len(set(flags)) != len(flags):
        sys.exit("usage: make_project.py DIR [--companion] [--wheel]")
    target = Path(argv[0]).resolve()
    if not target.exists():
        make(target, companion="--companion" in flags, wheel="--wheel" in flags)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
