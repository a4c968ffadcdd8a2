"""site.yml's preflight refuses a bad inventory before any host is touched.

Every host here points at 127.0.0.1 port 9, where nothing listens: if the
preflight let a bad inventory through, the next play would fail as UNREACHABLE
instead, so a passing test proves both the refusal and that nothing ran after it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from inventory_facts import PROJECT, SECRETS

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
UNREACHABLE = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh", "ansible_user": "nobody"}


def playbook(*args: str, book: str = "site.yml", **env_extra: str) -> subprocess.CompletedProcess:
    """ansible-playbook site.yml with the project's config and none of the caller's ANSIBLE_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_TIMEOUT="3", **env_extra)
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}:{env['PATH']}"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *args, str(ROOT / book)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def run_site(tmp_path: Path, groups: dict[str, dict[str, dict]], all_vars: dict | None = None, book: str = "site.yml"):
    inventory = {"all": {"vars": {**UNREACHABLE, **SECRETS, **PROJECT, **(all_vars or {})}, "children": {}}}
    for group, hosts in groups.items():
        inventory["all"]["children"][group] = {"hosts": {h: (v or None) for h, v in hosts.items()}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    return playbook("-i", str(tmp_path / "hosts.yml"), book=book)


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
    beat_vars = {"celery_beat_enabled": "{{ inventory_hostname in groups['beat'] }}", "celery_beat_locked": False}
    out = refused(run_site(tmp_path, groups, beat_vars))
    assert "celery_beat_enabled is true on 2 hosts (worker1, worker2)" in out
    assert "set celery_beat_locked: true (on worker1, worker2)" in out


def test_two_beat_hosts_behind_the_beat_lock_on_postgresql_pass_the_preflight(tmp_path):
    groups = {
        "db": {"db1": {"postgresql_listen_address": "10.0.0.1"}},
        "web": {"app1": {}},
        "worker": {"app1": {}, "app2": {}},
        "beat": {"app1": {"celery_beat_enabled": True}, "app2": {"celery_beat_enabled": True}},
    }
    passed(run_site(tmp_path, groups, {"celery_beat_locked": True}))


def test_a_managed_postgresql_named_in_django_database_url_counts_for_several_hosts_and_a_standby_beat(tmp_path):
    groups = {
        "web": {"app1": {}},
        "worker": {"app1": {}, "app2": {}},
        "beat": {"app1": {"celery_beat_enabled": True}, "app2": {"celery_beat_enabled": True}},
    }
    url = "postgresql://clinic:" + "p" * 16 + "@10.0.0.9:5432/clinic"
    managed = {"celery_beat_locked": True, "django_database_url": url}
    out = " ".join((run_site(tmp_path, groups, managed).stdout or "").split())
    # The preflight lets it through; the next play (PostgreSQL: no host) and the django play fail on port 9.
    assert "PLAY [Django" in out and "lives on one disk" not in out and "standby beat needs" not in out, out[-3000:]


def test_a_standby_beat_without_postgresql_is_refused(tmp_path):
    groups = {
        "web": {"app1": {}},
        "worker": {"app1": {}},
        "beat": {"app1": {"celery_beat_enabled": True}, "app2": {"celery_beat_enabled": True}},
    }
    out = refused(run_site(tmp_path, groups, {"celery_beat_locked": True}))
    assert "A standby beat needs the PostgreSQL lock (a `db` group)" in out


def test_beat_turned_on_in_host_vars_outside_the_beat_group_counts_too(tmp_path):
    groups = single_host_groups()
    groups["worker"] = {"app1": {}, "app2": {"celery_beat_enabled": True}}
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups, {"celery_beat_locked": False}))
    assert "(app1, app2)" in out


def test_no_beat_host_is_refused(tmp_path):
    groups = single_host_groups()
    groups.pop("beat")
    out = refused(run_site(tmp_path, groups))
    assert "celery_beat_enabled is true on 0 hosts (none)" in out


def test_a_beat_group_without_celery_beat_enabled_is_refused_naming_the_group_vars_fix(tmp_path):
    # The role's default is false: the inventory turns beat on for its `beat` group.
    groups = single_host_groups()
    groups["beat"] = {"app1": {}}
    out = refused(run_site(tmp_path, groups))
    assert "celery_beat_enabled is true on 0 hosts (none)" in out
    assert "The `beat` group (app1) does not set celery_beat_enabled: true" in out
    assert "group_vars/beat.yml" in out


