"""Helpers for the whole-stack tests: the compose stack, the web API, headless Chromium.

Test traffic goes to 127.0.0.1 only (the ports the stacks publish there) and to
the project's own containers through `docker exec`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from scripts.role_settings import queue_settings  # what compose.py and make run render
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "artifacts"
QUEUES = list(json.loads((ROOT / "app" / "config" / "queues.json").read_text())["queues"])


def worker_services() -> dict[str, list[str]]:
    """Each queue's compose services: worker-<queue>, or worker-<queue>-<n> for each of its processes."""
    return {
        queue["name"]: [f"worker-{queue['name']}"]
        if queue["processes"] == 1
        else [f"worker-{queue['name']}-{n}" for n in range(queue["processes"])]
        for queue in queue_settings()[0]
    }


def dev_env() -> dict[str, str]:
    """docker/dev.env, read with the app's own parser (the format both sides share)."""
    import sys

    sys.path.insert(0, str(ROOT / "app"))
    try:
        from django_celery_deploy.env import parse_env_file
    finally:
        sys.path.pop(0)
    return parse_env_file(ROOT / "docker" / "dev.env")


def run(argv, *, env=None, timeout=900, check=True, cwd=ROOT) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        argv, cwd=cwd, env=env, timeout=timeout, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{proc.stdout[-6000:]}")
    return proc


@dataclass
class Api:
    base: str
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.session.post(
            f"{self.base}{path}", json=body or {}, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        assert response.status_code == 202, f"POST {path}: {response.status_code} {response.text[:300]}"
        return response.json()

    def task(self, task_id: str) -> dict:
        response = self.session.get(
            f"{self.base}/api/tasks/{task_id}", headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def finished(self, task_id: str, timeout: float = 60) -> dict:
        return wait_until(
            lambda: (body := self.task(task_id))["state"] in {"SUCCESS", "FAILURE"} and body,
            timeout,
            0.5,
            f"task {task_id} finished",
        )


def assert_each_queue_answers_on_its_own_worker(api: Api, hosts=None) -> dict[str, str]:
    """A ping per queue through the web API, each completed by a worker named <queue>@... (or
    <queue>-<n>@... for a queue with several processes on a host); `hosts(queue)`: the host
    names its node may have."""
    sent = {queue: api.post(f"/api/queues/{queue}/ping")["task_id"] for queue in QUEUES}
    workers = {}
    for queue, task_id in sent.items():
        body = api.finished(task_id)
        assert body["state"] == "SUCCESS", f"{queue}: {body}"
        result = body["result"]
        assert result["queue"] == queue, f"ping for {queue} ran from queue {result['queue']}"
        assert re.match(rf"{queue}(-\d+)?@", result["hostname"]), f"ping for {queue} ran on {result['hostname']}"
        if hosts:
            assert result["hostname"] in {f"{queue}@{host}" for host in hosts(queue)}, result["hostname"]
        workers[queue] = result["hostname"]
    return workers


def chromium(download_dir: Path):
    """Debian's chromium, headless, through Debian's chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={download_dir}",
    ):
        options.add_argument(flag)
    # The performance log carries the Network events: the HTTP status the browser itself saw.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def statuses_seen(driver) -> dict[str, int]:
    """URL -> HTTP status of every response the browser received since the last call."""
    seen = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.responseReceived":
            response = message["params"]["response"]
            seen[response["url"]] = response["status"]
    return seen


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def environ(**extra) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env.update({key: str(value) for key, value in extra.items()})
    return env
