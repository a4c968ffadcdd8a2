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


def redis_role_defaults() -> dict:
    return yaml.safe_load((REDIS_ROLE / "defaults" / "main.yml").read_text())


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

    def __init__(
        self,
        base: Path | None = None,
        password: str = "test-redis-password",
        appendonly: bool = False,
        extra_acl: str = "",
        extra_conf: str = "",
    ):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.binary).exists():
            raise ServerError("redis-server not found: apt-get install redis-server (make test does this)")
        self.dir = Path(tempfile.mkdtemp(prefix="redis-", dir=base))
        self.port = free_port()
        self.password = password
        self.appendonly = appendonly
        self.extra_acl = extra_acl
        self.extra_conf = extra_conf
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.user}:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        acl = self.dir / "users.acl"
        # The redis role's rules: no anonymous access, no dangerous or admin commands.
        acl.write_text(
            f"user default {redis_default_user_rules()}\n"
            f"user {self.user} on >{self.password} {redis_celery_permissions()}\n" + self.extra_acl
        )
        conf = self.dir / "redis.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\ndir {self.dir}\n"
            f'aclfile {acl}\nsave ""\nappendonly {"yes" if self.appendonly else "no"}\nmaxmemory-policy noeviction\n'
            f"logfile {self.dir / 'redis.log'}\ndaemonize no\n" + self.extra_conf
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


