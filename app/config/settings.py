"""Django settings: every value comes from the environment (see app/env.example).

The env file named by APP_ENV_FILE is loaded first, so web, workers, beat,
Flower and manage.py all read the same configuration.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from celery.utils.time import rate as celery_rate
from django.core.exceptions import ImproperlyConfigured
from django_celery_deploy import brokers
from django_celery_deploy.env import EnvError, get_bool, get_float, get_int, get_list, get_str, load_env_file

from . import routing

try:
    load_env_file()
except (OSError, ValueError) as exc:  # EnvFileError is a ValueError
    raise ImproperlyConfigured(str(exc)) from exc

try:
    # --- Django: where it runs, what it serves, its database ---------------------------
    BASE_DIR = Path(__file__).resolve().parent.parent
    DATA_DIR = Path(get_str("APP_DATA_DIR", str(BASE_DIR / "var"))).resolve()

    DEBUG = get_bool("DJANGO_DEBUG", False)
    SECRET_KEY = get_str("DJANGO_SECRET_KEY")
    if not SECRET_KEY:
        if not DEBUG:
            raise EnvError("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off")
        SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"

    ALLOWED_HOSTS = get_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    CSRF_TRUSTED_ORIGINS = get_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

    INSTALLED_APPS = [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.staticfiles",
        "rest_framework",
        "drf_spectacular",
        "drf_spectacular_sidecar",  # Swagger UI's files served from here, not from a CDN
        "django_celery_beat",
        "django_celery_results",
        # Heartbeats, /healthz, probe_queues, beat_health, the broker set up at migrate.
        "django_celery_deploy",
        "clinic",
    ]

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        # gunicorn serves the admin's static files itself: no web server needed on loopback.
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]

    ROOT_URLCONF = "config.urls"
    WSGI_APPLICATION = "config.wsgi.application"
    TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ]

    DATABASES = {
        "default": brokers.parse_database_url(get_str("DATABASE_URL", "sqlite:///" + str(DATA_DIR / "db.sqlite3")))
    }
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

    LANGUAGE_CODE = "en-us"
    TIME_ZONE = get_str("APP_TIME_ZONE", "UTC")
    USE_I18N = True
    USE_TZ = True

    STATIC_URL = "static/"
    STATIC_ROOT = Path(get_str("DJANGO_STATIC_ROOT", str(DATA_DIR / "static")))
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    # A page whose asset was not collected degrades (unhashed URL) instead of answering 500.
    WHITENOISE_MANIFEST_STRICT = False

    # --- Security (manage.py check --deploy is clean with the defaults) ------
    # TLS ends at the reverse proxy in front of gunicorn; it says so with this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = get_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
    # Load balancers and the Molecule verifier probe over plain HTTP on loopback.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = get_bool("DJANGO_SECURE_COOKIES", not DEBUG)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = get_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = get_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = get_bool("DJANGO_HSTS_PRELOAD", False)
    # Preload-list submission is a decision for the domain's owner, not a default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
    X_FRAME_OPTIONS = "DENY"

    # --- The JSON API (Django REST Framework) -------------------------------------
    # A bearer token (no cookies, so no CSRF). Without one (development), the API is
    # open to anyone, throttled to API_ANON_RATE like the schema and docs always are.
    API_TOKEN = get_str("API_TOKEN", "")
    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["clinic.api.auth.BearerTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["clinic.api.auth.TokenRequired"],
        "DEFAULT_PARSER_CLASSES": ["clinic.api.input.StrictJSONParser"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"anon": get_str("API_ANON_RATE", "60/minute")},
        "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
        "PAGE_SIZE": get_int("API_PAGE_SIZE", 50, minimum=1),
        "EXCEPTION_HANDLER": "clinic.api.errors.handle",
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "UNAUTHENTICATED_USER": None,  # no django.contrib.auth user behind a token
    }
    SPECTACULAR_SETTINGS = {
        "TITLE": "Clinic API",
        "DESCRIPTION": "The clinic example of the Django + Celery deployment bundle.",
        "VERSION": "1",
        "SERVE_INCLUDE_SCHEMA": False,
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    }

    # --- E-mail ----------------------------------------------------------------
    _email_backends = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "file": "django.core.mail.backends.filebased.EmailBackend",
        "smtp": "django_celery_deploy.mail.EmailBackend",  # Django's, with a connection kept per thread
    }
    _email_kind = get_str("EMAIL_BACKEND", "console")
    if _email_kind not in _email_backends:
        raise EnvError(f"EMAIL_BACKEND={_email_kind!r}: use one of {sorted(_email_backends)}")
    EMAIL_BACKEND = _email_backends[_email_kind]
    EMAIL_FILE_PATH = get_str("EMAIL_FILE_PATH", str(DATA_DIR / "outbox"))
    EMAIL_HOST = get_str("EMAIL_HOST", "localhost")
    EMAIL_PORT = get_int("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = get_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = get_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = get_bool("EMAIL_USE_TLS", False)
    EMAIL_TIMEOUT = get_int("EMAIL_TIMEOUT", 10, minimum=1)
    DEFAULT_FROM_EMAIL = get_str("DEFAULT_FROM_EMAIL", "clinic@localhost")
    SERVER_EMAIL = get_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
    # Who gets the weekly report (and Django's error mails): comma-separated addresses.
    ADMINS = [(address, address) for address in get_list("DJANGO_ADMINS", [])]

    # --- Task behaviour knobs ----------------------------------------------------
    REMINDER_RETRY_DELAY = get_int("REMINDER_RETRY_DELAY", 60, minimum=1)
    REPORT_RETRY_BACKOFF = get_int("REPORT_RETRY_BACKOFF", 2, minimum=1)
    REPORT_RETRY_BACKOFF_MAX = get_int("REPORT_RETRY_BACKOFF_MAX", 600, minimum=1)
    RECORD_RETENTION_DAYS = get_int("RECORD_RETENTION_DAYS", 365, minimum=1)
    CLAIM_AUTO_APPROVE_LIMIT = get_float("CLAIM_AUTO_APPROVE_LIMIT", 5000.0, minimum=0)
    APPOINTMENT_EXPIRY_GRACE_MINUTES = get_int("APPOINTMENT_EXPIRY_GRACE_MINUTES", 30, minimum=0)
    # Per worker node and e-mail task ("20/s": at most 20 sends a second from one node), a
    # courtesy to the SMTP relay; "none" sends as fast as the emails queue's pool can.
    EMAIL_RATE_LIMIT = get_str("EMAIL_RATE_LIMIT", "20/s")
    if EMAIL_RATE_LIMIT.strip().lower() == "none":
        EMAIL_RATE_LIMIT = None
    else:
        try:
            celery_rate(EMAIL_RATE_LIMIT)  # Celery's own parser, which would fail only in the worker
        except (KeyError, ValueError):
            raise EnvError(
                f"EMAIL_RATE_LIMIT={EMAIL_RATE_LIMIT!r}: use a rate like 20/s, 600/m or 3600/h, or none"
            ) from None

    # --- Health ---------------------------------------------------------------------
    # Each worker's main process writes a heartbeat row per queue this often
    # (django_celery_deploy.heartbeat); /healthz calls a worker down after 3 missed beats.
    WORKER_HEARTBEAT_SECONDS = get_float("WORKER_HEARTBEAT_SECONDS", 10.0, minimum=0.5)
    # Anonymous /healthz answers from a per-process copy at most this old: a flood
    # of requests costs one database query per web process per period.
    HEALTHZ_CACHE_SECONDS = get_float("HEALTHZ_CACHE_SECONDS", 1.0, minimum=0)
    # /healthz?deep=1 (API token only) waits this long for each queue's probe task.
    HEALTHZ_PROBE_TIMEOUT = get_float("HEALTHZ_PROBE_TIMEOUT", 5.0, minimum=0.1)
    HEALTHZ_TOKEN = API_TOKEN

    # --- Celery, whatever the broker -------------------------------------------------
    CELERY_RESULT_EXTENDED = True  # keeps task name and worker in django-db results (admin, /api/tasks)
    CELERY_RESULT_EXPIRES = get_int("CELERY_RESULT_EXPIRES", 7 * 24 * 3600, minimum=60)

    CELERY_ACCEPT_CONTENT = ["json"]  # pickle from a broker is remote code execution
    CELERY_TASK_SERIALIZER = "json"
    CELERY_RESULT_SERIALIZER = "json"
    CELERY_TIMEZONE = TIME_ZONE
    CELERY_ENABLE_UTC = True  # one clock on every host; crontabs read in CELERY_TIMEZONE
    CELERY_TASK_TRACK_STARTED = True  # so /api/tasks tells "queued" from "running"
    CELERY_TASK_SOFT_TIME_LIMIT = get_int("CELERY_TASK_SOFT_TIME_LIMIT", 300, minimum=1)  # task may clean up
    CELERY_TASK_TIME_LIMIT = get_int("CELERY_TASK_TIME_LIMIT", 360, minimum=1)  # then the child is killed
    if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
        raise EnvError(
            f"CELERY_TASK_SOFT_TIME_LIMIT={CELERY_TASK_SOFT_TIME_LIMIT} must be below "
            f"CELERY_TASK_TIME_LIMIT={CELERY_TASK_TIME_LIMIT}"
        )
    # Tasks are written to be idempotent, so a task whose worker died is run again
    # rather than lost; tasks that must not repeat opt out per task.
    CELERY_TASK_ACKS_LATE = True
    CELERY_TASK_REJECT_ON_WORKER_LOST = True
    # Celery's default suits short tasks. Queues of long tasks (reports) run their
    # worker with a prefetch multiplier of 1 (the celery role's per-queue setting) so one
    # long task cannot hold others hostage.
    # A multiplier of 1 with concurrency 2 capped a polling broker at 2 tasks per poll.
    CELERY_WORKER_PREFETCH_MULTIPLIER = get_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4, minimum=1)
    CELERY_WORKER_MAX_TASKS_PER_CHILD = get_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 1000, minimum=1)  # leaks
    CELERY_WORKER_MAX_MEMORY_PER_CHILD = get_int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", 512000, minimum=1)  # KiB
    CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker started before Redis waits, not exits
    # On a broker restart the tasks in flight run to their end. Cancelling them (Celery's
    # option) raced kombu's restore of unacked messages while Redis was still down: the
    # restart drill (tests/app/test_redis_restart.py) lost or doubled a task per run that
    # way, and none with the tasks left to finish.
    CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
    CELERY_TASK_DEFAULT_QUEUE = routing.DEFAULT_QUEUE
    CELERY_TASK_QUEUES = routing.TASK_QUEUES
    CELERY_TASK_ROUTES = routing.TASK_ROUTES
    CELERY_TASK_CREATE_MISSING_QUEUES = False  # a typo in a queue name fails loudly
    # Events cost three messages per task. Flower switches them on in the workers
    # (enable_events remote control) while it runs, so nobody pays when nobody watches.
    CELERY_WORKER_SEND_TASK_EVENTS = get_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)
    CELERY_TASK_SEND_SENT_EVENT = get_bool("CELERY_TASK_SEND_SENT_EVENT", False)

    # --- Broker, result backend and cache: chosen once, from the env file every process reads ---
    # REDIS_URL set: Redis is the broker, result backend and cache; a sentinel:// list
    # (REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD) follows the master through a
    # failover. Unset: the database broker on DATABASE_URL. CELERY_BROKER_URL wins.
    REDIS_URL = get_str("REDIS_URL")
    _sentinel = {
        "sentinel_master": get_str("REDIS_SENTINEL_MASTER"),
        "sentinel_password": get_str("REDIS_SENTINEL_PASSWORD"),
    }
    BROKER = brokers.choose_broker(get_str("CELERY_BROKER_URL"), REDIS_URL, DATABASES["default"], **_sentinel)
    if REDIS_URL:
        # The cache lives on REDIS_URL's Redis even when CELERY_BROKER_URL names another broker.
        _redis = (
            brokers.choose_broker(None, REDIS_URL, DATABASES["default"], **_sentinel) if BROKER.explicit else BROKER
        )
        CACHES = {"default": brokers.cache_settings(_redis, key_prefix="clinic", location=get_str("REDIS_CACHE_URL"))}
    else:
        # Shared by every process (unlike locmem), so cache_warmup in a worker
        # is seen by the web process. The table is created by a migration.
        CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                "LOCATION": "clinic_cache",
                "KEY_PREFIX": "clinic",
            }
        }

    # The visibility timeout must outlast the longest task and the longest
    # countdown, or a task is delivered a second time while still running/waiting.
    # It is also how long the task of a worker that died (SIGKILL, OOM, a lost host)
    # waits before another worker runs it: Redis holds it unacknowledged until then.
    # 2400 s: the longest built-in hard limit (the reports queue's 1860 s) plus its
    # stop grace and a margin, not Celery's 3600 (a dead worker's task waited an hour).
    # Raise it with any queue's time_limit; the preflight refuses it below one.
    CELERY_VISIBILITY_TIMEOUT = get_int("CELERY_VISIBILITY_TIMEOUT", 2400, minimum=1)
    _longest_wait = max(CELERY_TASK_TIME_LIMIT, REMINDER_RETRY_DELAY, REPORT_RETRY_BACKOFF_MAX)
    if CELERY_VISIBILITY_TIMEOUT <= _longest_wait:
        raise EnvError(
            f"CELERY_VISIBILITY_TIMEOUT={CELERY_VISIBILITY_TIMEOUT} must exceed the hard time limit and every "
            f"retry delay (longest is {_longest_wait} s), or tasks run twice"
        )
    # The broker URL, its transport options (the visibility timeout in every place
    # Celery reads it), the result backend next to the broker, remote control where
    # the broker can carry it, and the database broker's polling interval.
    globals().update(
        brokers.celery_settings(
            BROKER,
            DATABASES["default"],
            visibility_timeout=CELERY_VISIBILITY_TIMEOUT,
            polling_interval=get_float("CELERY_BROKER_POLLING_INTERVAL", None, minimum=0.005),
            pgmq_pool_size=get_int("CELERY_PGMQ_POOL_SIZE", 4, minimum=1),
            result_backend=get_str("CELERY_RESULT_BACKEND"),
        )
    )

    # --- Beat -----------------------------------------------------------------------------
    # DatabaseScheduler behind a lock: a second beat stands by instead of doubling every task.
    CELERY_BEAT_SCHEDULER = "django_celery_deploy.beat:SingleBeatScheduler"
    # The default schedule; the DatabaseScheduler (and manage.py sync_schedule)
    # copies it into the database, where the admin can pause or retime entries.
    BEAT_HEALTH_CHECK_SECONDS = get_int("BEAT_HEALTH_CHECK_SECONDS", 0, minimum=0)
    CELERY_BEAT_SCHEDULE = {
        "send-daily-reminders": {"task": "clinic.tasks.send_daily_reminders", "schedule": crontab(hour=8, minute=0)},
        "cleanup-old-records": {"task": "clinic.tasks.cleanup_old_records", "schedule": crontab(hour=2, minute=0)},
        "generate-weekly-report": {
            "task": "clinic.tasks.generate_weekly_report",
            "schedule": crontab(hour=7, minute=0, day_of_week="mon"),
        },
        "check-expired-appointments": {
            "task": "clinic.tasks.check_expired_appointments",
            "schedule": crontab(minute="*/5"),
        },
        # Beat's own heartbeat: each firing lands on the monitoring worker and
        # refreshes WorkerHeartbeat(source="beat"), which `manage.py beat_health`
        # (django_celery_deploy) reads. BEAT_HEALTH_CHECK_SECONDS shortens it where a container
        # healthcheck needs a quick answer (docker/dev.env).
        "health-check": {
            "task": "django_celery_deploy.health_check",
            "schedule": (
                timedelta(seconds=BEAT_HEALTH_CHECK_SECONDS) if BEAT_HEALTH_CHECK_SECONDS else crontab(minute="*/5")
            ),
            "kwargs": {"source": "beat"},
        },
        "cache-warmup": {"task": "clinic.tasks.cache_warmup", "schedule": crontab(hour=2, minute=0)},
        "cleanup-expired-cache": {"task": "clinic.tasks.cleanup_expired_cache", "schedule": crontab(hour=3, minute=0)},
        "generate-daily-reports": {
            "task": "clinic.tasks.generate_daily_reports",
            "schedule": crontab(hour=6, minute=0),
        },
    }
    DJANGO_CELERY_BEAT_TZ_AWARE = True
except EnvError as exc:
    raise ImproperlyConfigured(str(exc)) from exc

# --- Logging ---------------------------------------------------------------------------
# One logging configuration for web, workers and beat: Celery applies this one too
# (config/celery.py's setup_logging), keeping only its -l level. LOG_FORMAT=json writes one
# JSON object per line (python-json-logger) for a log shipper; a line logged in a task
# carries the task's name and id either way (config/logging.py's TaskFilter).
_LOG_FORMAT = get_str("LOG_FORMAT", "plain")
if _LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={_LOG_FORMAT!r}: use plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "[%(asctime)s: %(levelname)s/%(processName)s]%(task)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(processName)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "processName": "process"},
        },
    },
    "filters": {"task": {"()": "config.logging.TaskFilter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": _LOG_FORMAT, "filters": ["task"]}},
    "root": {"handlers": ["stderr"], "level": get_str("LOG_LEVEL", "INFO")},
}
