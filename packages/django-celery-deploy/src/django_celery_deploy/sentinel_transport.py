"""kombu's Redis Sentinel transport, able to hand back a dead master's tasks.

When the master dies, Celery 5.7's consumer first collects the broken connection
(which detaches the transport from its kombu Connection) and then closes it. Closing
the channel restores the messages the worker held unacknowledged, which needs a new
connection pool, whose parameters kombu reads from the detached Connection: None.
The AttributeError is not a connection error, so it ended the worker ("Unrecoverable
error") at the first failover: every task sent after it waited for a worker forever
(tests/app/test_sentinel_failover.py). This channel keeps the connection info it was
made with, so the restore finds the new master through the sentinels and the worker
reconnects as it does after any connection loss.

brokers.celery_settings registers it as kombu's ``sentinel`` transport, so the broker URL
keeps its ``sentinel://`` scheme, which Flower's broker view and every log line show.
"""

from __future__ import annotations

from kombu.transport import redis

from .redis_transport import ReusedClientMixin


# ReusedClientMixin: one client object per channel for the unacked bookkeeping (see redis_transport).
class SentinelChannel(ReusedClientMixin, redis.SentinelChannel):
    def __init__(self, connection, *args, **kwargs):
        # Before the parent's __init__, which may already open a pool.
        self._conninfo = connection.client
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport.client is not None:
            self._conninfo = transport.client
            return super()._connparams(asynchronous)
        transport.client = self._conninfo  # the Connection this channel was made with
        try:
            return super()._connparams(asynchronous)
        finally:
            transport.client = None

    def _sentinel_managed_pool(self, asynchronous=False):
        transport = self.connection
        if transport.client is not None:
            return super()._sentinel_managed_pool(asynchronous)
        transport.client = self._conninfo
        try:
            return super()._sentinel_managed_pool(asynchronous)
        finally:
            transport.client = None


class Transport(redis.SentinelTransport):
    Channel = SentinelChannel


def register() -> None:
    """Make ``sentinel://`` URLs use this transport in this process (kombu's alias table)."""
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES["sentinel"] = "django_celery_deploy.sentinel_transport:Transport"
