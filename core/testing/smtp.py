"""A local SMTP server for tests that send real mail (aiosmtpd, on a free port of 127.0.0.1)."""
from __future__ import annotations

import contextlib
import socket


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_smtp(rt=None, sender: str = "shop@example.com"):
    """Run an SMTP server for the block; yields the list its messages are appended to (the
    ``email.message.Message`` objects, in order). With ``rt``, the runtime's ``[mail]``
    settings point at it (host, port, sender) for the block. Skips the test when aiosmtpd is
    not installed."""
    import pytest

    controller = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message as _Handler

    got: list = []

    class Sink(_Handler):
        def handle_message(self, message):
            got.append(message)

    port = free_port()
    ctl = controller.Controller(Sink(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        if rt is not None:
            rt.config.setdefault("mail", {}).update({"host": "127.0.0.1", "port": port, "sender": sender})
        yield got
    finally:
        ctl.stop()
