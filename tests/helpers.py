"""Helpers the tests share, written once.

Fixtures live in ``conftest.py``; plain functions the tests import live here
(pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from chat_lib import BackgroundServer, LocalRedis
from chat_lib.background import bind_socket

__all__ = ["asked_only_for_holes", "servers_sharing_redis", "unused_port", "wait_for"]


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


def asked_only_for_holes(asked: list, hole: int) -> None:
    """Check a client's ``history`` requests, ``[(offsets it had, request, answer), ...]``.

    Each asked for offsets only, none it already had, and got none of those
    back; ``hole`` (a room message's offset) was asked for exactly once. A
    head may come while a public message is still on its way to the client:
    then it asks for that one too, which is right.
    """
    for had, request, answer in asked:
        assert set(request) == {"offsets"} and not set(had) & set(request["offsets"]), request
        assert answer["ok"] and not set(had) & {message["offset"] for message in answer["messages"]}, answer
    assert sum(request["offsets"].count(hole) for _, request, _ in asked) == 1  # once, and then known


@contextlib.contextmanager
def servers_sharing_redis(folder: Path) -> Iterator[tuple[BackgroundServer, BackgroundServer]]:
    """Two chat servers (threads of this process) on one new Redis, with one SQLite log in ``folder``."""
    log = str(folder / "log.sqlite3")
    with LocalRedis() as redis, BackgroundServer(redis_url=redis.url, store=log, ping_interval=2) as one, \
            BackgroundServer(redis_url=redis.url, store=log, ping_interval=2) as other:
        yield one, other
