"""docker/compose.db-broker.yml: the same checks with the database broker (no Redis, no Flower)."""

from __future__ import annotations

import pytest

from .compose_stack import ComposeStackChecks, start_stack, stop_stack


@pytest.fixture(scope="module")
def stack():
    stack = start_stack("database")
    yield stack
    stop_stack(stack)


class TestDatabaseBrokerCompose(ComposeStackChecks):
    pass
