"""The compose dev stack under test, and the checks both broker variants must pass."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from tests.support.servers import free_port
from tests.support.waiting import wait_until

from .support import (
    ARTIFACTS,
    QUEUES,
    Api,
    assert_each_queue_answers_on_its_own_worker,
    chromium,
    dev_env,
    environ,
    queue_settings,
    run,
    screenshot,
    worker_services,
)

WORKERS = worker_services()
SERVICES = {
    "redis": {
        "redis",
        "db",
        "migrate",
        "web",
        "beat",
        "flower",
        *(s for services in WORKERS.values() for s in services),
    },
    "database": {"db", "migrate", "web", "beat", *(s for services in WORKERS.values() for s in services)},
}


class ComposeStack:
    """One project of docker/compose.yml (redis) or docker/compose.db-broker.yml (database)."""

    def __init__(self, broker: str):
        self.broker = broker
        self.project = f"clinic-test-{broker}-{os.getpid()}"
        self.ports = {name: free_port() for name in ("WEB", "FLOWER", "DB", "REDIS")}
        self.env = environ(
            COMPOSE_PROJECT_NAME=self.project, **{f"CLINIC_{name}_PORT": port for name, port in self.ports.items()}
        )
        self.label = f"label=com.docker.compose.project={self.project}"
        self.secrets = dev_env()
        self.api = Api(f"http://127.0.0.1:{self.ports['WEB']}", self.secrets["API_TOKEN"])

    def compose(self, *args, check=True, timeout=900):
        return run(["bash", "scripts/compose.sh", self.broker, *args], env=self.env, check=check, timeout=timeout)

    def containers(self) -> dict[str, dict]:
        ids = run(["docker", "ps", "-aq", "--filter", self.label]).stdout.split()
        if not ids:
            return {}
        inspected = json.loads(run(["docker", "inspect", *ids]).stdout)
        return {item["Config"]["Labels"]["com.docker.compose.service"]: item for item in inspected}

    def volumes(self) -> list[str]:
        return run(["docker", "volume", "ls", "-q", "--filter", self.label]).stdout.split()

    @staticmethod
    def anonymous_volumes() -> set[str]:
        return set(run(["docker", "volume", "ls", "-q", "--filter", "dangling=true"]).stdout.split())

    def exec(self, service: str, *argv, check=True):
        return run(["docker", "exec", self.containers()[service]["Id"], *argv], check=check, timeout=120)

    def not_ready(self) -> list[str]:
        waiting = []
        for service, item in self.containers().items():
            state = item["State"]
            if service == "migrate":
                if state["Status"] != "exited" or state["ExitCode"] != 0:
                    waiting.append(f"migrate: {state['Status']} (exit {state['ExitCode']})")
            elif state.get("Health", {}).get("Status") != "healthy":
                waiting.append(f"{service}: {state['Status']}/{state.get('Health', {}).get('Status')}")
        return waiting

    def up(self):
        self.compose("build")
        self.compose("up", "-d")
        wait_until(lambda: not self.not_ready() or None, 300, 2, f"every service healthy ({self.project})")

    def stop(self) -> dict[str, dict]:
        """`stop`, as `down` does first; returns each container's final state."""
        self.compose("stop", timeout=600)
        return {service: item["State"] for service, item in self.containers().items()}

    def down(self):
        logs = self.compose("logs", "--no-color", check=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"compose-{self.broker}.log").write_text(logs.stdout)
        self.compose("down", "-v", "--remove-orphans", timeout=600)


def stack_fixture(broker: str):
    """The module-scoped `stack` fixture of one variant's test module."""

    @pytest.fixture(scope="module")
    def stack():
        running = start_stack(broker)
        yield running
        stop_stack(running)

    return stack


def start_stack(broker: str):
    stack = ComposeStack(broker)
    stack.dangling_before = stack.anonymous_volumes()
    try:
        stack.up()
    except BaseException:
        stack.down()
        raise
    return stack


SERVERS = {"db", "redis"}


def finished_at(state: dict) -> datetime:
    """Docker's FinishedAt (nanoseconds, trailing zeros trimmed) as a datetime."""
    stamp = state["FinishedAt"].rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def stop_stack(stack: ComposeStack):
    states = stack.stop()
    try:
        # SIGTERM is enough for every process (137 would be Docker's SIGKILL after
        # the grace period: a worker that did not finish its warm shutdown).
        assert {service: state["ExitCode"] for service, state in states.items()} == dict.fromkeys(states, 0)
        # The app stops before the servers it needs to shut down cleanly.
        app_done = max(finished_at(state) for service, state in states.items() if service not in SERVERS)
        for server in SERVERS & set(states):
            assert finished_at(states[server]) >= app_done, f"{server} stopped before the app services"
    finally:
        stack.down()
    assert stack.containers() == {}, "down -v left containers behind"
    assert stack.volumes() == [], "down -v left volumes behind"
    assert stack.anonymous_volumes() <= stack.dangling_before, "the stack left anonymous volumes behind"