def test_a_queue_missing_from_the_routing_table_is_refused_naming_host_and_queue(tmp_path):
    groups = single_host_groups(worker={"app1": {"celery_worker_queues": ["default", "sms"]}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: celery_worker_queues lists ['sms']" in out


def test_a_queue_no_worker_serves_is_refused(tmp_path):
    groups = single_host_groups(worker={"app1": {"celery_worker_queues": ["default", "cache", "monitoring"]}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "No worker host serves ['emails', 'reports']" in out


@pytest.mark.parametrize("bad", ["0", "two", -1, "1.5"])
def test_a_worker_concurrency_that_is_not_a_positive_integer_is_refused(tmp_path, bad):
    groups = single_host_groups(worker={"app1": {"celery_queue_overrides": {"reports": {"concurrency": bad}}}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: concurrency" in out and "celery_queue_overrides.reports.concurrency" in out


def test_a_processes_count_that_is_not_a_positive_integer_is_refused_naming_its_variable(tmp_path):
    groups = single_host_groups(worker={"app1": {"celery_queue_overrides": {"emails": {"processes": 0}}}})
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: processes 0 of queue emails (celery_queue_overrides.emails.processes)" in out


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


# --- A complete single-host inventory, and one bad input at a time ----------------------


def valid_single_host(**host_vars):
    """Every group on app1 with beat on: passes the preflight; host_vars change one thing."""
    groups = single_host_groups()
    groups["worker"] = {"app1": host_vars}
    groups["beat"] = {"app1": {"celery_beat_enabled": True}}
    return groups


def run_one_host(tmp_path, all_vars: dict | None = None, **host_vars):
    return run_site(tmp_path, valid_single_host(**host_vars), all_vars)


def passed(done) -> str:
    out = done.stdout + done.stderr
    # The preflight let it through; the next play found no host (port 9).
    assert "PLAY [Redis" in out, " ".join(out.split())[-3000:]
    assert "UNREACHABLE" in out and done.returncode == 4, out
    return out


def test_a_complete_single_host_inventory_passes_the_preflight(tmp_path):
    passed(run_one_host(tmp_path))


@pytest.mark.parametrize("auth", ["", "admin:", ":" + "s" * 16, "admin:short"])
def test_flower_without_a_basic_auth_user_and_password_is_refused(tmp_path, auth):
    out = refused(run_one_host(tmp_path, {"django_flower_basic_auth": auth}))
    assert "app1: Flower runs here, so django_flower_basic_auth must be user:password" in out
    if auth:
        assert auth not in out.replace("django_flower_basic_auth", "")


def test_flower_basic_auth_may_stay_empty_where_flower_does_not_run(tmp_path):
    passed(run_one_host(tmp_path, {"django_flower_basic_auth": "", "celery_flower_enabled": False}))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CELERY_BROKER_URL", "rabbit://guest:hunter2secret@mq.internal:5672//"),
        ("CELERY_BROKER_URL", "redis://celery:hunter2secret@10.0.0.5/0;memory://"),
        ("REDIS_URL", "amqp://celery:hunter2secret@10.0.0.5:5672//"),
        ("django_redis_url", "rediss//celery:hunter2secret@10.0.0.5:6379/0"),
    ],
)
def test_an_explicit_broker_url_with_an_unknown_scheme_is_refused_without_printing_it(tmp_path, variable, value):
    extra = {"django_redis_url": value} if variable == "django_redis_url" else {"django_env_extra": {variable: value}}
    out = refused(run_one_host(tmp_path, extra))
    name = variable if variable == "django_redis_url" else f"django_env_extra.{variable}"
    assert f"app1: {name} must start with" in out
    assert "hunter2secret" not in out


def test_a_known_explicit_broker_url_passes(tmp_path):
    extra = {"django_env_extra": {"CELERY_BROKER_URL": "amqp://celery:hunter2secret@10.0.0.5:5672//"}}
    passed(run_one_host(tmp_path, extra))


def test_a_redis_port_out_of_range_is_refused_as_out_of_range(tmp_path):
    groups = valid_single_host()
    groups["redis"] = {"app1": {"redis_port": 70000}}
    out = refused(run_site(tmp_path, groups))
    assert "app1: redis_port 70000 must be an integer in 1-65535" in out
    assert "redis_bind_address" not in out


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "10.0.2.11:8000", "[::]:8000"])
def test_gunicorn_bound_beyond_loopback_is_refused_without_the_public_opt_in(tmp_path, bind):
    out = refused(run_one_host(tmp_path, {"django_web_bind": bind}))
    assert f"app1: django_web_bind={bind} listens beyond loopback" in out
    assert "django_web_public: true" in out


@pytest.mark.parametrize("bind", ["127.0.0.1:8001", "localhost:8000", "[::1]:8000", "unix:/run/clinic/web.sock"])
def test_gunicorn_on_loopback_or_a_unix_socket_needs_no_opt_in(tmp_path, bind):
    passed(run_one_host(tmp_path, {"django_web_bind": bind}))


def test_gunicorn_beyond_loopback_passes_with_the_public_opt_in(tmp_path):
    passed(run_one_host(tmp_path, {"django_web_bind": "0.0.0.0:8000", "django_web_public": True}))


def test_an_override_for_a_queue_missing_from_the_routing_table_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, celery_queue_overrides={"sms": {"concurrency": 2}}))
    assert "app1: celery_queue_overrides names ['sms']" in out


