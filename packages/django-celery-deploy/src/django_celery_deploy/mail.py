"""Django's SMTP backend with one connection kept open per thread, reused by its next sends.

Django opens and closes an SMTP connection for every send_mail() (get_connection() makes a new
backend each time). A worker that sends e-mail all day then spends a TCP handshake, the
greeting, EHLO (and STARTTLS and AUTH when configured) and QUIT on every message: for a threads
pool that waits on the server, most of its round trips and much of its CPU. No maintained
library keeps the connection per thread (django-celery-email queues the sending, it does not
reuse connections), hence this subclass. Set EMAIL_BACKEND to
"django_celery_deploy.mail.EmailBackend"; everything else is Django's EMAIL_* settings.

A kept connection is reused only while it has been idle less than KEEP_IDLE_SECONDS (servers
close idle sessions: RFC 5321 asks them to wait 5 minutes, many wait less) and, once idle for
a second, only after the server answers a NOOP on it; otherwise a new connection is opened. A message is never sent a
second time by this backend: a send that fails raises, as Django's own backend does, and the
connection is closed and forgotten (the task's retry decides what happens next).
"""

from __future__ import annotations

import os
import smtplib
import threading
import time

from django.core.mail.backends import smtp

KEEP_IDLE_SECONDS = 30.0
# A connection idle longer than this is asked for a NOOP before it is reused: a server that
# dropped it would otherwise fail the send (and the task would wait for its retry). One in
# steady use skips the round trip.
CHECK_IDLE_SECONDS = 1.0


class EmailBackend(smtp.EmailBackend):
    _kept = threading.local()  # per thread: (server key, connection, last used)

    def _key(self) -> tuple:
        # The pid: a forked child must not share its parent's socket.
        return (os.getpid(), self.host, self.port, self.username, self.use_tls, self.use_ssl)

    def open(self):
        if self.connection is None:
            kept = getattr(self._kept, "entry", None)
            self._kept.entry = None
            if kept is not None:
                key, connection, last_used = kept
                idle = time.monotonic() - last_used
                if (
                    key == self._key()
                    and idle < KEEP_IDLE_SECONDS
                    and (idle < CHECK_IDLE_SECONDS or _alive(connection))
                ):
                    self.connection = connection
                    return False  # not new: send_messages leaves it open
                _close_quietly(connection)
        created = super().open()
        if created:
            return False  # kept open for this thread's next send
        return created

    def send_messages(self, email_messages):
        try:
            sent = super().send_messages(email_messages)
        except BaseException:
            # A connection that failed a send is not trusted again.
            connection, self.connection = self.connection, None
            if connection is not None:
                _close_quietly(connection)
            raise
        if self.connection is not None:
            self._kept.entry = (self._key(), self.connection, time.monotonic())
            self.connection = None  # this backend object is done; the thread keeps the connection
        return sent


def _alive(connection) -> bool:
    try:
        return connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except OSError:
        pass
