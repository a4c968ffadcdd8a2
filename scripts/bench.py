#!/usr/bin/env python3
"""make bench: Celery throughput and latency per broker, the app against a bare worker.

For each broker (Redis, the SQLite database broker, the PostgreSQL pgmq broker),
in a fresh server started here:

* drain rate: N tasks are queued with no worker running, then one worker
  (prefork, concurrency 2) starts; the rate is measured from the broker's own
  queue length in the steady state, from 90 % of the tasks left to 10 % left
  (the rest is purged before the next drain);
* publish rate: how fast one producer queued those N tasks;
* latency: enqueue-to-start of tasks sent one at a time to an idle worker (p50, p95);
* I/O-bound (Redis): the app's e-mail task sends to an SMTP sink on loopback that accepts
  each message after 50 ms; the e-mail queue's configured workers (threads) against a prefork
  worker with concurrency 2, counted by the messages the sink accepted, 10th to 90th percentile.

Measured for the app (its real settings: acks_late, STARTED, results, time
limits...) with a no-op task and a one-INSERT task, for a bare Celery app with
Celery's defaults and Celery's own result backend on the same broker, and for a
fair baseline (bench_fair.py: the app's broker, transport and result backend, with
STARTED, Celery's defaults otherwise), in interleaved rounds of the same run, so
every app figure is also a ratio with its spread. All three run the deploy's
worker command line (prefetch 4, a child recycled after 1000 tasks), so the ratios
price settings and backends, not flags. On PostgreSQL, each of the app's settings
is also put back to Celery's default on its own (ABLATIONS) and priced against the
app. Writes docs/bench.json and docs/bench.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from readme_block import replace_block

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app"))

BROKERS = ("redis", "sqlite", "postgres")
# --smoke (BENCH_SMOKE=1 in the per-case processes): every case once, with a tenth of the tasks,
# to check that the benchmark runs; its figures are not written.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
SCALE = 0.1 if SMOKE else 1.0
# Tasks per drain: each drain's steady state lasts about 8 s or more on this machine.
TASKS = {broker: int(n * SCALE) for broker, n in {"redis": 3000, "sqlite": 1200, "postgres": 1500}.items()}
# Interleaved rounds per broker; every ratio is the median of the rounds' paired ratios (app
# and bare measured back to back), with its spread: (max - min) / median.
ROUNDS = 1 if SMOKE else 5
# The app's settings make bench prices one at a time on PostgreSQL: label -> the Celery
# settings put back to Celery's defaults (scripts/bench_settings.py's BENCH_REVERT).
ABLATIONS = {
    "track_started": ("task_track_started",),
    "result_extended": ("result_extended",),
    "acks_late": ("task_acks_late",),
    "time_limits": ("task_soft_time_limit", "task_time_limit"),
    "results": ("result_backend",),
}
# The drain's steady state: from (1 - STEADY) of the tasks left to STEADY left.
STEADY = 0.1
LATENCY_SAMPLES = 150
# The I/O-bound case: messages per round, and how long the sink takes to accept each one.
# The configured side drains ten times faster: more messages keep its steady state as long.
IO_TASKS = {side: int(n * SCALE) for side, n in {"configured": 4000, "prefork_c2": 1200}.items()}
SMTP_DELAY = 0.05
TARGETS = {
    "app_redis_drain_vs_bare": 0.9,
    "app_postgres_drain_vs_app_redis": 0.25,
    "app_redis_p50_latency_ms_max": 10.0,
    "emails_configured_vs_prefork_c2": 10.0,
    "max_ratio_spread": 0.05,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --- One broker, in its own process -------------------------------------------------------


def measure_one(broker: str, out: Path) -> None:
    from smtp_sink import SlowSmtpSink

    from tests.support.procs import stop_all

    base = Path(tempfile.mkdtemp(prefix=f"bench-{broker}-"))
    started: list = []
    servers: list = []
    try:
        with SlowSmtpSink(SMTP_DELAY) as sink:
            _measure(broker, out, base, started, servers, sink)
    finally:
        # Whatever happened, stop what this run started (by its own handles, nothing else).
        stop_all([p for p in started if p.proc.poll() is None])
        for server in servers:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _measure(broker: str, out: Path, base: Path, started: list, servers: list, sink) -> None:
    from scripts.role_settings import worker_argv
    from tests.support.procs import CeleryProcess, start_worker, stop_all
    from tests.support.servers import PostgresServer, RedisServer

    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must traverse it
    values = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "APP_DATA_DIR": str(base / "data"),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        # The app's per-worker e-mail rate limit (20/s by default, a courtesy to a real SMTP
        # provider) would measure the limit, not the pool.
        "EMAIL_RATE_LIMIT": "none",
        "LOG_LEVEL": "WARNING",
    }
    (base / "data").mkdir()
    bare_env = {}
    # The I/O-bound case runs the production shape: Redis as the broker, PostgreSQL as the
    # database (32 threads writing their results to SQLite would measure SQLite's write lock).
    if broker in ("redis", "io"):
        redis = RedisServer(base).start()
        servers.append(redis)
        values["REDIS_URL"] = redis.url
        bare_env = {"BENCH_BROKER_URL": redis.url, "BENCH_BACKEND_URL": redis.url}
    if broker == "io":
        pg = PostgresServer(base).start()
        servers.append(pg)
        values["DATABASE_URL"] = pg.url
    elif broker == "postgres":
        pg = PostgresServer(base).start()
        servers.append(pg)
        values["DATABASE_URL"] = pg.url
        pgmq_url = f"pgmq://{pg.user}:{pg.password}@127.0.0.1:{pg.port}/{pg.database}"
        bare_env = {
            "BENCH_BROKER_URL": pgmq_url,
            "BENCH_BACKEND_URL": f"db+postgresql+psycopg://{pg.user}:{pg.password}@127.0.0.1:{pg.port}/{pg.database}",
            # The schema is installed by the app's migrate; the server has no pgmq extension.
            "BENCH_TRANSPORT_OPTIONS": json.dumps({"init_extension": False}),
        }
    elif broker == "sqlite":
        db = base / "data" / "db.sqlite3"
        bare_env = {"BENCH_BROKER_URL": f"sqla+sqlite:///{db}", "BENCH_BACKEND_URL": f"db+sqlite:///{base}/bare.db"}
    env_file = base / "app.env"
    from django_celery_deploy.env import write_env_file

    write_env_file(env_file, values, header="written by scripts/bench.py")
    os.environ["APP_ENV_FILE"] = str(env_file)
    # The app's settings plus the benchmark's tasks (bench_settings.py), for this process and
    # the workers it starts (scripts/ on their path: the shipped app carries no benchmark task).
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "scripts"), os.environ.get("PYTHONPATH")]))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import bench_app_tasks
    from celery import current_app

    from clinic import tasks

    logs = base / "logs"
    logs.mkdir()
    if broker == "io":
        out.write_text(json.dumps({"broker": "redis", "database": "postgres", **io_bound(sink, logs, started, tasks)}))
        return

    results: dict = {"broker": broker, "kind": settings.BROKER.kind, "tasks_per_round": TASKS[broker], "rounds": ROUNDS}

    def drain(app, send, queue: str, start) -> dict:
        n = TASKS[broker]
        t0 = time.perf_counter()
        for _ in range(n):
            send()
        publish = n / (time.perf_counter() - t0)
        worker = start()
        started.append(worker)
        # The steady state only: from 90 % of the tasks left to 10 % left. The ends measure the
        # pool's warm-up (imports, first connections) and the last prefetched batch, and they
        # were what moved the ratio between runs.
        high, low = int(n * (1 - STEADY)), int(n * STEADY)
        t_high = t_low = None
        deadline = time.monotonic() + 600
        # One connection for the whole watch; the transport's own count (Redis drops an
        # empty list, so a passive declare would 404).
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            while time.monotonic() < deadline:
                size = channel._size(queue)
                now = time.perf_counter()
                if t_high is None and size <= high:
                    t_high = now
                if size <= low:
                    t_low = now
                    break
                # 20 ms: a fraction of a percent of the window, and a database broker's count is a
                # query that would otherwise compete with the worker it measures.
                time.sleep(0.02)
        stop_all([worker])
        # The tail the watch stopped at (and anything a worker gave back at shutdown) must not
        # start the next drain or the latency phase behind it.
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
        if broker == "postgres":
            # Every drain leaves dead rows in the queue and result tables; autovacuum reaching them
            # in the middle of a later drain was noise. Each drain starts from a vacuumed database.
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        if t_low is None:
            raise RuntimeError(f"{broker}: queue {queue} not drained within 600 s")
        rate = (high - low) / max(t_low - t_high, 1e-6)
        return {"publish_per_s": round(publish, 1), "drain_per_s": round(rate, 1)}

    def latency(send_and_get, samples: int) -> list[float]:
        values = []
        for _ in range(samples):
            values.append(send_and_get() * 1000)
            time.sleep(0.01)
        return values

    def track(process):
        started.append(process)
        return process

    # Same worker command line for both sides (the one definition, role_settings.worker_argv),
    # INFO logging as the Supervisor programs run it.

    def app_worker(revert: tuple[str, ...] = ()):
        # revert: Celery settings put back to Celery's defaults in this worker (bench_settings.py).
        env = {"BENCH_REVERT": ",".join(revert)} if revert else None
        return track(start_worker(["default"], logs, concurrency=2, env=env, name=f"bench-{secrets.token_hex(3)}"))

    from bench_fair import app as fair

    fair_noop = fair.signature("fair.noop", queue="fair")

    def baseline_worker(module: str, queue: str, env: dict | None = None):
        # The bare and the fair baselines: Celery apps of their own (scripts/bench_<queue>.py),
        # on the deploy's worker command line like the app's.
        return track(
            CeleryProcess(
                [],
                logs / f"{queue}-{secrets.token_hex(3)}.log",
                env=env,
                name=f"{queue} worker",
                argv=worker_argv(
                    [sys.executable, "-m", "celery"],
                    module,
                    {"name": queue, "concurrency": 2},
                    hostname=f"{queue}-{secrets.token_hex(3)}@%h",
                    loglevel="info",
                ),
            )
        )

    def fair_worker():
        return baseline_worker("bench_fair", "fair")

    os.environ.update(bare_env)
    from celery import Celery

    # Not the current app: the app's shared tasks must keep going through the app.
    bare = Celery(
        "bare", broker=bare_env["BENCH_BROKER_URL"], backend=bare_env.get("BENCH_BACKEND_URL"), set_as_current=False
    )
    bare.conf.broker_transport_options = json.loads(bare_env.get("BENCH_TRANSPORT_OPTIONS", "{}"))
    bare_noop = bare.signature("bare.noop", queue="bare")
    env = {**bare_env, "PYTHONPATH": str(ROOT / "scripts")}

    def bare_worker():
        return baseline_worker("bench_bare", "bare", env)

    def app_round_trip():
        sent = time.time()
        return bench_app_tasks.noop.apply_async((sent,), queue="default").get(timeout=60, interval=0.002) - sent

    def bare_round_trip():
        sent = time.time()
        return bare_noop.apply_async((sent,)).get(timeout=60, interval=0.002) - sent

    current_app.control.purge()
    # The app's settings priced one at a time (each put back to Celery's default in an otherwise
    # identical worker), on the broker where the app trails its baseline most.
    variants = ABLATIONS if broker == "postgres" else {}
    samples: dict[str, dict[str, list]] = {
        key: {"drain_per_s": [], "publish_per_s": [], "latency_ms": []}
        for key in ("app_noop", "app_insert", "bare_noop", "fair_noop", *(f"app_noop_without_{v}" for v in variants))
    }
    per_round = max(1, LATENCY_SAMPLES // ROUNDS)
    # Interleaved rounds: drift on a shared machine hits the app and the bare worker alike.
    for _ in range(ROUNDS):
        for key, app, send, queue, start in (
            ("app_noop", current_app, lambda: bench_app_tasks.noop.apply_async(queue="default"), "default", app_worker),
            ("bare_noop", bare, lambda: bare_noop.apply_async(), "bare", bare_worker),
            ("fair_noop", fair, lambda: fair_noop.apply_async(), "fair", fair_worker),
            *(
                (
                    f"app_noop_without_{label}",
                    current_app,
                    lambda: bench_app_tasks.noop.apply_async(queue="default"),
                    "default",
                    lambda names=names: app_worker(names),
                )
                for label, names in variants.items()
            ),
            (
                "app_insert",
                current_app,
                lambda: bench_app_tasks.touch_record.apply_async(queue="default"),
                "default",
                app_worker,
            ),
        ):
            figures = drain(app, send, queue, start)
            samples[key]["drain_per_s"].append(figures["drain_per_s"])
            samples[key]["publish_per_s"].append(figures["publish_per_s"])
        for key, start, round_trip in (
            ("app_noop", app_worker, app_round_trip),
            ("bare_noop", bare_worker, bare_round_trip),
        ):
            worker = start()
            round_trip()  # the first task also proves the worker is up
            samples[key]["latency_ms"].extend(latency(round_trip, per_round))
            stop_all([worker])

    for key, figures in samples.items():
        entry = {
            "drain_per_s": round(statistics.median(figures["drain_per_s"]), 1),
            "publish_per_s": round(statistics.median(figures["publish_per_s"]), 1),
            "samples": {"drain_per_s": figures["drain_per_s"]},
        }
        if figures["latency_ms"]:
            entry["p50_ms"] = round(statistics.median(figures["latency_ms"]), 2)
            entry["p95_ms"] = round(percentile(figures["latency_ms"], 0.95), 2)
        results[key] = entry
    out.write_text(json.dumps(results, indent=2))


def io_bound(sink, logs: Path, started: list, tasks) -> dict:
    """The e-mail queue's configured workers against prefork with concurrency 2, interleaved
    rounds, each rate counted by the messages the sink accepted (steady state)."""
    from scripts.role_settings import queue_settings
    from tests.support.procs import start_worker, stop_all

    emails = next(q for q in queue_settings()[0] if q["name"] == "emails")
    # The configured side runs the queue's processes, as Supervisor and compose do.
    sides = {
        "configured": lambda: [
            start_worker(["emails"], logs, concurrency=emails["concurrency"], name=f"io-configured-{n}")
            for n in range(emails["processes"])
        ],
        "prefork_c2": lambda: [start_worker(["emails"], logs, concurrency=2, name="io-prefork", pool="prefork")],
    }
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(ROUNDS):
        for side, start in sides.items():
            sink.reset()
            n = IO_TASKS[side]
            for i in range(n):
                tasks.send_notification_email.apply_async((f"bench{i}@clinic.test", "bench", "An I/O-bound task."))
            workers = start()
            started.extend(workers)
            deadline = time.monotonic() + 600
            while len(sink.accepted) < n and time.monotonic() < deadline:
                time.sleep(0.01)
            stop_all(workers)
            accepted = list(sink.accepted)
            if len(accepted) < n:
                raise RuntimeError(f"I/O-bound case ({side}): {len(accepted)} of {n} e-mails in 600 s")
            # The steady state, as for the drains: from the 10th to the 90th percentile message.
            first, last = int(n * STEADY), int(n * (1 - STEADY))
            rates[side].append(round((last - first) / (accepted[last] - accepted[first]), 1))
    configured = statistics.median(rates["configured"])
    baseline = statistics.median(rates["prefork_c2"])
    pair = paired(rates["configured"], rates["prefork_c2"])
    return {
        "tasks_per_round": IO_TASKS,
        "rounds": ROUNDS,
        "smtp_delay_ms": round(SMTP_DELAY * 1000),
        "configured_pool": {
            "pool": emails["pool"],
            "concurrency": emails["concurrency"],
            "processes": emails["processes"],
        },
        "configured_per_s": configured,
        "prefork_c2_per_s": baseline,
        "configured_vs_prefork_c2": pair["median"],
        "configured_vs_prefork_c2_spread": pair["spread"],
        "samples": rates,
    }


# --- All brokers, report and plot --------------------------------------------------------------


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def paired(numerators: list[float], denominators: list[float]) -> dict:
    """The median of the rounds' ratios (each round's pair measured back to back, so drift on a
    shared machine cancels), and their spread: (max - min) / median."""
    ratios = [ratio(a, b) for a, b in zip(numerators, denominators, strict=True)]
    middle = statistics.median(ratios)
    return {"median": round(middle, 3), "spread": round((max(ratios) - min(ratios)) / middle, 3), "rounds": ratios}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    brokers = [r["broker"] for r in report["results"]]
    series = [("app no-op", "app_noop"), ("app insert", "app_insert"), ("bare no-op", "bare_noop")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.26
    for i, (label, key) in enumerate(series):
        xs = [b + (i - 1) * width for b in range(len(brokers))]
        left.bar(xs, [r[key]["drain_per_s"] for r in report["results"]], width, label=label)
    left.set_xticks(range(len(brokers)), brokers)
    left.set_ylabel("tasks/s (one worker, prefork c=2)")
    left.set_title("Drain rate")
    left.legend()
    for i, (label, key) in enumerate([("app p50", "app_noop"), ("bare p50", "bare_noop")]):
        xs = [b + (i - 0.5) * width for b in range(len(brokers))]
        right.bar(xs, [r[key]["p50_ms"] for r in report["results"]], width, label=label)
    right.set_xticks(range(len(brokers)), brokers)
    right.set_ylabel("ms")
    right.set_yscale("log")
    right.set_title("Enqueue-to-start latency (p50)")
    right.legend()
    fig.suptitle(f"make bench, {report['machine']['date']} ({report['machine']['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def markdown(report: dict) -> str:
    lines = [
        f"Last run {report['machine']['date']}, {report['machine']['cpus']} CPUs, one worker (prefork, concurrency 2), "
        f"{ROUNDS} interleaved rounds, steady-state drain rates (medians):",
        "",
        "| broker | app no-op tasks/s | app one-INSERT tasks/s | bare no-op tasks/s | app/bare (spread) | "
        "fair no-op tasks/s | app/fair (spread) | app p50/p95 ms | bare p50/p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        fair = r["ratios"]["app_noop_drain_vs_fair"]
        lines.append(
            f"| {r['broker']} | {r['app_noop']['drain_per_s']} | {r['app_insert']['drain_per_s']} | "
            f"{r['bare_noop']['drain_per_s']} | {r['app_noop_drain_vs_bare']} "
            f"({r['ratios']['app_noop_drain_vs_bare']['spread']:.1%}) | {r['fair_noop']['drain_per_s']} | "
            f"{fair['median']} ({fair['spread']:.1%}) | "
            f"{r['app_noop']['p50_ms']} / {r['app_noop']['p95_ms']} | {r['bare_noop']['p50_ms']} / "
            f"{r['bare_noop']['p95_ms']} |"
        )
    for r in report["results"]:
        priced = {
            k.removeprefix("without_").removesuffix("_vs_app"): v
            for k, v in r["ratios"].items()
            if k.startswith("without_")
        }
        if priced:
            lines += [
                "",
                f"Each of the app's settings priced on {r['broker']}: the same worker's no-op drain with that setting "
                "put back to Celery's default, against the app's (above 1: the setting costs that much):",
                "",
                "| setting put back | drain vs the app's (spread) |",
                "|---|---|",
                *(f"| {label} | {v['median']} ({v['spread']:.1%}) |" for label, v in priced.items()),
            ]
    io = report.get("io_emails")
    if io:
        pool = io["configured_pool"]
        lines += [
            "",
            "I/O-bound (Redis broker, PostgreSQL database): the app's e-mail task to an SMTP sink on loopback "
            "that accepts each "
            f"message after {io['smtp_delay_ms']} ms, {io['tasks_per_round']['configured']} (threads) and "
            f"{io['tasks_per_round']['prefork_c2']} (prefork) per round, {io['rounds']} interleaved rounds, "
            "counted by the sink in the steady state:",
            "",
            "| worker | e-mails/s |",
            "|---|---|",
            f"| the `emails` queue's workers ({pool['processes']} x {pool['pool']}, "
            f"concurrency {pool['concurrency']}) | "
            f"{io['configured_per_s']} |",
            f"| prefork, concurrency 2 | {io['prefork_c2_per_s']} |",
            f"| ratio (spread) | {io['configured_vs_prefork_c2']} ({io['configured_vs_prefork_c2_spread']:.1%}) |",
        ]
    lines += ["", "| target | value (spread over the rounds) | wanted | |", "|---|---|---|---|"]
    for name, check in report["targets"].items():
        spread = f" ({check['spread']:.1%})" if "spread" in check else ""
        if "ratio" in check:
            spread = f" ({check['ratio']})"
        met = "met" if check["met"] else "**not met**"
        lines.append(f"| {name} | {check['value']}{spread} | {check['target']} | {met} |")
    return "\n".join(lines) + "\n"


def update_readme(report: dict) -> None:
    lines = markdown(report).rstrip("\n").split("\n")
    replace_block(ROOT / "README.md", "bench", "docs/bench.json", lines, writer="make bench")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brokers", default=",".join(BROKERS))
    parser.add_argument("--one", choices=(*BROKERS, "io"), help=argparse.SUPPRESS)
    parser.add_argument("--no-io", action="store_true", help="leave out the I/O-bound case")
    parser.add_argument(
        "--smoke", action="store_true", help="every case once with a tenth of the tasks: checks it runs, writes nothing"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if args.smoke:
        os.environ["BENCH_SMOKE"] = "1"  # read by the per-case processes at import
    if args.one:
        measure_one(args.one, args.out)
        return 0

    brokers = [b for b in args.brokers.split(",") if b]
    unknown = sorted(set(brokers) - set(BROKERS))
    if unknown:
        parser.error(f"unknown brokers {unknown}; choose from {', '.join(BROKERS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    io = None
    for case in [*brokers, *([] if args.no_io else ["io"])]:
        print(f"bench: {case} ...", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            subprocess.run([sys.executable, __file__, "--one", case, "--out", tmp.name], check=True)
            figures = json.loads(Path(tmp.name).read_text())
        if case == "io":
            io = figures
        else:
            results.append(figures)
    for r in results:
        bare = r["bare_noop"]["samples"]["drain_per_s"]
        r["ratios"] = {
            "app_noop_drain_vs_bare": paired(r["app_noop"]["samples"]["drain_per_s"], bare),
            "app_insert_drain_vs_bare": paired(r["app_insert"]["samples"]["drain_per_s"], bare),
            # Against the fair baseline (same broker, backend and STARTED): the app's own settings.
            "app_noop_drain_vs_fair": paired(
                r["app_noop"]["samples"]["drain_per_s"], r["fair_noop"]["samples"]["drain_per_s"]
            ),
        }
        # Each setting's price: how much faster the same worker drains without it.
        for label in ABLATIONS:
            key = f"app_noop_without_{label}"
            if key in r:
                r["ratios"][f"without_{label}_vs_app"] = paired(
                    r[key]["samples"]["drain_per_s"], r["app_noop"]["samples"]["drain_per_s"]
                )
        r["app_noop_drain_vs_bare"] = r["ratios"]["app_noop_drain_vs_bare"]["median"]
        r["app_insert_drain_vs_bare"] = r["ratios"]["app_insert_drain_vs_bare"]["median"]
        r["app_p50_vs_bare"] = ratio(r["app_noop"]["p50_ms"], r["bare_noop"]["p50_ms"])
    by = {r["broker"]: r for r in results}
    checks = {}
    if "redis" in by:
        checks["app_redis_drain_vs_bare"] = {
            "value": by["redis"]["app_noop_drain_vs_bare"],
            "spread": by["redis"]["ratios"]["app_noop_drain_vs_bare"]["spread"],
            "target": f">= {TARGETS['app_redis_drain_vs_bare']}",
            "met": by["redis"]["app_noop_drain_vs_bare"] >= TARGETS["app_redis_drain_vs_bare"],
        }
        checks["app_redis_p50_latency_ms"] = {
            "value": by["redis"]["app_noop"]["p50_ms"],
            "target": f"<= {TARGETS['app_redis_p50_latency_ms_max']}",
            "met": by["redis"]["app_noop"]["p50_ms"] <= TARGETS["app_redis_p50_latency_ms_max"],
        }
    if io:
        checks["emails_configured_vs_prefork_c2"] = {
            "value": io["configured_vs_prefork_c2"],
            "spread": io["configured_vs_prefork_c2_spread"],
            "target": f">= {TARGETS['emails_configured_vs_prefork_c2']}",
            "met": io["configured_vs_prefork_c2"] >= TARGETS["emails_configured_vs_prefork_c2"],
        }
    if "redis" in by and "postgres" in by:
        # Rounds paired by their index: the brokers run one after the other, not back to back.
        across = paired(
            by["postgres"]["app_noop"]["samples"]["drain_per_s"], by["redis"]["app_noop"]["samples"]["drain_per_s"]
        )
        value = across["median"]
        checks["app_postgres_drain_vs_app_redis"] = {
            "value": value,
            "spread": across["spread"],
            "target": f">= {TARGETS['app_postgres_drain_vs_app_redis']}",
            "met": value >= TARGETS["app_postgres_drain_vs_app_redis"],
        }
    # The instrument itself: every ratio's spread over the rounds, against the 5 % it must hold.
    spreads = {f"{r['broker']}:{name}": ratio_["spread"] for r in results for name, ratio_ in r["ratios"].items()}
    if io:
        spreads["io:configured_vs_prefork_c2"] = io["configured_vs_prefork_c2_spread"]
    if spreads:
        widest = max(spreads, key=spreads.get)
        checks["max_ratio_spread"] = {
            "value": spreads[widest],
            "ratio": widest,
            "target": f"<= {TARGETS['max_ratio_spread']}",
            "met": spreads[widest] <= TARGETS["max_ratio_spread"],
        }
    report = {
        "machine": {
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "method": __doc__.strip().splitlines()[0],
        "results": results,
        "io_emails": io,
        "targets": checks,
    }
    # Deploy timings (converge, idempotent re-run) are recorded by the Molecule runs.
    deploy = args.out / "deploy-times.json"
    if deploy.exists():
        report["deploy"] = json.loads(deploy.read_text())
    if args.smoke:
        print(json.dumps(report, indent=2))
    else:
        (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
        update_readme(report)
        plot(report, args.out / "bench.png")
    print(
        f"\n{'broker':<10}{'app noop/s':>12}{'app insert/s':>14}{'bare noop/s':>13}{'ratio':>8}"
        f"{'app p50/p95 ms':>18}{'bare p50/p95 ms':>18}"
    )
    for r in results:
        print(
            f"{r['broker']:<10}{r['app_noop']['drain_per_s']:>12}{r['app_insert']['drain_per_s']:>14}"
            f"{r['bare_noop']['drain_per_s']:>13}{r['app_noop_drain_vs_bare']:>8}"
            f"{r['app_noop']['p50_ms']:>9}/{r['app_noop']['p95_ms']:<8}{r['bare_noop']['p50_ms']:>9}/"
            f"{r['bare_noop']['p95_ms']:<8}"
        )
    for name, check in checks.items():
        print(f"target {name}: {check['value']} (want {check['target']}) {'met' if check['met'] else 'NOT MET'}")
    written = f"wrote {args.out / 'bench.json'} and {args.out / 'bench.png'}"
    print("\nsmoke run: nothing written" if args.smoke else f"\n{written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