def queue_settings(tmp_path, **celery_vars) -> dict:
    """The celery role's effective per-queue settings, evaluated on the controller only."""
    return {w["name"]: w for w in celery_role_var(tmp_path, "celery_workers", **celery_vars)}


def celery_role_var(tmp_path, var: str, **celery_vars):
    """One of the celery role's computed variables for a worker host, evaluated on the controller only.

    The role's own tasks are not tagged `probe`, so none runs: only the argument
    spec check (tagged `always`) and the debug below, on localhost, change nothing.
    """
    play = [
        {
            "name": "Probe the celery role's computed queue settings",
            "hosts": "app1",
            "gather_facts": False,
            "vars": {
                "django_deployment": {"name": "clinic", "broker": "redis", "visibility_timeout": 3600},
                "celery_routing_file": str(ROOT / "app" / "config" / "queues.json"),
                **celery_vars,
            },
            "roles": ["django_celery.deploy.celery"],
            "post_tasks": [{"name": "Show them", "ansible.builtin.debug": {"var": var}, "tags": ["probe"]}],
        }
    ]
    (tmp_path / "probe.yml").write_text(yaml.safe_dump(play))
    inventory = {"all": {"children": {"worker": {"hosts": {"app1": {"ansible_connection": "local"}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        PATH=f"{ANSIBLE_PLAYBOOK.parent}:{os.environ['PATH']}",
    )
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(tmp_path / "hosts.yml"), "--tags", "probe", str(tmp_path / "probe.yml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tasks = yaml.safe_load(done.stdout)["plays"][0]["tasks"]
    return tasks[-1]["hosts"]["app1"][var]


def test_a_queue_with_several_processes_keeps_its_one_program_file_and_waits_for_each_process(tmp_path):
    # One program file per queue (a Supervisor group for several processes): the role deletes
    # every worker file it does not list, so the group's file must be on the list.
    kept = celery_role_var(tmp_path, "celery_program_files")
    assert "/etc/supervisor/conf.d/clinic-worker-emails.conf" in kept
    assert "/etc/supervisor/conf.d/clinic-worker-default.conf" in kept
    expected = celery_role_var(tmp_path, "celery_expected_programs")
    assert {"clinic-worker-emails:clinic-worker-emails-0", "clinic-worker-emails:clinic-worker-emails-1"} <= set(
        expected
    )
    assert "clinic-worker-default" in expected and "clinic-worker-emails" not in expected


def test_a_partial_celery_queue_defaults_keeps_the_other_built_in_keys(tmp_path):
    queues = queue_settings(tmp_path, celery_queue_defaults={"concurrency": 3})
    assert queues["default"] == {
        "name": "default",
        "concurrency": 3,
        "pool": "prefork",
        "prefetch_multiplier": 4,
        "max_tasks_per_child": 1000,
        "soft_time_limit": 300,
        "time_limit": 360,
        "processes": 1,
    }
    assert queues["monitoring"]["concurrency"] == 1  # the queue's own built-in setting wins over the defaults
    assert (queues["emails"]["pool"], queues["emails"]["processes"]) == ("threads", 2)
    assert queues["reports"]["time_limit"] == 1860


def test_overriding_one_key_of_a_queue_keeps_its_other_built_in_settings(tmp_path):
    queues = queue_settings(tmp_path, celery_queue_overrides={"reports": {"concurrency": 5}})
    reports = queues["reports"]
    assert (reports["concurrency"], reports["prefetch_multiplier"]) == (5, 1)
    assert (reports["soft_time_limit"], reports["time_limit"]) == (1800, 1860)
    assert queues["monitoring"]["concurrency"] == 1


def test_overrides_apply_key_by_key_over_the_users_defaults(tmp_path):
    queues = queue_settings(
        tmp_path,
        celery_queue_defaults={"max_tasks_per_child": 50, "soft_time_limit": 100, "time_limit": 120},
        celery_queue_overrides={"cache": {"time_limit": 200}},
    )
    assert (queues["cache"]["soft_time_limit"], queues["cache"]["time_limit"]) == (100, 200)
    assert queues["default"]["max_tasks_per_child"] == 50
    assert (queues["reports"]["max_tasks_per_child"], queues["reports"]["time_limit"]) == (50, 1860)


def test_a_partial_celery_queue_defaults_passes_the_preflight(tmp_path):
    passed(run_one_host(tmp_path, celery_queue_defaults={"concurrency": 3}))


def test_a_soft_time_limit_not_below_the_hard_one_is_refused_before_any_host(tmp_path):
    out = refused(run_one_host(tmp_path, celery_queue_overrides={"default": {"soft_time_limit": 400}}))
    assert "app1: soft_time_limit 400 of queue default (celery_queue_overrides.default.soft_time_limit)" in out
    assert "must be below time_limit 360" in out


def test_a_queue_time_limit_not_below_the_visibility_timeout_is_refused_before_any_host(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_env_extra": {"CELERY_VISIBILITY_TIMEOUT": "1800"}}))
    assert "app1: time_limit 1860 of queue reports (built in; set celery_queue_overrides.reports.time_limit)" in out
    assert "must be below CELERY_VISIBILITY_TIMEOUT 1800 (django_env_extra.CELERY_VISIBILITY_TIMEOUT)" in out


def test_env_extra_time_limits_out_of_order_are_refused_before_any_host(tmp_path):
    extra = {"django_env_extra": {"CELERY_TASK_SOFT_TIME_LIMIT": "400", "CELERY_TASK_TIME_LIMIT": "360"}}
    out = refused(run_one_host(tmp_path, extra))
    assert "app1: django_env_extra.CELERY_TASK_SOFT_TIME_LIMIT (400) must be below CELERY_TASK_TIME_LIMIT (360)" in out


def test_env_extra_visibility_timeout_below_the_env_hard_limit_is_refused_before_any_host(tmp_path):
    extra = {"django_env_extra": {"CELERY_TASK_TIME_LIMIT": "4000", "CELERY_TASK_SOFT_TIME_LIMIT": "3900"}}
    out = refused(run_one_host(tmp_path, extra))
    assert "django_env_extra.CELERY_VISIBILITY_TIMEOUT (2400) must exceed" in out


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("django_secret_key", "tooshort-SECRETVALUE", "django_secret_key needs 50+ characters"),
        ("django_api_token", "tooshort-SECRETVALUE", "django_api_token needs 32+ characters"),
        ("postgresql_app_password", "SECRETVALUE", "postgresql_app_password needs 12+ characters"),
        ("django_api_token", "SECRETVALUE" + "t" * 32 + "\nline2", "django_api_token must hold no line break"),
    ],
)
def test_a_bad_secret_is_refused_naming_the_variable_and_rule_without_its_value(tmp_path, variable, value, rule):
    out = refused(run_one_host(tmp_path, {variable: value}))
    assert f"app1: {rule}" in out
    assert "SECRETVALUE" not in out
    assert "censored" not in out


def test_the_preflight_playbook_alone_passes_a_good_inventory_without_contacting_any_host(tmp_path):
    # Every host is 127.0.0.1 port 9, where nothing listens: one connection attempt
    # would make it UNREACHABLE.
    done = run_site(tmp_path, valid_single_host(), book="preflight.yml")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "UNREACHABLE" not in out and "unreachable=0" in out
    assert "PLAY [Redis" not in out


def test_the_preflight_playbook_alone_refuses_a_bad_inventory(tmp_path):
    done = run_site(tmp_path, valid_single_host(django_web_bind="0.0.0.0:8000"), book="preflight.yml")
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "UNREACHABLE" not in out
    assert "django_web_public" in out


@pytest.mark.parametrize("pool", ["gevent", "eventlet"])
def test_a_pool_whose_package_the_app_does_not_install_is_refused(tmp_path, pool):
    out = refused(run_one_host(tmp_path, {"celery_queue_overrides": {"default": {"pool": pool}}}))
    assert f'pool "{pool}" of queue default' in out and "celery_queue_overrides.default.pool" in out


# --- The project contract: names the programs and paths are built from -------------------


@pytest.mark.parametrize("name", ["", "My Site", "9lives", "a" * 40])
def test_a_project_name_that_cannot_name_programs_users_and_paths_is_refused(tmp_path, name):
    out = refused(run_one_host(tmp_path, {"django_app_name": name}))
    assert "app1: django_app_name is" in out and "lower-case name" in out


def test_a_wsgi_target_without_its_callable_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_wsgi_app": "mysite.wsgi"}))
    assert 'app1: django_wsgi_app is "mysite.wsgi": give module:callable' in out


def test_an_asgi_target_without_its_callable_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_asgi_app": "mysite.asgi"}))
    assert 'app1: django_asgi_app is "mysite.asgi": give module:callable, e.g. mysite.asgi:application' in out


def test_a_project_directory_without_manage_py_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_project_src": str(tmp_path)}))
    assert f"app1: django_project_src is {tmp_path}, which has no manage.py" in out


def test_a_missing_routing_table_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"celery_routing_file": str(tmp_path / "queues.json")}))
    assert "celery_routing_file is" in out and "not a file on the controller" in out


def git_repo(where: Path, tag: str = "v1.2.0") -> str:
    """A project repository on the controller with one commit on main, tagged; its path is its URL."""
    repo = where / "mysite.git"
    repo.mkdir(parents=True)
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(where), "PATH": os.environ["PATH"]}  # fmt: skip
    (repo / "manage.py").write_text("")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "mysite"], ["tag", tag]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=who, capture_output=True)
    return str(repo)


