"""Database and broker selection: decided once, from configuration only.

Nothing here opens a connection. A web process and a worker that probed Redis
independently could decide differently and split tasks between two brokers;
reading the same env file makes them agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import dj_database_url

from .env import EnvError

EXPLICIT = "CELERY_BROKER_URL is set"

REDIS = "redis"
PGMQ = "pgmq"
SQLALCHEMY = "sqlalchemy"
OTHER = "other"


# SQLite shared by a web process and workers: WAL lets the web read while a worker writes;
# IMMEDIATE takes the write lock at BEGIN, so writers queue on the busy timeout instead of
# failing with "database is locked" mid-transaction.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}


def parse_database_url(url: str) -> dict:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES['default']`` dict (dj-database-url),
    with this bundle's rules on top.

    Supported: ``postgresql://user:pass@host:port/name?sslmode=...`` (also ``postgres://``;
    an empty host with ``?host=/run/postgresql`` means a unix socket, as the django role
    writes it) and ``sqlite:////absolute/path.sqlite3`` (a relative path would move with the
    working directory: refused), which gets SQLITE_OPTIONS.
    """
    if not url:
        raise EnvError(
            "DATABASE_URL is not set: give postgresql://user:password@host:port/name or sqlite:////absolute/path"
        )
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        # sqlite:////abs/path has the path "//abs/path"; sqlite:///rel has "/rel" (relative).
        if not unquote(urlsplit(url).path).startswith("//"):
            raise EnvError(
                f"DATABASE_URL={url!r}: SQLite needs an absolute path, e.g. sqlite:////var/lib/app/db.sqlite3"
            )
        database = dj_database_url.parse(url)
        return {"ENGINE": database["ENGINE"], "NAME": database["NAME"], "OPTIONS": dict(SQLITE_OPTIONS)}
    if scheme in {"postgres", "postgresql"}:
        database = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if not database["NAME"]:
            raise EnvError(f"DATABASE_URL: a PostgreSQL URL needs a database name ({scheme}://user:pass@host/name)")
        options = database.setdefault("OPTIONS", {})
        # ?host=/run/postgresql: a unix socket, which libpq takes as the host.
        database["HOST"] = options.pop("host", None) or database["HOST"]
        database["PORT"] = str(database["PORT"] or "")
        database.pop("DISABLE_SERVER_SIDE_CURSORS", None)
        return database
    raise EnvError(
        f"DATABASE_URL={redact(url)!r}: scheme {scheme!r} is not supported (use postgresql:// or sqlite:////path)"
    )


@dataclass(frozen=True)
class BrokerChoice:
    url: str
    kind: str  # REDIS, PGMQ, SQLALCHEMY or OTHER
    reason: str
    # Redis behind Sentinel: the monitored master's name, and Sentinel's own password
    # (a sentinel:// URL's password is the Redis user's, as Celery and kombu read it).
    sentinel_master: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    @property
    def sentinel(self) -> bool:
        return is_sentinel(self.url)

    @property
    def explicit(self) -> bool:
        """The URL was given, not derived: a database it names is not ours to set up."""
        return self.reason == EXPLICIT

    @property
    def is_database(self) -> bool:
        return self.kind in {PGMQ, SQLALCHEMY}

    @property
    def has_fanout(self) -> bool:
        """Remote control, events and so Flower's worker view need fanout."""
        return self.kind in {REDIS, PGMQ, OTHER}

    def redacted(self) -> str:
        return redact(self.url)


def redact(url: str) -> str:
    if ";" in url:  # a Sentinel list: each URL carries the password
        return ";".join(redact(part) for part in url.split(";"))
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def is_sentinel(url: str) -> bool:
    return urlsplit(url.split(";", 1)[0]).scheme == "sentinel"


def sentinel_addresses(url: str) -> list[tuple[str, int]]:
    """(host, port) of each sentinel in Celery's ``sentinel://...;sentinel://...`` form."""
    addresses = []
    for part in url.split(";"):
        parts = urlsplit(part.strip())
        if parts.scheme != "sentinel" or not parts.hostname:
            raise EnvError(f"{redact(part)!r} is not a sentinel://[user:password@]host:port/db URL")
        addresses.append((parts.hostname, parts.port or 26379))
    return addresses


