#!/usr/bin/python3
"""End the programs a dead supervisord left behind, warmly, before a new one starts.

systemd runs this before supervisord (ExecStartPre). Debian's supervisor.service
has KillMode=process: when supervisord dies (kill -9, the OOM killer), the programs
it ran live on, re-parented to PID 1, and the supervisord that systemd starts next
runs a second set beside them: two beats, two workers per queue, a web that cannot
bind its port. Each orphaned program gets what Supervisor's own stop gives it: one
TERM to its main process (a worker finishes or hands back its tasks, gunicorn
drains), then, after that program's stopwaitsecs, KILL to its process group.

A program is a process whose environment names this supervisord's socket
(SUPERVISOR_SERVER_URL, which Supervisor sets for every program) and whose parent
is not such a process itself; nothing else on the host is touched, another
supervisord's programs included.

    supervisor-reap-orphans SERVER_URL [INCLUDE_DIR] Standard library
only: it runs with the host's python3, before any virtualenv exists.
"""

from __future__ import annotations

import configparser
import glob
import os
import signal
import sys
import time

if len(sys.argv) not in (2, 3):
    sys.exit("usage: supervisor-reap-orphans SERVER_URL [INCLUDE_DIR] (e.g. unix:///run/supervisor.sock)")
SERVER_URL = sys.argv[1].encode()
# Where the program files are, for each program's stopwaitsecs (Debian's by default).
INCLUDE_DIR = sys.argv[2] if len(sys.argv) > 2 else "/etc/supervisor/conf.d"


def supervised() -> dict[int, tuple[str, int]]:
    """pid -> (program name, parent pid) of every process Supervisor started, with its children."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        name = environ.get(b"SUPERVISOR_PROCESS_NAME")
        if name and environ.get(b"SUPERVISOR_SERVER_URL") == SERVER_URL:
            found[int(entry)] = (name.decode(errors="replace"), ppid)
    return found


def stop_wait_seconds() -> dict[str, int]:
    """Each program's stopwaitsecs, as its own program file says (Supervisor's default 10)."""
    waits = {}
    for path in glob.glob(os.path.join(INCLUDE_DIR, "*.conf")):
        parser = configparser.RawConfigParser(strict=False, inline_comment_prefixes=(";",))
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in parser.sections():
            if section.startswith("program:"):
                waits[section.split(":", 1)[1]] = parser.getint(section, "stopwaitsecs", fallback=10)
    return waits


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def main() -> int:
    processes = supervised()
    mains = {pid: name for pid, (name, ppid) in processes.items() if ppid not in processes}
    if not mains:
        return 0
    waits = stop_wait_seconds()
    print(
        f"supervisor-reap-orphans: stopping programs left by a dead supervisord: "
        f"{', '.join(f'{name} ({pid})' for pid, name in sorted(mains.items()))}",
        flush=True,
    )
    deadlines = {}
    for pid, name in mains.items():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadlines[pid] = time.monotonic() + waits.get(name, 10)
    while deadlines:
        for pid, deadline in list(deadlines.items()):
            if not alive(pid):
                del deadlines[pid]
            elif time.monotonic() >= deadline:
                print(f"supervisor-reap-orphans: {mains[pid]} ({pid}) outlived its stopwaitsecs: KILL", flush=True)
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                del deadlines[pid]
        time.sleep(0.5)
    # Whatever a main process left behind (pool children) goes with it, as killasgroup does.
    for pid in supervised():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("supervisor-reap-orphans: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
