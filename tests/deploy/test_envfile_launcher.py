"""The launcher every deployed program starts through: `django-celery-envfile exec FILE -- COMMAND`.

It is the supervisor role's files/django-celery-envfile.py (the companion package's django_celery_deploy/env.py),
run here with the system Python as on a host. A project's settings then only read
os.environ; the launcher must hand over the file's values, keep the process (exec, so
Supervisor's signals reach the program), and refuse a file it could not read back.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "ansible" / "roles" / "supervisor" / "files" / "django-celery-envfile.py"
PYTHON = "/usr/bin/python3"  # the host's Python, not the project's virtualenv


def launch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(LAUNCHER), *args], capture_output=True, text=True, env=env, timeout=30)


def test_exec_hands_the_files_values_to_the_command_and_the_callers_environment_wins(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("# settings\nSECRET=a b=c $HOME 'q'\nKEPT=from-file\n\nEMPTY=\n")
    script = 'printf "%s|%s|%s|%s" "$SECRET" "$KEPT" "$EMPTY" "$APP_ENV_FILE"'
    done = launch("exec", str(env_file), "--", "sh", "-c", script, env={"PATH": os.environ["PATH"], "KEPT": "caller"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"a b=c $HOME 'q'|caller||{env_file}"  # literal values, no expansion


def test_exec_replaces_itself_so_the_program_keeps_the_pid_supervisor_signals(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\n")
    proc = subprocess.Popen(
        [PYTHON, str(LAUNCHER), "exec", str(env_file), "--", "sh", "-c", "echo $$"], stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=30)
    assert int(out) == proc.pid


def test_a_malformed_file_is_refused_naming_file_and_line_and_runs_nothing(tmp_path):
    env_file = tmp_path / "app.env"
    marker = tmp_path / "ran"
    env_file.write_text("GOOD=1\nlower=2\n")
    checked = launch("check", str(env_file))
    assert checked.returncode == 1 and f"{env_file}:2: invalid variable name 'lower'" in checked.stderr
    ran = launch("exec", str(env_file), "--", "touch", str(marker))
    assert ran.returncode == 1 and not marker.exists()
    assert launch("check", str(tmp_path / "missing.env")).returncode == 1


def test_a_command_that_does_not_exist_exits_127_and_bad_usage_2(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\n")
    missing = launch("exec", str(env_file), "--", str(tmp_path / "no-such-program"))
    assert missing.returncode == 127 and "cannot run" in missing.stderr
    assert launch("exec", str(env_file), "sh").returncode == 2
    assert launch("nonsense").returncode == 2
