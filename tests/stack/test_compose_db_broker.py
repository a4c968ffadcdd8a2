"""docker/compose.db-broker.yml: the same checks with the database broker (no Redis, no Flower)."""

from __future__ import annotations

from .compose_stack import ComposeStackChecks, stack_fixture

stack = stack_fixture("database")


class TestDatabaseBrokerCompose(ComposeStackChecks):
    pass
