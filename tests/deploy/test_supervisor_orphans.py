"""The supervisor role's ExecStartPre: programs a dead supervisord left behind end warmly.

A real supervisord (the venv's) runs two programs; it is SIGKILLed, as the OOM
killer would; the reaper must TERM each orphaned program's main process once, let
it finish its work within its stopwaitsecs, and leave no supervised process behind.
The Molecule drill does the same on a deployed host under load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REAPER = ROOT / "ansible" / "roles" / "supervisor" / "files" / "supervisor-reap-orphans.py"
BIN = Path(sys.executable).parent

# A program that, like a Celery worker, finishes its work on TERM (2 s), then exits;
# it has a child, as a worker has its pool.
PROGRAM = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    out = sys.argv[1]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    def stop(*_):
        time.sleep(2)
        open(out, "a").write("finished after TERM\\n")
        child.terminate()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    open(out, "a").write("started\\n")
    while True:
        time.sleep(0.2)
    """
)


def supervised_pids(marker: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if f"REAP_DRILL={marker}".encode() in environ:
            pids.append(int(entry))
    return pids


def wait_for(predicate, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(message)


def test_programs_of_a_killed_supervisord_get_one_term_finish_and_leave_no_process(tmp_path):
    marker = tmp_path.name
    (tmp_path / "program.py").write_text(PROGRAM)
    include = tmp_path / "conf.d"
    include.mkdir()
    for name in ("worker-a", "worker-b"):
        (include / f"{name}.conf").write_text(
            f"[program:{name}]\ncommand={sys.executable} {tmp_path / 'program.py'} {tmp_path / name}.out\n"
            f"environment=REAP_DRILL={marker}\nstopwaitsecs=30\nstartsecs=0\n"
        )
    (tmp_path / "supervisord.conf").write_text(
        f"[supervisord]\nnodaemon=true\nlogfile={tmp_path / 'supervisord.log'}\npidfile={tmp_path / 's.pid'}\n"
        f"[unix_http_server]\nfile={tmp_path / 's.sock'}\n"
        f"[include]\nfiles={include}/*.conf\n"
    )
    supervisord = subprocess.Popen([BIN / "supervisord", "-c", tmp_path / "supervisord.conf"])
    try:
        wait_for(
            lambda: (
                all("started" in (tmp_path / f"{n}.out").read_text() for n in ("worker-a", "worker-b"))
                if all((tmp_path / f"{n}.out").exists() for n in ("worker-a", "worker-b"))
                else False
            ),
            30,
            "both programs started",
        )
        orphans = supervised_pids(marker)
        assert len(orphans) == 4  # two programs, each with a child
        supervisord.send_signal(signal.SIGKILL)
        supervisord.wait(10)
        assert sorted(supervised_pids(marker)) == sorted(orphans), "the programs outlive supervisord"

        reaper = subprocess.run(
            [sys.executable, REAPER, f"unix://{tmp_path / 's.sock'}", str(include)],
            capture_output=True,
            text=True,
            timeout=60,
        )

        assert reaper.returncode == 0, reaper.stderr
        assert "worker-a" in reaper.stdout and "worker-b" in reaper.stdout
        for name in ("worker-a", "worker-b"):
            assert (tmp_path / f"{name}.out").read_text().count("finished after TERM") == 1
        wait_for(lambda: not supervised_pids(marker), 10, "no supervised process is left")
    finally:
        if supervisord.poll() is None:
            supervisord.kill()
        for pid in supervised_pids(marker):
            os.kill(pid, signal.SIGKILL)


def test_the_reaper_does_nothing_when_no_supervised_process_is_left(tmp_path):
    reaper = subprocess.run(
        [sys.executable, REAPER, f"unix://{tmp_path / 's.sock'}", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert reaper.returncode == 0 and reaper.stdout == ""
