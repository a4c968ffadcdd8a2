"""kombu's pgmq transport, made to survive a PostgreSQL restart.

kombu 5.7's pgmq Channel deletes a message (ack) or makes it visible again (reject,
restore) with one SQL call and releases the delivery from its prefetch window only
if that call succeeded. When PostgreSQL restarts while a worker settles a message,
the call fails on a dead pooled connection, kombu logs "Couldn't ack" and the
delivery stays counted as unacknowledged forever: with a prefetch window of one per
process (the reports queue as deployed) the worker stopped consuming for good, every
later task stayed queued, and a finished task whose delete failed ran again once
the visibility timeout was up.

Here each settle call is retried, over fresh pooled connections, until the server is
back or `settle_retry_seconds` pass; whatever happens, the delivery leaves the
prefetch window, so the worker goes on consuming. A message that could not be settled
in time is redelivered after the visibility timeout (at least once, as any lost ack).
No maintained transport does this (checked kombu 5.7 and its issue tracker), hence
the subclass; it changes only the three settle paths and is selected in settings.
"""

from __future__ import annotations

import logging
import time

import psycopg
from kombu.transport import pgmq

logger = logging.getLogger(__name__)

# psycopg_pool.PoolTimeout subclasses psycopg.OperationalError.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)


class Channel(pgmq.Channel):
    default_settle_retry_seconds = 60.0
    settle_retry_pause = 0.5

    @property
    def settle_retry_seconds(self) -> float:
        return float(self.transport_options.get("settle_retry_seconds", self.default_settle_retry_seconds))

    def _settle(self, what: str, call, *args):
        """Run one settle call, retrying connection errors until PostgreSQL answers again."""
        deadline = time.monotonic() + self.settle_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            try:
                return call(*args)
            except CONNECTION_ERRORS as exc:
                if time.monotonic() >= deadline:
                    logger.error(
                        "pgmq: %s of %s failed for %.0f s, giving up: %s", what, args, self.settle_retry_seconds, exc
                    )
                    raise
                if attempt == 1:
                    logger.warning("pgmq: %s of %s failed (%s); retrying until PostgreSQL is back", what, args, exc)
                time.sleep(self.settle_retry_pause)

    def _pgmq_ids(self, delivery_tag):
        try:
            info = self.qos.get(delivery_tag).delivery_info
        except KeyError:
            return None, None
        return info.get("pgmq_queue"), info.get("pgmq_msg_id")

    def basic_ack(self, delivery_tag, multiple=False):
        if multiple:
            raise NotImplementedError("multiple acks not implemented")
        queue, msg_id = self._pgmq_ids(delivery_tag)
        try:
            if queue is not None and msg_id is not None:
                self._settle("ack", self.pgmq.delete, queue, msg_id)
        finally:
            # The grandparent's ack only forgets the delivery (virtual.Channel.basic_ack).
            super(pgmq.Channel, self).basic_ack(delivery_tag)

    def basic_reject(self, delivery_tag, requeue=False):
        queue, msg_id = self._pgmq_ids(delivery_tag)
        if queue is None or msg_id is None:
            return super(pgmq.Channel, self).basic_reject(delivery_tag, requeue=requeue)
        try:
            if requeue:
                self._settle("requeue", self.pgmq.set_vt, queue, msg_id, 0)
            else:
                self._settle("reject", self.pgmq.delete, queue, msg_id)
        finally:
            self.qos.reject(delivery_tag, requeue=False)

    def _restore(self, message, unwanted_delivery_info=("pgmq_message", "pgmq_msg_id", "pgmq_queue")):
        info = message.delivery_info
        queue, msg_id = info.get("pgmq_queue"), info.get("pgmq_msg_id")
        if queue is not None and msg_id is not None:
            return self._settle("restore", self.pgmq.set_vt, queue, msg_id, 0)
        return super()._restore(message, unwanted_delivery_info)


class Transport(pgmq.Transport):
    Channel = Channel
