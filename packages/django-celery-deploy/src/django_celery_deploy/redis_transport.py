"""kombu's Redis transport, reusing one client object per channel for its bookkeeping.

kombu's Redis channel makes a new ``redis.Redis`` object for every message it takes and every
acknowledgement (``conn_or_acquire``: the unacked index is written on receipt and cleared on
ack), and with redis-py 7 building one costs more than the commands it sends (its response
callback table is rebuilt each time). Measured with py-spy in the I/O-bound benchmark, that
construction was about a fifth of the consumer thread's time, and the consumer thread is what
caps a threads pool's rate (scripts/bench.py). A client object holds no connection of its own
(each command takes one from the channel's pool), so one per channel serves every thread; it
is made again when kombu replaces the channel's pool after a connection loss.

brokers.celery_settings registers it as kombu's ``redis`` and ``rediss`` transport (and the Sentinel
transport in sentinel_transport.py takes the same channel behaviour), so broker URLs keep
their scheme.
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis


class ReusedClientMixin:
    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        reused = self.__dict__.get("_reused_client")
        if reused is None or reused.connection_pool is not pool:
            # A race between threads makes two objects over the same pool: harmless.
            reused = self.__dict__["_reused_client"] = self._create_client()
        yield reused


class Channel(ReusedClientMixin, redis.Channel):
    pass


class Transport(redis.Transport):
    Channel = Channel


def register() -> None:
    """Make ``redis://`` and ``rediss://`` (TLS) URLs use this transport in this process
    (kombu's alias table)."""
    from kombu.transport import TRANSPORT_ALIASES

    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = "django_celery_deploy.redis_transport:Transport"
