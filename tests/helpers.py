"""Helpers the tests share, written once.

Fixtures live in ``conftest.py``; plain functions the tests import live here
(pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from chat_lib.background import bind_socket

__all__ = ["unused_port", "wait_for"]


async def wait_for(condition: Callable[[], object], timeout: float = 20, state: Callable[[], object] = lambda: "") -> None:
    """Wait until ``condition()`` is true, checking every 20 ms; fail after ``timeout`` seconds.

    For state that no event announces (a status seen from outside, a server's
    online list); ``state()`` goes into the failure message.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met in time {state()}"
        await asyncio.sleep(0.02)


def unused_port() -> int:
    """A port on 127.0.0.1 where nobody listens (bound, then released)."""
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port
