"""Every test here drives a Docker engine; CI starts with none running."""

from __future__ import annotations

import subprocess

import pytest

from .support import ROOT


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    # Installs docker.io and starts dockerd as root on Debian; elsewhere it says what is
    # missing, and every test here errors with that message rather than a socket error.
    proc = subprocess.run(["bash", "scripts/docker-engine.sh"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"no Docker engine: {proc.stdout}{proc.stderr}", pytrace=False)
