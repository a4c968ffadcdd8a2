"""Configuration: the env-file format, the broker decision, and refusals with clear messages."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django_celery_deploy import brokers
from django_celery_deploy.env import EnvFileError, parse_env_file

from tests.support.procs import APP_DIR

SQLITE = brokers.parse_database_url("sqlite:////srv/clinic/db.sqlite3")
POSTGRES = brokers.parse_database_url("postgresql://clinic:s%40cret@db.internal:5433/clinic")


def test_env_file_takes_values_literally_and_skips_comments(tmp_path):
    path = tmp_path / "app.env"
    path.write_text("# comment\n\nDJANGO_SECRET_KEY=a=b#c 'd'\nEMPTY=\n")
    assert parse_env_file(path) == {"DJANGO_SECRET_KEY": "a=b#c 'd'", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOEQUALS\n", "app.env:1: expected KEY=value"),
        ("ok=1\n", "invalid variable name 'ok'"),
        ("A=1\nA=2\n", "app.env:2: A is set twice"),
    ],
)
def test_malformed_env_file_is_refused_with_file_and_line(tmp_path, text, message):
    path = tmp_path / "app.env"
    path.write_text(text)
    with pytest.raises(EnvFileError, match=message):
        parse_env_file(path)


def test_explicit_broker_url_wins_over_redis_and_database():
    choice = brokers.choose_broker("redis://other:6379/3", "redis://r:6379/0", POSTGRES)
    assert (choice.url, choice.kind) == ("redis://other:6379/3", "redis")


def test_redis_url_selects_redis():
    assert brokers.choose_broker(None, "redis://u:p@127.0.0.1:6379/0", SQLITE).kind == "redis"


def test_no_redis_on_postgresql_selects_pgmq_on_the_same_database():
    choice = brokers.choose_broker(None, None, POSTGRES)
    assert choice.kind == "pgmq" and choice.is_database
    assert choice.url == "pgmq://clinic:s%40cret@db.internal:5433/clinic"
    assert choice.redacted() == "pgmq://clinic:***@db.internal:5433/clinic"


def test_no_redis_on_sqlite_selects_the_sqlalchemy_broker_on_the_same_file():
    choice = brokers.choose_broker(None, None, SQLITE)
    assert (choice.kind, choice.url) == ("sqlalchemy", "sqla+sqlite:////srv/clinic/db.sqlite3")
    assert not choice.has_fanout


def test_pgmq_connection_string_quotes_secrets():
    conn = brokers.pgmq_conn_string(brokers.parse_database_url("postgresql://u:it's@h:5432/db"))
    assert "password='it\\'s'" in conn


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "not supported"),
        ("sqlite:///relative.db", "absolute path"),
        ("postgresql://u:p@h:5432/", "needs a database name"),
    ],
)
def test_unusable_database_url_is_refused(url, message):
    with pytest.raises(ValueError, match=message):
        brokers.parse_database_url(url)


def run_manage(*args, **env):
    # A clean environment: this process holds the suite's env-file values.
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "API_TOKEN": secrets.token_urlsafe(32),
    "APP_DATA_DIR": "/tmp/clinic-check-deploy",
    "DJANGO_ALLOWED_HOSTS": "clinic.example.org",
}


def test_check_deploy_is_clean_in_production_mode():
    done = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr


def test_missing_secret_key_is_refused_outside_debug():
    done = run_manage("check", **{**PRODUCTION, "DJANGO_SECRET_KEY": ""})
    assert done.returncode != 0 and "DJANGO_SECRET_KEY is required" in done.stderr


def test_visibility_timeout_shorter_than_the_time_limit_is_refused():
    done = run_manage("check", **PRODUCTION, CELERY_VISIBILITY_TIMEOUT="100", CELERY_TASK_TIME_LIMIT="400")
    assert done.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT=100 must exceed" in done.stderr


def test_missing_env_file_is_refused_by_name():
    done = run_manage("check", APP_ENV_FILE="/nonexistent/app.env")
    assert done.returncode != 0 and "APP_ENV_FILE=/nonexistent/app.env does not exist" in done.stderr


def test_env_example_parses_and_documents_every_variable_the_settings_read():
    """app/env.example is the documented list: it must parse, and name every variable."""
    import re

    example = APP_DIR / "env.example"
    parse_env_file(example)  # the uncommented lines are valid
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example.read_text(), re.MULTILINE))
    settings_src = (APP_DIR / "config" / "settings.py").read_text()
    read = set(re.findall(r'get_(?:str|bool|int|float|list)\(\s*"([A-Z0-9_]+)"', settings_src))
    assert read - documented == set(), f"undocumented variables: {sorted(read - documented)}"


RATE_OF = "from clinic import tasks as t; print(t.send_welcome_email.rate_limit, t.email_weekly_report.rate_limit)"


def test_the_email_rate_limit_applies_to_every_email_task_and_none_lifts_it():
    assert run_manage("shell", "-v", "0", "-c", RATE_OF, **PRODUCTION).stdout.split() == ["20/s", "20/s"]
    lifted = run_manage("shell", "-v", "0", "-c", RATE_OF, **PRODUCTION, EMAIL_RATE_LIMIT="none")
    assert lifted.stdout.split() == ["None", "None"], lifted.stderr


def test_an_email_rate_limit_celery_cannot_read_is_refused_by_name():
    done = run_manage("check", **PRODUCTION, EMAIL_RATE_LIMIT="fast")
    assert done.returncode != 0
    assert "EMAIL_RATE_LIMIT='fast': use a rate like 20/s" in done.stderr
