"""The kept SMTP connection per thread and the Redis transport's reused client object."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import override_settings
from django_celery_deploy import mail as kept_mail

SLOW_ANSWER = 2.0


class _Recorder:
    """Counts SMTP sessions (EHLO/HELO) and the messages each delivered."""

    def __init__(self):
        self.sessions = 0
        self.messages: list[str] = []

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # aiosmtpd's hook name
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.messages.append(envelope.content.decode())
        if b"Subject: slow" in envelope.content:
            await asyncio.sleep(SLOW_ANSWER)  # past the client's EMAIL_TIMEOUT: it gives up waiting
        return "250 OK"


def mail_settings(port: int):
    return override_settings(
        EMAIL_BACKEND="django_celery_deploy.mail.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_TIMEOUT=1
    )


@pytest.fixture
def smtp():
    recorder = _Recorder()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    kept_mail.EmailBackend._kept.entry = None  # no connection kept from another test
    try:
        with mail_settings(port):
            yield recorder, controller
    finally:
        kept_mail.EmailBackend._kept.entry = None
        controller.stop()


def send(n: int) -> None:
    for i in range(n):
        assert mail.send_mail(f"subject {i}", "body", "from@clinic.test", [f"to{i}@clinic.test"]) == 1


def test_one_thread_sends_its_messages_over_one_smtp_session(smtp):
    recorder, _ = smtp
    send(5)
    assert len(recorder.messages) == 5
    assert recorder.sessions == 1


def test_each_thread_keeps_its_own_connection(smtp):
    recorder, _ = smtp
    threads = [threading.Thread(target=send, args=(3,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recorder.messages) == 9
    assert recorder.sessions == 3


def test_a_connection_idle_past_the_limit_is_replaced(smtp, monkeypatch):
    recorder, _ = smtp
    send(1)
    monkeypatch.setattr(kept_mail, "KEEP_IDLE_SECONDS", 0.0)
    send(1)
    assert (len(recorder.messages), recorder.sessions) == (2, 2)


def test_a_kept_connection_the_server_dropped_while_idle_is_replaced_before_the_send(smtp):
    recorder, _ = smtp
    send(1)
    # The server side goes away under the kept connection (as an idle timeout would).
    key, connection, last_used = kept_mail.EmailBackend._kept.entry
    connection.sock.shutdown(socket.SHUT_RDWR)
    # Idle past the check: the NOOP finds it dead, and a new connection carries the message.
    kept_mail.EmailBackend._kept.entry = (key, connection, last_used - kept_mail.CHECK_IDLE_SECONDS)
    send(1)
    assert len(recorder.messages) == 2
    assert recorder.sessions == 2


def test_a_send_whose_answer_never_came_is_not_sent_again_and_its_connection_is_dropped(smtp):
    recorder, _ = smtp
    send(1)  # a kept connection
    with pytest.raises((smtplib.SMTPException, OSError)):
        mail.send_mail("slow", "body", "from@clinic.test", ["to@clinic.test"])
    assert kept_mail.EmailBackend._kept.entry is None
    time.sleep(SLOW_ANSWER + 0.5)  # time for a second attempt to reach the server, if one were made
    assert sum("Subject: slow" in message for message in recorder.messages) == 1
    send(1)  # and the next send opens a new connection
    assert recorder.sessions == 2


def test_a_refused_first_connection_raises_for_the_task_to_retry():
    with socket.socket() as probe:  # nothing listens on this port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kept_mail.EmailBackend._kept.entry = None
    with mail_settings(port), pytest.raises(ConnectionRefusedError):
        send(1)
    assert kept_mail.EmailBackend._kept.entry is None


def test_the_redis_channel_reuses_one_client_object_until_its_pool_is_replaced():
    from types import SimpleNamespace

    from django_celery_deploy.redis_transport import ReusedClientMixin

    # The mixin over a stand-in for kombu's channel: a pool, and a client factory that counts.
    class Channel(ReusedClientMixin):
        def __init__(self):
            self.pool, self.made = object(), 0

        def _create_client(self):
            self.made += 1
            return SimpleNamespace(connection_pool=self.pool)

    channel = Channel()
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second and channel.made == 1
    given = object()
    with channel.conn_or_acquire(given) as client:
        assert client is given
    channel.pool = object()  # kombu replaces the pool after a connection loss
    with channel.conn_or_acquire() as third:
        assert third is not first and third.connection_pool is channel.pool and channel.made == 2


def test_redis_urls_use_the_bundles_transport_once_the_settings_chose_redis():
    from django_celery_deploy import brokers
    from kombu.transport import TRANSPORT_ALIASES, resolve_transport

    database = brokers.parse_database_url("sqlite:////tmp/x.db")
    choice = brokers.choose_broker(None, "redis://127.0.0.1:6379/0", database)
    brokers.celery_settings(choice, database, visibility_timeout=600)
    for scheme in ("redis", "rediss"):  # rediss: Redis over TLS
        assert TRANSPORT_ALIASES[scheme] == "django_celery_deploy.redis_transport:Transport"
        assert resolve_transport(scheme).__module__ == "django_celery_deploy.redis_transport"
