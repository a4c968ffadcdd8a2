"""docker/compose.yml: build, up, healthy, a task per queue, beat, Flower and the admin in Chromium, down -v."""

from __future__ import annotations

import base64

from tests.support.waiting import wait_until

from .compose_stack import WORKERS, ComposeStackChecks, stack_fixture
from .support import QUEUES, chromium, screenshot, statuses_seen

stack = stack_fixture("redis")


class TestRedisCompose(ComposeStackChecks):
    def test_flower_refuses_a_browser_without_credentials(self, stack, tmp_path):
        driver = chromium(tmp_path / "chromium")
        try:
            url = f"http://127.0.0.1:{stack.ports['FLOWER']}/workers"
            driver.get(url)
            screenshot(driver, "compose-redis-flower-anonymous")
            assert statuses_seen(driver).get(url) == 401
            for queue in QUEUES:
                assert f"{queue}@" not in driver.page_source
        finally:
            driver.quit()

    def test_flower_shows_every_queues_worker_with_credentials(self, stack, tmp_path):
        credentials = base64.b64encode(stack.secrets["FLOWER_BASIC_AUTH"].encode()).decode()
        driver = chromium(tmp_path / "chromium")
        try:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd(
                "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {credentials}"}}
            )
            url = f"http://127.0.0.1:{stack.ports['FLOWER']}/workers"
            driver.get(url)
            assert statuses_seen(driver).get(url) == 200

            def all_workers_shown():
                page = driver.page_source
                return all(f"{queue}@{service}" in page for queue in QUEUES for service in WORKERS[queue])

            try:
                wait_until(all_workers_shown, 45, 1, "Flower lists every queue's worker")
            finally:
                screenshot(driver, "compose-redis-flower-workers")
        finally:
            driver.quit()
