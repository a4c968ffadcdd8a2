"""Every test here drives a Docker engine; CI starts with none running."""

from __future__ import annotations

import pytest

from .support import run


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    # Installs docker.io and starts dockerd as root on Debian; elsewhere it says what is
    # missing, and every test here errors with that message rather than a socket error.
    proc = run(["bash", "scripts/docker-engine.sh"], check=False, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"no Docker engine: {proc.stdout}", pytrace=False)
