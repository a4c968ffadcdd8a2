"""site.yml's preflight refuses a bad inventory before any host is touched.

Every host here points at 127.0.0.1 port 9, where nothing listens: if the
preflight let a bad inventory through, the next play would fail as UNREACHABLE
instead, so a passing test proves both the refusal and that nothing ran after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
UNREACHABLE = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh", "ansible_user": "nobody"}


def playbook(*args: str, **env_extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook site.yml with the project's config and none of the caller's ANSIBLE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_TIMEOUT="3", **env_extra)
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}:{env['PATH']}"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *args, str(ROOT / "site.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def run_site(tmp_path: Path, groups: dict[str, dict[str, dict]], all_vars: dict | None = None):
    inventory = {"all": {"vars": {**UNREACHABLE, **(all_vars or {})}, "children": {}}}
    for group, hosts in groups.items():
        inventory["all"]["children"][group] = {"hosts": {h: (v or None) for h, v in hosts.items()}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    return playbook("-i", str(tmp_path / "hosts.yml"))


def refused(done) -> str:
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "PLAY [Redis" not in out and "PLAY [Database" not in out, "a play ran after the preflight"
    assert "UNREACHABLE" not in out, "a host was contacted"
    return " ".join(out.split())  # messages are folded over lines


ONE_HOST = {"app1": {}}


def single_host_groups(**extra):
    groups = {g: dict(ONE_HOST) for g in ("redis", "db", "web", "worker")}
    groups["beat"] = {"app1": {}}
    groups.update(extra)
    return groups


def test_two_beat_hosts_are_refused_naming_both(tmp_path):
    groups = {
        "db": {"db1": {}},
        "web": {"web1": {}},
        "worker": {"worker1": {}, "worker2": {}},
        "beat": {"worker1": {}, "worker2": {}},
    }
    out = refused(run_site(tmp_path, groups, {"celery_beat_enabled": "{{ inventory_hostname in groups['beat'] }}"}))
    assert "celery_beat_enabled is true on 2 hosts (worker1, worker2)" in out


def test_beat_turned_on_in_host_vars_outside_the_beat_group_counts_too(tmp_path):
    groups = single_host_groups()
    groups["worker"] = {"app1": {}, "app2": {"celery_beat_enabled": True}}
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "(app1, app2)" in out


def test_no_beat_host_is_refused(tmp_path):
    groups = single_host_groups()
    groups.pop("beat")
    out = refused(run_site(tmp_path, groups))
    assert "celery_beat_enabled is true on 0 hosts (none)" in out


def test_a_queue_missing_from_the_routing_table_is_refused_naming_host_and_queue(tmp_path):
    groups = single_host_groups(worker={"app1": {"celery_worker_queues": ["default", "emails"]}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: celery_worker_queues lists ['emails']" in out


def test_a_queue_no_worker_serves_is_refused(tmp_path):
    groups = single_host_groups(worker={"app1": {"celery_worker_queues": ["default", "cache", "monitoring"]}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "No worker host serves ['reports']" in out


@pytest.mark.parametrize("bad", ["0", "two", -1, "1.5"])
def test_a_worker_concurrency_that_is_not_a_positive_integer_is_refused(tmp_path, bad):
    groups = single_host_groups(worker={"app1": {"celery_queue_overrides": {"reports": {"concurrency": bad}}}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: concurrency" in out and "celery_queue_overrides.reports.concurrency" in out


def test_redis_beyond_loopback_without_a_password_is_refused(tmp_path):
    groups = single_host_groups(redis={"app1": {"redis_bind_address": "10.0.0.5"}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: redis_bind_address=10.0.0.5 listens beyond loopback, so redis_celery_password must be set" in out


def test_the_database_broker_across_hosts_without_postgresql_is_refused(tmp_path):
    groups = {"web": {"web1": {}}, "worker": {"worker1": {}}, "beat": {"worker1": {"celery_beat_enabled": True}}}
    out = refused(run_site(tmp_path, groups))
    assert "No `db` host, so the database is SQLite and so is the broker (no `redis` host)" in out
    assert "web1, worker1" in out


def test_a_loopback_only_redis_that_other_hosts_need_is_refused(tmp_path):
    groups = {
        "redis": {"redis1": {}},
        "db": {"web1": {}},
        "web": {"web1": {}},
        "worker": {"web1": {}},
        "beat": {"web1": {"celery_beat_enabled": True}},
    }
    out = refused(run_site(tmp_path, groups))
    assert "redis1: Redis binds to loopback only but web1 must reach it" in out


def test_the_production_example_passes_the_preflight():
    example = ROOT / "inventory" / "production.example"
    done = playbook(
        "-i",
        str(example),
        "-e",
        "ansible_host=127.0.0.1 ansible_port=9 ansible_user=nobody",
        ANSIBLE_VAULT_PASSWORD_FILE=str(example / "vault-password.example.txt"),
    )
    out = done.stdout + done.stderr
    assert "PLAY [Redis" in out, out  # the preflight let it through; the next play found no host (port 9)
    assert "UNREACHABLE" in out and done.returncode == 4, out