class ComposeStackChecks:
    """Run against the module's `stack` fixture (one variant per module)."""

    def test_every_service_of_the_variant_is_up_and_healthy(self, stack):
        assert set(stack.containers()) == SERVICES[stack.broker]
        assert stack.not_ready() == []

    def test_ports_are_published_on_127_0_0_1_only(self, stack):
        published = {}
        for service, item in stack.containers().items():
            for port, bindings in (item["NetworkSettings"]["Ports"] or {}).items():
                for binding in bindings or []:
                    assert binding["HostIp"] == "127.0.0.1", f"{service} publishes {port} on {binding['HostIp']}"
                    published[service] = int(binding["HostPort"])
        expected = {"web": stack.ports["WEB"], "db": stack.ports["DB"]}
        if stack.broker == "redis":
            expected |= {"flower": stack.ports["FLOWER"], "redis": stack.ports["REDIS"]}
        assert published == expected

    def test_the_broker_is_the_one_the_variant_names(self, stack):
        def healthz():
            body = stack.api.session.get(f"{stack.api.base}/healthz", timeout=60).json()
            return body if body["status"] == "ok" else None

        # A web process's first probe may meet cold connections; the stack must settle at ok.
        body = wait_until(healthz, 60, 2, "/healthz ok")
        assert body["broker"]["kind"] == ("redis" if stack.broker == "redis" else "pgmq")

    def test_a_task_sent_to_each_queue_through_the_web_api_completes_on_that_queues_worker(self, stack):
        workers = assert_each_queue_answers_on_its_own_worker(stack.api, hosts=WORKERS.get)
        assert sorted(workers) == sorted(QUEUES)
        report = stack.api.finished(stack.api.post("/api/reports", {"kind": "daily"})["task_id"])
        assert report["state"] == "SUCCESS" and report["worker"] == "reports@worker-reports", report

    def test_beats_schedule_fires_and_reaches_the_monitoring_worker(self, stack):
        count = (
            "from django_celery_deploy.models import WorkerHeartbeat as W; "
            "print(sum(W.objects.filter(source='beat', queue='monitoring').values_list('count', flat=True)))"
        )

        def fired():
            return int(stack.exec("web", "python", "manage.py", "shell", "-c", count).stdout.split()[-1])

        before = fired()
        # BEAT_HEALTH_CHECK_SECONDS=10 in docker/dev.env: two more firings within 40 s.
        wait_until(lambda: fired() >= before + 2, 40, 2, "beat's heartbeat fired twice more")
        assert "beat: last heartbeat" in stack.exec("beat", "python", "manage.py", "beat_health").stdout

    def test_a_scaled_up_second_beat_stands_by_instead_of_sending_every_task_twice(self, stack):
        def beat_logs(number: str) -> str:
            ids = run(
                [
                    "docker",
                    "ps",
                    "-q",
                    "--filter",
                    stack.label,
                    "--filter",
                    "label=com.docker.compose.service=beat",
                    "--filter",
                    f"label=com.docker.compose.container-number={number}",
                ]
            ).stdout.split()
            assert len(ids) == 1, f"beat #{number}: {ids}"
            return run(["docker", "logs", ids[0]]).stdout

        stack.compose("up", "-d", "--no-recreate", "--no-deps", "--scale", "beat=2", "beat")
        try:
            wait_until(lambda: "standing by" in beat_logs("2"), 60, 1, "the second beat stands by")
            sent = beat_logs("1").count("Sending due task health-check")
            # The first keeps beat's 10 s heartbeat going; the second sends nothing meanwhile.
            wait_until(lambda: beat_logs("1").count("Sending due task health-check") >= sent + 2, 40, 2, "#1 sends")
            assert "Sending due task" not in beat_logs("2")
        finally:
            stack.compose("up", "-d", "--no-recreate", "--no-deps", "--scale", "beat=1", "beat")
        service = "label=com.docker.compose.service=beat"
        assert len(run(["docker", "ps", "-aq", "--filter", stack.label, "--filter", service]).stdout.split()) == 1

    def test_each_workers_stop_grace_covers_its_hard_time_limit(self, stack):
        limits, grace = queue_settings()
        containers = stack.containers()
        for queue in limits:
            for service in WORKERS[queue["name"]]:
                config = containers[service]["Config"]
                assert config["StopTimeout"] >= queue["time_limit"] + grace, (service, config["StopTimeout"])
                # Only prefork enforces a time limit: a threads worker's command carries none.
                limit = f"--time-limit {queue['time_limit']}" in " ".join(config["Cmd"])
                assert limit == (queue["pool"] == "prefork"), (service, config["Cmd"])

    def test_the_app_runs_as_a_non_root_user_with_no_build_tools_in_its_image(self, stack):
        assert stack.exec("web", "id", "-u").stdout.strip() != "0"
        found = stack.exec("web", "sh", "-c", "for t in gcc cc make pip pip3; do command -v $t; done; true").stdout
        assert found.strip() == ""

    def test_the_admins_periodic_tasks_page_lists_beats_schedule_in_a_browser(self, stack, tmp_path):
        from selenium.webdriver.common.by import By

        driver = chromium(tmp_path / "chromium")
        try:
            driver.get(f"{stack.api.base}/admin/login/?next=/admin/django_celery_beat/periodictask/")
            driver.find_element(By.NAME, "username").send_keys("admin")
            driver.find_element(By.NAME, "password").send_keys(stack.secrets["ADMIN_PASSWORD"])
            driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
            wait_until(lambda: "health-check" in driver.page_source, 20, 0.5, "periodic tasks listed")
            shot = screenshot(driver, f"compose-{stack.broker}-admin-periodic-tasks")
            assert "/admin/django_celery_beat/periodictask/" in driver.current_url
            for name in ("health-check", "send-daily-reminders", "generate-weekly-report"):
                assert name in driver.page_source, name
            assert shot.stat().st_size > 10_000
        finally:
            driver.quit()