def code_from_git(tmp_path, version: str = "v1.2.0") -> dict:
    return {
        "django_project_git_repo": git_repo(tmp_path / "remote"),
        "django_project_git_version": version,
        "django_project_src": "",
        "django_project_requirements": "requirements.txt",
    }


def test_code_from_git_needs_a_version_and_paths_inside_the_checkout(tmp_path):
    git = {"django_project_git_repo": git_repo(tmp_path / "remote"), "django_project_src": "/abs/app"}
    out = refused(run_one_host(tmp_path, git))
    assert "app1: django_project_git_version is empty: name the branch, tag or commit of" in out
    assert "django_project_src is /abs/app: with django_project_git_repo it is a path inside the checkout" in out


def test_code_from_git_with_a_version_passes_the_preflight_before_any_checkout(tmp_path):
    passed(run_one_host(tmp_path, code_from_git(tmp_path)))


@pytest.mark.parametrize("version", ["v9.9.9", "no-such-branch"])
def test_a_git_version_the_repository_does_not_have_is_refused_before_any_checkout(tmp_path, version):
    git = code_from_git(tmp_path, version)
    out = refused(run_one_host(tmp_path, git))
    repo = git["django_project_git_repo"]
    assert f"app1: django_project_git_repo {repo} has no branch or tag django_project_git_version={version}" in out


