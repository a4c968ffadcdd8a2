"""Django's SMTP backend with one connection kept open per thread, reused by its next sends.

Django opens and closes an SMTP connection for every send_mail() (get_connection() makes a new
backend each time). A worker that sends e-mail all day then spends a TCP handshake, the
greeting, EHLO (and STARTTLS and AUTH when configured) and QUIT on every message: for a threads
pool that waits on the server, most of its round trips and much of its CPU. No maintained
library keeps the connection per thread (django-celery-email queues the sending, it does not
reuse connections), hence this subclass. Set EMAIL_BACKEND to
"django_celery_deploy.mail.EmailBackend"; everything else is Django's EMAIL_* settings.

A kept connection is reused only while it has been idle less than KEEP_IDLE_SECONDS: servers
close idle sessions (RFC 5321 asks them to wait 5 minutes; many wait less), and a connection
the server has dropped would fail the next send. If one still turns out dropped, the message
is sent once more on a new connection (at worst twice, when the server's acceptance was what
got lost: the same as a task retried after a dropped connection).
"""

from __future__ import annotations

import smtplib
import threading
import time

from django.core.mail.backends import smtp

KEEP_IDLE_SECONDS = 30.0

# The errors of a connection the server has closed under us.
_DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError)


class EmailBackend(smtp.EmailBackend):
    _kept = threading.local()  # per thread: (server key, connection, last used)

    def _key(self) -> tuple:
        return (self.host, self.port, self.username, self.use_tls, self.use_ssl)

    def open(self):
        if self.connection is None:
            kept = getattr(self._kept, "entry", None)
            if kept is not None:
                key, connection, last_used = kept
                if key == self._key() and time.monotonic() - last_used < KEEP_IDLE_SECONDS:
                    self.connection = connection
                    self._reused = True
                    return False  # not new: send_messages leaves it open
                self._kept.entry = None
                self._close_connection_quietly(connection)
        self._reused = False
        created = super().open()
        if created:
            return False  # kept open for this thread's next send
        return created

    def send_messages(self, email_messages):
        try:
            sent = super().send_messages(email_messages)
        except _DROPPED:
            if not getattr(self, "_reused", False):
                self._forget()
                raise
            self._forget()  # dropped while idle: once more on a new connection
            sent = super().send_messages(email_messages)
        if self.connection is not None:
            self._kept.entry = (self._key(), self.connection, time.monotonic())
            self.connection = None  # this backend object is done; the thread keeps the connection
        return sent

    def _forget(self) -> None:
        connection, self.connection = self.connection, None
        self._kept.entry = None
        self._reused = False
        if connection is not None:
            self._close_connection_quietly(connection)

    @staticmethod
    def _close_connection_quietly(connection) -> None:
        try:
            connection.close()
        except OSError:
            pass
