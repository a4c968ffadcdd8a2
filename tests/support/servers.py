"""Real Redis and PostgreSQL servers (Debian's packages) on free loopback ports.

Each server lives in its own temporary directory and is stopped by the pid it
was started with; nothing else on the machine is touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

REDIS_ROLE = Path(__file__).resolve().parents[2] / "ansible" / "roles" / "redis"


def redis_celery_permissions() -> str:
    """The Celery user's ACL rules, as the redis role defines them."""
    return yaml.safe_load((REDIS_ROLE / "defaults" / "main.yml").read_text())["redis_celery_permissions"]


def redis_default_user_rules() -> str:
    """The default user's ACL rules, as the redis role defines them (off, yet able to replay the AOF)."""
    return yaml.safe_load((REDIS_ROLE / "vars" / "main.yml").read_text())["redis_default_user_rules"]


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise ServerError(f"server exited with {proc.returncode} before listening on {port}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class RedisServer:
    """redis-server with ACLs as the roles configure it: default user off, one app user."""

    user = "celery"

    def __init__(self, base: Path | None = None, password: str = "test-redis-password", appendonly: bool = False):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise ServerError("redis-server not found: apt-get install redis-server (make test does this)")
        self.dir = Path(tempfile.mkdtemp(prefix="redis-", dir=base))
        self.port = free_port()
        self.password = password
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.user}:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        acl = self.dir / "users.acl"
        # The redis role's rules: no anonymous access, no dangerous or admin commands.
        acl.write_text(
            f"user default {redis_default_user_rules()}\n"
            f"user {self.user} on >{self.password} {redis_celery_permissions()}\n"
        )
        conf = self.dir / "redis.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\ndir {self.dir}\n"
            f'aclfile {acl}\nsave ""\nappendonly {"yes" if self.appendonly else "no"}\nmaxmemory-policy noeviction\n'
            f"logfile {self.dir / 'redis.log'}\ndaemonize no\n"
        )
        self.proc = subprocess.Popen([self.binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 15, self.proc, self.dir / "redis.log")
        return self

    def restart(self) -> RedisServer:
        """Stop (SIGTERM, as systemctl does) and start again on the same port and data."""
        stop_process(self.proc)
        return self.start()

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise ServerError("PostgreSQL server not found: apt-get install postgresql (make test does this)")
    return Path(candidates[-1]).parent


class PostgresServer:
    """A throw-away cluster; as root it runs as Debian's postgres user (initdb refuses root)."""

    def __init__(
        self,
        base: Path | None = None,
        database: str = "clinic",
        user: str = "clinic",
        password: str = "test-pg-password",
    ):
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
        self.data = self.root / "data"
        self.port = free_port()
        self.database, self.user, self.password = database, user, password
        self.proc: subprocess.Popen | None = None
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError(
                    "running as root needs the 'postgres' system user (Debian's postgresql package)"
                ) from None
            self.run_as = "postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(args)

    def start(self) -> PostgresServer:
        if self.run_as:
            os.chmod(self.root, 0o755)  # noqa: S103 - postgres must reach its data dir
            # Every parent must be traversable by the postgres user.
            parent = self.root.parent
            while parent != parent.parent:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o711)  # noqa: S103 - traverse only, no listing
                parent = parent.parent
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        log = self.root / "postgres.log"
        if self.run_as:
            log.touch()
            shutil.chown(log, "postgres", "postgres")
        self._launch()
        self.psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
        self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}")
        return self

    def _launch(self) -> None:
        log = self.root / "postgres.log"
        # fsync off: a test cluster that dies is thrown away, never recovered.
        self.proc = subprocess.Popen(
            self._cmd(
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                f"log_directory={self.root}",
                "-c",
                "logging_collector=off",
            ),
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, 30, self.proc, log)
        self._wait_ready()

    def restart(self) -> PostgresServer:
        """A fast shutdown and a start on the same data, as `systemctl restart postgresql` does."""
        self._shutdown()
        self._launch()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = subprocess.run(
                [str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if done.returncode == 0:
                return
            time.sleep(0.2)
        raise ServerError("PostgreSQL did not become ready within 30 s")

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise ServerError(f"psql failed: {done.stderr}")
        return done.stdout

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        self._shutdown()
        shutil.rmtree(self.root, ignore_errors=True)

    def _shutdown(self) -> None:
        # Signal the postmaster itself: runuser does not reliably pass signals on,
        # and an orphaned postgres would outlive the run.
        pid = self.postmaster_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
            except ProcessLookupError:
                pid = None
        deadline = time.monotonic() + 30
        while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
        if self.proc:
            stop_process(self.proc, signal.SIGINT, timeout=10)