def test_a_git_repository_that_does_not_answer_is_refused_before_any_checkout(tmp_path):
    git = {**code_from_git(tmp_path), "django_project_git_repo": str(tmp_path / "nowhere.git")}
    out = refused(run_one_host(tmp_path, git))
    assert (
        f"django_project_git_repo {tmp_path / 'nowhere.git'} has no branch or tag" in out
        and "or does not answer" in out
    )


def test_queues_listed_in_the_inventory_replace_the_routing_file(tmp_path):
    listed = {"celery_routing_file": "", "celery_queues": {"orders": "Order intake", "mailing": "E-mail"}}
    passed(run_one_host(tmp_path, listed))
    queues = queue_settings(tmp_path, celery_routing_file="", celery_queues=["orders", "mailing"])
    assert sorted(queues) == ["mailing", "orders"]


def test_a_queue_the_inventory_lists_but_no_worker_serves_is_refused(tmp_path):
    groups = valid_single_host(celery_worker_queues=["orders"])
    out = refused(run_site(tmp_path, groups, {"celery_routing_file": "", "celery_queues": ["orders", "mailing"]}))
    assert "No worker host serves ['mailing']" in out


def test_a_queue_name_that_cannot_name_a_program_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"celery_routing_file": "", "celery_queues": ["orders", "bad name"]}))
    assert "celery_queues must list queue names" in out and "'bad name'" in out


def test_a_superuser_password_without_the_projects_command_to_set_it_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_admin_password": "a" * 20, "django_admin_command": ""}))
    assert "app1: django_admin_password is set but django_admin_command is" in out
    assert "a" * 20 not in out


