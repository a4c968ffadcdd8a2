"""The Vagrant path: `vagrant up --provider=docker` deploys site.yml; each queue answers; `vagrant destroy -f`.

VirtualBox and libvirt cannot run here (no hypervisor); their configuration is
checked with `vagrant validate` instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from tests.support.servers import free_port

from .support import ARTIFACTS, ROOT, Api, assert_each_queue_answers_on_its_own_worker, environ, run


def vault_value(name: str) -> str:
    text = run(
        [ROOT / ".venv" / "bin" / "ansible-vault", "view", "inventory/local/group_vars/all/vault.yml"],
        env=environ(ANSIBLE_VAULT_PASSWORD_FILE="inventory/local/vault-password.txt"),
    ).stdout
    match = re.search(rf'^{name}: "?([^"\n]+)"?$', text, re.MULTILINE)
    assert match, f"{name} not in the local vault"
    return match.group(1)


def docker_base_image() -> str:
    """debian:bookworm where a registry answers, else the project's own test-host image."""
    pull = run(["timeout", "60", "docker", "pull", "-q", "debian:bookworm"], check=False)
    if pull.returncode == 0:
        return "debian:bookworm"
    run(["bash", "docker/test-host/build.sh", "12"])
    return "clinic-test-host:debian12"


class VagrantMachine:
    def __init__(self):
        self.dotfile = ROOT / "var" / f"vagrant-test-{os.getpid()}"
        self.web_port = free_port()
        self.env = environ(
            VAGRANT_DOTFILE_PATH=self.dotfile,
            CLINIC_VAGRANT_WEB_PORT=self.web_port,
            CLINIC_VAGRANT_BASE_IMAGE=docker_base_image(),
        )

    def vagrant(self, *args, check=True, timeout=1200):
        return run(["vagrant", *args], env=self.env, check=check, timeout=timeout)

    def container(self) -> dict:
        container_id = (self.dotfile / "machines" / "default" / "docker" / "id").read_text().strip()
        return json.loads(run(["docker", "inspect", container_id]).stdout)[0]

    def destroy(self):
        container_id = None
        id_file = self.dotfile / "machines" / "default" / "docker" / "id"
        if id_file.exists():
            container_id = id_file.read_text().strip()
        self.vagrant("destroy", "-f", timeout=300)
        shutil.rmtree(self.dotfile, ignore_errors=True)
        return container_id


@pytest.fixture(scope="module")
def machine():
    machine = VagrantMachine()
    try:
        proc = machine.vagrant("up", "--provider=docker", check=False)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "vagrant-up.log").write_text(proc.stdout)
        assert proc.returncode == 0, f"vagrant up failed (var/artifacts/vagrant-up.log):\n{proc.stdout[-4000:]}"
        machine.log = proc.stdout
        yield machine
    finally:
        container_id = machine.destroy()
        if container_id:
            gone = run(["docker", "inspect", container_id], check=False)
            assert gone.returncode != 0, f"vagrant destroy -f left container {container_id}"


def test_vagrant_up_provisions_site_yml_with_the_local_inventorys_groups(machine):
    recap = re.search(r"^default\s+: ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", machine.log, re.M)
    assert recap and recap.groups() == ("0", "0"), machine.log[-2000:]
    for play in ("Preflight", "Redis", "Database", "Django", "Celery"):
        assert f"PLAY [{play}" in machine.log, play


def test_a_task_sent_to_each_queue_on_the_vagrant_machine_completes_on_that_queues_worker(machine):
    api = Api(f"http://127.0.0.1:{machine.web_port}", vault_value("vault_django_api_token"))
    assert_each_queue_answers_on_its_own_worker(api)


def test_the_machine_publishes_only_ssh_and_web_and_only_on_127_0_0_1(machine):
    ports = machine.container()["NetworkSettings"]["Ports"] or {}
    published = {}
    for port, bindings in ports.items():
        for binding in bindings or []:
            assert binding["HostIp"] == "127.0.0.1", f"{port} published on {binding['HostIp']}"
            published[port] = int(binding["HostPort"])
    assert set(published) == {"22/tcp", "8000/tcp"}
    assert published["8000/tcp"] == machine.web_port


@pytest.mark.parametrize("provider", ["libvirt", "docker"])
def test_the_vagrantfile_validates_for_each_provider_vagrant_can_load_here(provider):
    proc = run(["vagrant", "validate"], env=environ(VAGRANT_DEFAULT_PROVIDER=provider))
    assert "validated successfully" in proc.stdout


def test_the_vagrantfile_validates_without_any_provider():
    # VirtualBox's own checks need VBoxManage, which this machine cannot have; this
    # validates everything else, the VirtualBox block's keys included.
    proc = run(["vagrant", "validate", "--ignore-provider"], env=environ())
    assert "validated successfully" in proc.stdout