class SentinelGroup:
    """A Redis master, its replicas and an odd number of sentinels on loopback, with the
    redis role's users and rules: replicas log in as the replication user, sentinels as
    the sentinel user, and the sentinels have their own password.

    ``url`` is the app's REDIS_URL (Celery's ``sentinel://...;sentinel://...`` form);
    ``kill_master()`` is the drill: SIGKILL, as a lost host, not a clean shutdown.
    """

    def __init__(
        self,
        base: Path | None = None,
        replicas: int = 2,
        sentinels: int = 3,
        dead_sentinel_first: bool = False,
    ):
        defaults = redis_role_defaults()
        self.master_name = defaults["redis_sentinel_master_name"]
        self.sentinel_password = "test-sentinel-password"
        self.replication = (defaults["redis_replication_user"], "test-replication-password")
        self.sentinel_user = (defaults["redis_sentinel_user"], "test-sentinel-redis-password")
        sentinel_rules = " ".join(defaults["redis_sentinel_permissions"].split())
        acl = (
            f"user {self.replication[0]} on >{self.replication[1]} {defaults['redis_replication_permissions']}\n"
            f"user {self.sentinel_user[0]} on >{self.sentinel_user[1]} {sentinel_rules}\n"
        )
        self.min_replicas = (defaults["redis_min_replicas_to_write"], defaults["redis_min_replicas_max_lag"])
        # The role's timings, not faster ones for a quicker drill: with a 1 s down-after, a
        # sentinel once judged the just-promoted replica down before its first PING reply,
        # a second failover demoted it, and the tasks it had taken were discarded (CI).
        self.down_after_ms = defaults["redis_sentinel_down_after_ms"]
        self.failover_timeout_ms = defaults["redis_sentinel_failover_timeout_ms"]
        self.redis = [RedisServer(base, appendonly=True, extra_acl=acl) for _ in range(1 + replicas)]
        master = self.redis[0]
        for server in self.redis:
            # Every server can replicate (a failed master rejoins as a replica).
            server.extra_conf = (
                f"masteruser {self.replication[0]}\nmasterauth {self.replication[1]}\n"
                f"min-replicas-to-write {self.min_replicas[0]}\nmin-replicas-max-lag {self.min_replicas[1]}\n"
            )
            if server is not master:
                server.extra_conf += f"replicaof 127.0.0.1 {master.port}\n"
        self.dir = Path(tempfile.mkdtemp(prefix="sentinels-", dir=base))
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen] = []
        # A sentinel on a host that died: its address answers no SYN. A loopback listener
        # whose one-slot backlog is held full drops every further SYN, as a dead host does.
        self.dead: list[socket.socket] = []
        if dead_sentinel_first:
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(0)
            held = [socket.create_connection(listener.getsockname(), timeout=5)]
            self.dead = [listener, *held]

    @property
    def url(self) -> str:
        user, password = RedisServer.user, self.redis[0].password
        ports = [sock.getsockname()[1] for sock in self.dead[:1]] + self.sentinel_ports
        return ";".join(f"sentinel://{user}:{password}@127.0.0.1:{port}/0" for port in ports)

    @property
    def env(self) -> dict:
        """What the django role writes into the env file for a Sentinel group."""
        return {
            "REDIS_URL": self.url,
            "REDIS_SENTINEL_MASTER": self.master_name,
            "REDIS_SENTINEL_PASSWORD": self.sentinel_password,
        }

    def start(self) -> SentinelGroup:
        for server in self.redis:
            server.start()
        quorum = len(self.sentinel_ports) // 2 + 1
        for index, port in enumerate(self.sentinel_ports):
            conf = self.dir / f"sentinel-{index}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {self.dir}\n"
                f"logfile {self.dir / f'sentinel-{index}.log'}\n"
                f"requirepass {self.sentinel_password}\nsentinel sentinel-pass {self.sentinel_password}\n"
                f"sentinel monitor {self.master_name} 127.0.0.1 {self.redis[0].port} {quorum}\n"
                f"sentinel auth-user {self.master_name} {self.sentinel_user[0]}\n"
                f"sentinel auth-pass {self.master_name} {self.sentinel_user[1]}\n"
                f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.master_name} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {self.master_name} 1\n"
            )
            proc = subprocess.Popen(
                [self.redis[0].binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
            self.sentinels.append(proc)
            wait_for_port(port, 15, proc, self.dir / f"sentinel-{index}.log")
        self.wait_until_settled()
        return self

    def sentinel_client(self, port: int | None = None):
        import redis as redis_client

        return redis_client.Redis(
            host="127.0.0.1", port=port or self.sentinel_ports[0], password=self.sentinel_password, socket_timeout=2
        )

    def master_port(self) -> int:
        """The master's port as the sentinels' majority names it now."""
        import redis as redis_client

        votes: dict[int, int] = {}
        for port in self.sentinel_ports:
            try:
                _, answer = self.sentinel_client(port).sentinel_get_master_addr_by_name(self.master_name)
                votes[int(answer)] = votes.get(int(answer), 0) + 1
            except (redis_client.RedisError, OSError, TypeError, ValueError):
                continue
        if not votes:
            raise ServerError("no sentinel answers")
        port, count = max(votes.items(), key=lambda item: item[1])
        if count <= len(self.sentinel_ports) // 2:
            raise ServerError(f"the sentinels disagree on the master: {votes}")
        return port

    def wait_until_settled(self, timeout: float = 30) -> None:
        """Every sentinel sees the others and every replica (so a failover can happen)."""
        deadline = time.monotonic() + timeout
        expected = (len(self.sentinel_ports) - 1, len(self.redis) - 1)
        while True:
            seen = []
            for port in self.sentinel_ports:
                fields = self.sentinel_client(port).sentinel_master(self.master_name)
                seen.append((int(fields["num-other-sentinels"]), int(fields["num-slaves"])))
            if all(item == expected for item in seen) and self.replicas_online() == len(self.redis) - 1:
                return
            if time.monotonic() > deadline:
                raise ServerError(f"sentinels not settled within {timeout} s: {seen} (want {expected})")
            time.sleep(0.2)

    def replicas_online(self) -> int:
        """Replicas the master counts as in sync (min-replicas-to-write counts these)."""
        import redis as redis_client

        user, password = self.sentinel_user
        info = redis_client.Redis(
            host="127.0.0.1", port=self.master_port(), username=user, password=password, socket_timeout=2
        ).info("replication")
        return sum(
            1
            for key, value in info.items()
            if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
        )

    def server_on(self, port: int) -> RedisServer:
        return next(server for server in self.redis if server.port == port)

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master, as a host that dies; returns it (stopped)."""
        master = self.server_on(self.master_port())
        master.proc.kill()
        master.proc.wait(10)
        return master

    def logs(self) -> str:
        """The tail of each sentinel's and each Redis server's log."""
        sentinels = [
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in sorted(self.dir.glob("*.log"))
        ]
        servers = [f"--- redis on port {server.port}\n{server.log()[-3000:]}" for server in self.redis]
        return "\n".join(sentinels + servers)

    def stop(self) -> None:
        for sock in self.dead:
            sock.close()
        for proc in self.sentinels:
            stop_process(proc)
        for server in self.redis:
            server.stop()
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
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError(
                    "running as root needs the 'postgres' system user (Debian's postgresql package)"
                ) from None
            self.run_as = "postgres"
            # Not under `base` (pytest's tmp_path): every pytest that starts makes
            # /tmp/pytest-of-root private again, and the postgres user lost its own data
            # directory mid-test when a second suite started.
            base = None
        self.root = Path(tempfile.mkdtemp(prefix="clinic-pg-", dir=base))
        self.data = self.root / "data"
        self.port = free_port()
        self.database, self.user, self.password = database, user, password
        self.proc: subprocess.Popen | None = None

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