def kind_of(url: str) -> str:
    scheme = urlsplit(url.split(";", 1)[0]).scheme
    if scheme in {"redis", "rediss", "redis+socket", "sentinel"}:
        return REDIS
    if scheme == "pgmq":
        return PGMQ
    if scheme.startswith("sqla+") or scheme.startswith("sqlalchemy+"):
        return SQLALCHEMY
    return OTHER


def database_broker_url(database: dict) -> str:
    engine = database["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqla+sqlite:///" + database["NAME"]
    if engine.endswith("postgresql"):
        user = quote(database["USER"] or "", safe="")
        password = quote(database["PASSWORD"] or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = database["HOST"] or "localhost"
        if host.startswith("/"):
            # kombu's pgmq transport takes a libpq string for socket hosts.
            host = "localhost"
        port = f":{database['PORT']}" if database["PORT"] else ""
        return f"pgmq://{auth}{host}{port}/{quote(database['NAME'], safe='')}"
    raise EnvError(f"no database broker for engine {engine}")


def choose_broker(
    explicit_url: str | None,
    redis_url: str | None,
    database: dict,
    *,
    sentinel_master: str | None = None,
    sentinel_password: str | None = None,
) -> BrokerChoice:
    """Redis when ``redis_url`` is set (behind Sentinel when it is a ``sentinel://`` list),
    else a database broker on ``database``; an explicit URL wins over both.

    With Sentinel, ``sentinel_master`` (REDIS_SENTINEL_MASTER) names the monitored group
    and ``sentinel_password`` (REDIS_SENTINEL_PASSWORD) is the sentinels' own password.
    """
    if explicit_url:
        if is_sentinel(explicit_url):
            sentinel_addresses(explicit_url)
            if not sentinel_master:
                raise EnvError(
                    "CELERY_BROKER_URL is a sentinel:// list: set REDIS_SENTINEL_MASTER to the master's name"
                )
        return BrokerChoice(explicit_url, kind_of(explicit_url), EXPLICIT, sentinel_master, sentinel_password)
    if redis_url:
        if kind_of(redis_url) != REDIS:
            raise EnvError(f"REDIS_URL={redact(redis_url)!r} is not a redis://, rediss:// or sentinel:// URL")
        if is_sentinel(redis_url):
            sentinel_addresses(redis_url)
            if not sentinel_master:
                raise EnvError("REDIS_URL is a sentinel:// list: set REDIS_SENTINEL_MASTER to the master's name")
            return BrokerChoice(redis_url, REDIS, "REDIS_URL names sentinels", sentinel_master, sentinel_password)
        if sentinel_master:
            raise EnvError(
                f"REDIS_SENTINEL_MASTER={sentinel_master!r} is set but REDIS_URL is not a sentinel:// list: "
                "give sentinel://user:password@host:26379/0;sentinel://... or unset REDIS_SENTINEL_MASTER"
            )
        return BrokerChoice(redis_url, REDIS, "REDIS_URL is set")
    url = database_broker_url(database)
    return BrokerChoice(url, kind_of(url), "no REDIS_URL: the database broker on the Django database")


def pgmq_conn_string(database: dict) -> str:
    """A libpq string for pgmq, which handles unix-socket hosts that URLs cannot."""
    fields = {
        "dbname": database["NAME"],
        "user": database["USER"],
        "password": database["PASSWORD"],
        "host": database["HOST"],
        "port": database["PORT"],
    }
    fields.update(database.get("OPTIONS") or {})

    def esc(value: str) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    return " ".join(f"{key}={esc(value)}" for key, value in fields.items() if value not in (None, ""))


def current_broker() -> BrokerChoice:
    """settings.BROKER when the project made its choice here, else the Celery app's broker_url."""
    from django.conf import settings

    choice = getattr(settings, "BROKER", None)
    if isinstance(choice, BrokerChoice):
        return choice
    from celery import current_app

    url = current_app.conf.broker_url or ""
    return BrokerChoice(url, kind_of(url), EXPLICIT)


def celery_settings(
    choice: BrokerChoice,
    database: dict,
    *,
    visibility_timeout: int,
    polling_interval: float | None = None,
    pgmq_pool_size: int = 4,
    result_backend: str | None = None,
) -> dict:
    """The CELERY_* settings that follow from the broker choice, for a settings module to adopt.

    ``visibility_timeout`` must outlast the longest task and the longest countdown,
    or a task is delivered a second time while it still runs or waits; it is also
    how long the task of a worker that died waits before another worker runs it.
    ``polling_interval`` (seconds) is how long a database-broker worker sleeps
    after an empty poll: pgmq waits in the server, so its default is short; every
    SQLite poll takes the database's write lock, so it polls less often.
    """
    if polling_interval is None:
        polling_interval = 0.02 if choice.kind == PGMQ else 0.1
    values = {
        "CELERY_BROKER_URL": choice.url,
        # Results live next to the broker: Redis with Redis, else the Django database.
        # "<class>+redis://..." selects the backend class (see results.py).
        "CELERY_RESULT_BACKEND": result_backend
        or (
            "django_celery_deploy.results:SubscribeOnWaitRedisBackend+" + choice.url
            if choice.kind == REDIS
            else "django_celery_deploy.results:FinalStateDatabaseBackend"
        ),
        "CELERY_BROKER_POLLING_INTERVAL": polling_interval,
        # SQLAlchemy has no fanout, and pgmq cannot hold the reply queue names that
        # remote control needs (47-character limit): the probe task replaces inspect ping.
        "CELERY_WORKER_ENABLE_REMOTE_CONTROL": choice.kind in {REDIS, OTHER},
    }
    if choice.kind == REDIS:
        # kombu's Redis transport without a new client object per message (see the module).
        from .redis_transport import register as register_redis

        register_redis()
        values["CELERY_BROKER_TRANSPORT_OPTIONS"] = {
            "visibility_timeout": visibility_timeout,
            # kombu sweeps unacked messages only every interval x throttle
            # (100 s by default): make the sweep follow the timeout.
            "unacked_restore_interval": max(1, min(10, visibility_timeout // 4)),
            "unacked_restore_throttle": 1,
        }
        values["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"] = {"visibility_timeout": visibility_timeout}
        # Celery's docs: the timeout in all three places it is read (the third, a
        # top-level setting, is what some code paths of the result backend use).
        values["CELERY_VISIBILITY_TIMEOUT"] = visibility_timeout
        if choice.sentinel:
            # kombu's Sentinel transport, able to hand back a dead master's tasks (see the module),
            # under its own scheme: every process that reads these settings uses it.
            from .sentinel_transport import register

            register()
            # A send during a failover waits for the new master instead of failing: Celery's
            # default (3 retries within ~1 s) refused 15 of 150 sends in the drill. A failover
            # takes the sentinels' down-after (the redis role's 5 s) plus an election, about
            # 7 s; these retries wait up to ~18 s, within a web request's timeout.
            values["CELERY_TASK_PUBLISH_RETRY_POLICY"] = {
                "max_retries": 20,
                "interval_start": 0,
                "interval_step": 0.25,
                "interval_max": 1,
            }
            sentinel = sentinel_options(choice)
            values["CELERY_BROKER_TRANSPORT_OPTIONS"].update(sentinel)
            values["CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS"].update(sentinel)
            # The result backend's connections to the master take these, not the options above.
            values["CELERY_REDIS_SOCKET_CONNECT_TIMEOUT"] = SENTINEL_CONNECT_TIMEOUT
            values["CELERY_REDIS_SOCKET_TIMEOUT"] = SENTINEL_SOCKET_TIMEOUT
            if not result_backend:
                values["CELERY_RESULT_BACKEND"] = (
                    "django_celery_deploy.results:SubscribeOnWaitSentinelBackend+" + choice.url
                )
    elif choice.kind == PGMQ:
        # kombu's transport with settles that outlast a PostgreSQL restart (see the module).
        values["CELERY_BROKER_TRANSPORT"] = "django_celery_deploy.pgmq_transport:Transport"
        options = {
            "visibility_timeout": visibility_timeout,
            "init_extension": False,  # installed at migrate time (setup_db.py), no server extension
            "poll_interval_ms": max(5, int(polling_interval * 1000)),
            "wait_time_seconds": 1,
            "polling_interval": polling_interval,
            "pool_size": pgmq_pool_size,
        }
        if not choice.explicit:
            options["conn_string"] = pgmq_conn_string(database)
        values["CELERY_BROKER_TRANSPORT_OPTIONS"] = options
    elif choice.kind == SQLALCHEMY:
        # These options go to SQLAlchemy's create_engine; the polling interval
        # is set on the transport class instead (configure_transport).
        values["CELERY_BROKER_TRANSPORT_OPTIONS"] = {"connect_args": {"timeout": 30}}
    else:
        values["CELERY_BROKER_TRANSPORT_OPTIONS"] = {"visibility_timeout": visibility_timeout}
    return values


# Seconds to wait for a TCP connection to a Redis or a sentinel. A dead host answers no
# SYN, and without a limit each connect waited out the kernel's retries (~2 min): in the
# Molecule drill the workers took 3 minutes to reach the new master, trying the dead
# host's sentinel first. A host on the private network answers within milliseconds.
SENTINEL_CONNECT_TIMEOUT = 2
# Seconds a command may wait for its reply (kombu's blocking reads wait 1 s at a time).
SENTINEL_SOCKET_TIMEOUT = 10


def sentinel_options(choice: BrokerChoice) -> dict:
    """What kombu's and Celery's Sentinel clients need beside the URL list, in both the
    broker's and the result backend's transport options (each reads only its own)."""
    from kombu.utils.json import register_type
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # A worker's `conf` reply (remote control: Flower asks every worker) carries the
    # transport options as JSON; without an encoder the Retry below failed every reply
    # with EncodeError. Shown as text: nothing reads it back.
    register_type(Retry, None, lambda retry: f"Retry(retries={retry.get_retries()})")

    sentinel_kwargs: dict = {
        "socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT,
        "socket_timeout": SENTINEL_CONNECT_TIMEOUT,
        # One try per sentinel: the client asks the next one anyway. redis-py's default (3
        # retries, backoff up to 10 s) made each dead sentinel cost ~20 s, and kombu asks
        # afresh for every channel it opens: a worker spent minutes reconnecting (Molecule).
        "retry": Retry(NoBackoff(), 0),
    }
    if choice.sentinel_password:
        # Sentinel's own password; the URLs' password is the Redis user's.
        sentinel_kwargs["password"] = choice.sentinel_password
    return {
        "master_name": choice.sentinel_master,
        "sentinel_kwargs": sentinel_kwargs,
        "socket_connect_timeout": SENTINEL_CONNECT_TIMEOUT,
        "socket_timeout": SENTINEL_SOCKET_TIMEOUT,
        "socket_keepalive": True,
    }


def cache_settings(choice: BrokerChoice, *, key_prefix: str = "", location: str | None = None) -> dict:
    """A CACHES['default'] on the broker's Redis: Django's RedisCache, or with Sentinel
    this package's SentinelRedisCache, which follows the master through a failover."""
    if choice.kind != REDIS:
        raise EnvError("cache_settings needs a Redis broker choice")
    if choice.sentinel and not location:
        options = sentinel_options(choice)
        return {
            "BACKEND": "django_celery_deploy.cache.SentinelRedisCache",
            "LOCATION": choice.url,
            "KEY_PREFIX": key_prefix,
            "OPTIONS": {
                "master_name": options["master_name"],
                "sentinel_kwargs": options["sentinel_kwargs"],
                "socket_connect_timeout": options["socket_connect_timeout"],
                "socket_timeout": options["socket_timeout"],
            },
        }
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": location or choice.url,
        "KEY_PREFIX": key_prefix,
    }


def configure_transport(**_kwargs) -> None:
    """Connect to the Celery app's on_after_configure: what settings cannot reach.

    kombu's SQLAlchemy transport passes broker_transport_options to create_engine,
    so its polling interval can only be set on the class.
    """
    choice = current_broker()
    if choice.kind == SQLALCHEMY:
        from django.conf import settings
        from kombu.transport import sqlalchemy

        sqlalchemy.Transport.polling_interval = getattr(settings, "CELERY_BROKER_POLLING_INTERVAL", 0.1)
