"""A slow SMTP sink on loopback for make bench: every message is accepted, after a delay, and
the time of each acceptance is kept, so that a drain rate is counted by what the server saw.

aiosmtpd (aio-libs) speaks the protocol; this module only adds the delay and the count.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from aiosmtpd.controller import Controller


class _SlowHandler:
    def __init__(self, delay: float):
        self.delay = delay
        self.accepted: list[float] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd calls it by this name
        # The server's answer to the message is what the client waits on: delay that one.
        await asyncio.sleep(self.delay)
        with self._lock:
            self.accepted.append(time.perf_counter())
        return "250 Message accepted for delivery"


class SlowSmtpSink:
    """`with SlowSmtpSink(0.05) as sink:` listens on 127.0.0.1:sink.port until the block ends."""

    def __init__(self, delay: float):
        self.handler = _SlowHandler(delay)
        with socket.socket() as probe:  # a free loopback port; aiosmtpd checks it answers
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def accepted(self) -> list[float]:
        return self.handler.accepted

    def reset(self) -> None:
        with self.handler._lock:
            self.handler.accepted.clear()

    def __enter__(self) -> SlowSmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