def test_a_bad_project_name_is_refused_once_not_again_for_every_name_derived_from_it(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_app_name": "my site"}))
    assert "django_app_name is" in out
    assert "django_project_module is" not in out and "django_wsgi_app is" not in out


def test_a_local_package_directory_that_is_not_a_python_package_is_refused(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_project_packages": [str(tmp_path)]}))
    assert f"app1: django_project_packages names {tmp_path}, which is not a Python package directory" in out


def test_a_local_package_of_a_git_project_may_be_outside_the_checkout_but_not_above_it_by_dots(tmp_path):
    git = code_from_git(tmp_path)
    companion = str(ROOT / "packages" / "django-celery-deploy")
    passed(run_one_host(tmp_path, {**git, "django_project_packages": ["libs/mylib", companion]}))
    (tmp_path / "dots").mkdir()
    out = refused(run_one_host(tmp_path / "dots", {**git, "django_project_packages": ["../elsewhere"]}))
    assert "django_project_packages names ../elsewhere: with django_project_git_repo a relative entry" in out


def code_from_a_wheel(tmp_path, package: str = "config") -> dict:
    """A wheel of the clinic's project (its package is config, inventory/local's django_project_module)."""
    dist = tmp_path / "dist" / "clinic-1.0-py3-none-any.whl"
    dist.parent.mkdir(parents=True)
    with zipfile.ZipFile(dist, "w") as wheel:
        wheel.writestr(f"{package}/__init__.py", "")
        wheel.writestr(f"{package}/settings.py", "")
        wheel.writestr("clinic-1.0.dist-info/METADATA", "Name: clinic\n")
    return {"django_project_src": "", "django_project_dist": str(dist)}


def test_code_as_a_built_wheel_passes_the_preflight(tmp_path):
    passed(run_one_host(tmp_path, code_from_a_wheel(tmp_path)))


def test_a_wheel_beside_a_project_directory_or_a_git_repository_is_refused_as_two_sources(tmp_path):
    wheel = code_from_a_wheel(tmp_path)
    out = refused(run_one_host(tmp_path, {**wheel, "django_project_src": str(ROOT / "app")}))
    assert "app1: django_project_dist and django_project_src both name the code to deploy: give one of" in out
    (tmp_path / "git").mkdir()
    out = refused(run_one_host(tmp_path / "git", {**code_from_git(tmp_path / "git"), **wheel}))
    assert "app1: django_project_dist and django_project_git_repo both name the code to deploy" in out


def test_a_wheel_without_the_projects_package_is_refused_before_any_host(tmp_path):
    out = refused(run_one_host(tmp_path, code_from_a_wheel(tmp_path, package="mysite")))
    assert "django_project_dist clinic-1.0-py3-none-any.whl holds no package config (django_project_module)" in out


def test_an_empty_file_named_like_a_wheel_is_refused(tmp_path):
    wheel = code_from_a_wheel(tmp_path)
    Path(wheel["django_project_dist"]).write_bytes(b"")
    out = refused(run_one_host(tmp_path, wheel))
    assert "is no readable wheel or sdist" in out


def test_requirements_without_what_the_inventory_runs_are_refused_naming_it(tmp_path):
    pins = tmp_path / "requirements.txt"
    pins.write_text("-r base.txt\ngunicorn==23.0.0\n")
    (tmp_path / "base.txt").write_text("Django==5.2.19\ncelery[redis]==5.7.0  # the broker\n")
    out = refused(run_one_host(tmp_path, {"django_project_requirements": str(pins)}))
    # The single host runs Redis, PostgreSQL and Flower (the beat host, with Redis).
    psycopg = "psycopg|psycopg2|psycopg-binary|psycopg2-binary"
    assert f"django_project_requirements {pins} pins none of redis, {psycopg}, flower" in out


def test_requirements_whose_include_is_missing_are_refused_naming_the_include(tmp_path):
    pins = tmp_path / "requirements.txt"
    pins.write_text("-r base.txt\ngunicorn==23.0.0\n")
    out = refused(run_one_host(tmp_path, {"django_project_requirements": str(pins)}))
    # The release archive would fail the same way later, on the hosts' turn: the same reader says so now.
    assert f"django_project_requirements: {pins} includes {tmp_path / 'base.txt'}, which does not exist" in out


@pytest.mark.parametrize("name", ["missing.whl", "mysite.txt"])
def test_a_wheel_that_is_not_a_built_distribution_on_the_controller_is_refused(tmp_path, name):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("not a wheel")
    out = refused(run_one_host(tmp_path, {"django_project_src": "", "django_project_dist": str(tmp_path / name)}))
    if name.endswith(".txt"):
        assert (
            f"app1: django_project_dist is {tmp_path / name}, not a wheel (.whl) or sdist (.tar.gz, .zip) file" in out
        )
    else:
        assert f"app1: django_project_dist is {tmp_path / name}, which does not exist on the controller" in out


def test_a_project_without_an_api_token_deploys_unless_it_says_it_needs_one(tmp_path):
    passed(run_one_host(tmp_path, {"django_api_token": "", "django_env_required": []}))
    (tmp_path / "needs").mkdir()
    out = refused(run_one_host(tmp_path / "needs", {"django_api_token": "", "django_env_required": ["API_TOKEN"]}))
    assert (
        "app1: The project needs API_TOKEN (django_env_required) but the env file would hold none: set django_api_token"
        in out
    )


def test_an_env_key_the_project_needs_is_named_with_the_variable_that_fills_it(tmp_path):
    out = refused(run_one_host(tmp_path, {"django_env_required": ["SENTRY_DSN", "bad key"]}))
    needs = "The project needs SENTRY_DSN (django_env_required) but the env file would hold none"
    assert f"{needs}: set django_env_extra.SENTRY_DSN, or take SENTRY_DSN out of django_env_required" in out
    assert "django_env_required lists bad key: give env file keys" in out
    (tmp_path / "set").mkdir()
    passed(
        run_one_host(tmp_path / "set", {"django_env_required": ["SENTRY_DSN"], "django_env_extra": {"SENTRY_DSN": "x"}})
    )


# --- Redis with Sentinel: a redis group of 3, 5... hosts --------------------------------

SENTINEL_SECRETS = {
    "redis_celery_password": "c" * 16,
    "redis_sentinel_password": "s" * 16,
    "redis_replication_password": "r" * 16,
    "redis_sentinel_redis_password": "q" * 16,
}


def sentinel_groups(count: int, **redis_host_vars) -> dict:
    redis = {f"redis{n}": {"redis_bind_address": f"10.0.0.{n}", **redis_host_vars} for n in range(1, count + 1)}
    return {
        "redis": redis,
        "db": {"app1": {"postgresql_listen_address": "10.0.0.20"}},
        "web": {"app1": {}},
        "worker": {"app1": {}},
        "beat": {"app1": {"celery_beat_enabled": True}},
    }


def test_a_sentinel_group_of_three_redis_hosts_with_its_passwords_passes_the_preflight(tmp_path):
    passed(run_site(tmp_path, sentinel_groups(3), SENTINEL_SECRETS))


@pytest.mark.parametrize("count", [2, 4])
def test_an_even_number_of_redis_hosts_is_refused_naming_the_count(tmp_path, count):
    out = refused(run_site(tmp_path, sentinel_groups(count), SENTINEL_SECRETS))
    assert f"redis has {count} hosts" in out and "an odd number of 3 or more" in out


SENTINEL_PASSWORDS = ["redis_sentinel_password", "redis_replication_password", "redis_sentinel_redis_password"]


@pytest.mark.parametrize("variable", SENTINEL_PASSWORDS)
def test_a_sentinel_group_without_a_password_is_refused_naming_the_variable_not_the_value(tmp_path, variable):
    secrets = {**SENTINEL_SECRETS, variable: "short-secret"}
    out = refused(run_site(tmp_path, sentinel_groups(3), secrets))
    assert f"redis1: {variable} must be set (16+ characters, in the vault)" in out
    assert "short-secret" not in out


def test_a_sentinel_master_name_that_differs_between_hosts_or_the_app_is_refused_naming_each(tmp_path):
    groups = sentinel_groups(3)
    groups["redis"]["redis2"]["redis_sentinel_master_name"] = "other"
    out = refused(run_site(tmp_path, groups, SENTINEL_SECRETS))
    assert "redis1: redis_sentinel_master_name=django-celery; redis2: redis_sentinel_master_name=other" in out
    groups = sentinel_groups(3)
    groups["web"]["app1"] = {"django_env_extra": {"REDIS_SENTINEL_MASTER": "mine"}}
    out = refused(run_site(tmp_path, groups, SENTINEL_SECRETS))
    assert "app1: django_env_extra.REDIS_SENTINEL_MASTER=mine" in out


def test_a_sentinel_group_bound_to_loopback_is_refused(tmp_path):
    out = refused(run_site(tmp_path, sentinel_groups(3, redis_bind_address="127.0.0.1"), SENTINEL_SECRETS))
    assert "redis1: redis_bind_address=127.0.0.1 is loopback, but the other redis hosts replicate and watch" in out


# --- The TLS front: a `front` group of nginx hosts ----------------------------------------

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"


def front_groups(front_vars: dict | None = None, web_vars: dict | None = None, beat_vars: dict | None = None) -> dict:
    """A front host before two web hosts on private addresses; beat (and Flower) on worker1."""
    allowed = ["www.example.org"]
    return {
        "redis": {"redis1": {"redis_bind_address": "10.0.1.10"}},
        "db": {"db1": {"postgresql_listen_address": "10.0.1.20"}},
        "front": {
            "front1": {"nginx_server_name": "www.example.org", "nginx_tls_self_signed": True, **(front_vars or {})}
        },
        "web": {
            f"web{n}": {"django_web_bind": f"10.0.2.1{n}:8000", "django_allowed_hosts": allowed, **(web_vars or {})}
            for n in (1, 2)
        },
        "worker": {"worker1": {}},
        "beat": {"worker1": {"celery_beat_enabled": True, "celery_flower_address": "10.0.3.11", **(beat_vars or {})}},
    }


FRONT_SECRETS = {"redis_celery_password": "c" * 16, "postgresql_app_password": "p" * 16}


def test_a_front_before_two_web_hosts_on_private_addresses_passes_the_preflight(tmp_path):
    passed(run_site(tmp_path, front_groups(), FRONT_SECRETS))


def test_a_front_without_a_certificate_or_the_self_signed_opt_in_is_refused(tmp_path):
    out = refused(run_site(tmp_path, front_groups({"nginx_tls_self_signed": False}), FRONT_SECRETS))
    assert "front1: nginx_tls_certificate and nginx_tls_certificate_key are empty" in out


def test_a_certificate_without_its_key_is_refused_without_printing_either(tmp_path):
    out = refused(run_site(tmp_path, front_groups({"nginx_tls_certificate": PEM_CERT}), FRONT_SECRETS))
    assert "front1: only one of nginx_tls_certificate and nginx_tls_certificate_key is set" in out
    assert "MIIB" not in out


def test_a_certificate_and_key_from_the_vault_pass_the_preflight(tmp_path):
    front = {"nginx_tls_self_signed": False, "nginx_tls_certificate": PEM_CERT, "nginx_tls_certificate_key": PEM_KEY}
    passed(run_site(tmp_path, front_groups(front), FRONT_SECRETS))


def test_a_web_host_bound_to_loopback_that_the_front_must_reach_is_refused_naming_it(tmp_path):
    out = refused(run_site(tmp_path, front_groups(web_vars={"django_web_bind": "127.0.0.1:8000"}), FRONT_SECRETS))
    assert "front1 (front) must reach web1, whose django_web_bind=127.0.0.1:8000 is local to it" in out
    assert "web2, whose" in out


def test_flower_on_loopback_of_another_host_than_the_front_is_refused(tmp_path):
    out = refused(run_site(tmp_path, front_groups(beat_vars={"celery_flower_address": "127.0.0.1"}), FRONT_SECRETS))
    assert "front1 (front) publishes Flower, which runs on worker1 at celery_flower_address=127.0.0.1" in out
    passed(
        run_site(
            tmp_path,
            front_groups({"nginx_flower_enabled": False}, beat_vars={"celery_flower_address": "127.0.0.1"}),
            FRONT_SECRETS,
        )
    )


def test_a_front_name_the_app_would_reject_is_refused_naming_the_web_hosts(tmp_path):
    out = refused(run_site(tmp_path, front_groups({"nginx_server_name": "shop.example.org"}), FRONT_SECRETS))
    assert "front1 (front) serves shop.example.org, but Django would answer 400 to it on web1, web2" in out
    # Django's leading-dot form covers the name and its subdomains.
    passed(
        run_site(
            tmp_path,
            front_groups({"nginx_server_name": "shop.example.org"}, {"django_allowed_hosts": [".example.org"]}),
            FRONT_SECRETS,
        )
    )


def test_a_front_with_no_web_host_is_refused(tmp_path):
    out = refused(run_site(tmp_path, front_groups({"nginx_web_hosts": []}), FRONT_SECRETS))
    assert "front1: nginx_web_hosts is empty" in out
