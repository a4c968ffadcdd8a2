"""Database and broker selection: decided once, from configuration only.

Nothing here opens a connection. A web process and a worker that probed Redis
independently could decide differently and split tasks between two brokers;
reading the same env file makes them agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .env import EnvError

REDIS = "redis"
PGMQ = "pgmq"
SQLALCHEMY = "sqlalchemy"
OTHER = "other"


def parse_database_url(url: str) -> dict:
    """Turn ``DATABASE_URL`` into a Django ``DATABASES['default']`` dict.

    Supported: ``postgresql://user:pass@host:port/name?sslmode=...`` (also
    ``postgres://``; an empty host with ``?host=/run/postgresql`` means a unix
    socket) and ``sqlite:////absolute/path.sqlite3``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "sqlite":
        # sqlite:////abs/path -> netloc '' and path '//abs/path'
        # sqlite:////abs/path has path "//abs/path"; sqlite:///rel has "/rel" (relative).
        path = unquote(parts.path)
        if not path.startswith("//"):
            raise EnvError(
                f"DATABASE_URL={url!r}: SQLite needs an absolute path, e.g. sqlite:////var/lib/app/db.sqlite3"
            )
        path = path[1:]
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "OPTIONS": {
                # WAL lets the web process read while a worker writes; IMMEDIATE
                # takes the write lock at BEGIN so writers queue on the busy
                # timeout instead of failing with "database is locked" mid-transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    if scheme in {"postgres", "postgresql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise EnvError(f"DATABASE_URL: a PostgreSQL URL needs a database name ({scheme}://user:pass@host/name)")
        options = dict(parse_qsl(parts.query))
        host = options.pop("host", None) or (unquote(parts.hostname) if parts.hostname else "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise EnvError(f"DATABASE_URL scheme {scheme!r} is not supported (use postgresql:// or sqlite:////path)")


@dataclass(frozen=True)
class BrokerChoice:
    url: str
    kind: str  # REDIS, PGMQ, SQLALCHEMY or OTHER
    reason: str

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
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


def kind_of(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in {"redis", "rediss", "redis+socket"}:
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


def choose_broker(explicit_url: str | None, redis_url: str | None, database: dict) -> BrokerChoice:
    if explicit_url:
        return BrokerChoice(explicit_url, kind_of(explicit_url), "CELERY_BROKER_URL is set")
    if redis_url:
        if kind_of(redis_url) != REDIS:
            raise EnvError(f"REDIS_URL={redact(redis_url)!r} is not a redis:// or rediss:// URL")
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
