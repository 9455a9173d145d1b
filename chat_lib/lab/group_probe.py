"""The measuring clients of :mod:`chat_lib.lab.group_bench`: one per server of a group, and a tally.

A :class:`Member` is a raw python-socketio client on WebSocket pinned to one
server of a group; it sends messages whose text starts with a unique key
(:func:`group_key`) and notes when each arrives. A :class:`Tally` counts, per
message, how many members have it. The helpers connect members round-robin
over the servers and count the CPU time the group's processes spend.

Introduced in notebook 07.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import psutil
import socketio

from .. import protocol

__all__ = [
    "WAIT",
    "Member",
    "Tally",
    "check_urls",
    "connect_members",
    "cpu_snapshot",
    "cpu_used",
    "group_key",
    "group_processes",
    "group_text",
    "per_server",
]

_KEY_LENGTH = 12  # "f000.000042." - the unique start of each message text
WAIT = 30.0  # seconds to wait for one message to reach everybody before counting it lost


def group_key(kind: str, first: int, second: int) -> str:
    return f"{kind}{first:03d}.{second:06d}."


def group_text(key: str, payload_bytes: int) -> str:
    return key + "x" * max(0, payload_bytes - len(key))



class Tally:
    """Counts, per message, how many clients have it; notes when the last one does."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.counts: dict[str, int] = {}
        self.complete: dict[str, float] = {}  # key -> perf_counter() when the last client had it
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._target = 0
        self._target_reached = asyncio.Event()

    def arrived(self, key: str, now: float) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.counts[key] < self.clients:
            return
        self.complete[key] = now
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        if self._target and len(self.complete) >= self._target:
            self._target_reached.set()

    def expect(self, key: str) -> asyncio.Future[float]:
        """A future that resolves when every client has message ``key``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if key in self.complete:
            future.set_result(self.complete[key])
        else:
            self._waiters[key] = future
        return future

    async def wait_for_complete(self, total: int, timeout: float) -> bool:
        """Wait until ``total`` messages have reached every client; ``False`` on timeout."""
        self._target = total
        if len(self.complete) >= total:
            return True
        self._target_reached.clear()
        try:
            await asyncio.wait_for(self._target_reached.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class Member:
    """One measuring client: a raw python-socketio client on WebSocket, pinned to one server.

    It connects without ``auth``, as the tutorial's page does, so broadcasts
    carry the bare text; it notes when each message arrives.
    """

    def __init__(self, index: int, url: str, server: int, tally: Tally) -> None:
        self.index = index
        self.url = url
        self.server = server  # index of its server in the group
        self.tally = tally
        self.arrivals: dict[str, float] = {}
        self.duplicates = 0
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on(protocol.CHAT_MESSAGE, self._on_message)

    async def _on_message(self, text: Any = "", *extra: Any) -> None:
        now = time.perf_counter()
        if not isinstance(text, str):
            return
        key = text[:_KEY_LENGTH]
        if key in self.arrivals:
            self.duplicates += 1
            return
        self.arrivals[key] = now
        self.tally.arrived(key, now)

    async def connect(self, timeout: float) -> Member:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=timeout)
        return self

    async def send(self, key: str, payload_bytes: int, timeout: float = WAIT) -> bool:
        """Send one message and wait for the server's acknowledgement; ``True`` if it stored it."""
        try:
            answer = await self.sio.call(protocol.CHAT_MESSAGE, group_text(key, payload_bytes), timeout=timeout)
        except socketio.exceptions.SocketIOError:  # no ack in time, or the connection went
            return False
        return isinstance(answer, dict) and bool(answer.get("ok"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 10)


def check_urls(urls: Sequence[str]) -> list[str]:
    if isinstance(urls, str):
        return [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("Give at least one server URL (for a group, ServerGroup(...).urls).")
    return urls


async def connect_members(urls: list[str], clients: int, tally: Tally, concurrency: int = 20) -> list[Member]:
    """``clients`` members, client i on server i mod N; all connected, or none."""
    members = [Member(i, urls[i % len(urls)], i % len(urls), tally) for i in range(clients)]
    gate = asyncio.Semaphore(concurrency)

    async def connect(member: Member) -> None:
        async with gate:
            await member.connect(timeout=30)

    results = await asyncio.gather(*(connect(m) for m in members), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await asyncio.gather(*(m.close() for m in members))
        raise RuntimeError(
            f"{len(failures)} of {clients} clients could not connect ({failures[0]!r}); "
            "check that every server of the group is running, or use fewer clients."
        )
    return members


def group_processes(urls: list[str]) -> dict[int, str]:
    """The processes behind ``urls`` among our child processes: ``{pid: "servers" or "redis"}``.

    A server is a child listening on one of the ports; its Redis is a child
    ``redis-server`` listening on a port those servers are connected to.
    Servers that are not our children (started elsewhere) are not found.
    """
    ports = {urlsplit(url).port for url in urls}
    found: dict[int, str] = {}
    peers: set[int] = set()
    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            connections = child.net_connections(kind="tcp")
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port in ports for c in connections):
                found[child.pid] = "servers"
                peers |= {c.raddr.port for c in connections if c.raddr}
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "redis-server" in child.name() and any(
                c.status == psutil.CONN_LISTEN and c.laddr.port in peers for c in child.net_connections(kind="tcp")
            ):
                found[child.pid] = "redis"
    return found


def cpu_snapshot(processes: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by this process (the clients) and by each of ``processes``."""
    snapshot: dict[int, tuple[str, float]] = {}
    for pid, kind in [(None, "clients"), *processes.items()]:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            snapshot[pid or 0] = (kind, times.user + times.system)
    return snapshot


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by the clients, the servers and Redis."""
    used = {"clients": 0.0, "servers": 0.0, "redis": 0.0}
    for pid, (kind, seconds) in after.items():
        if pid in before:  # a process that died meanwhile is left out
            used[kind] += seconds - before[pid][1]
    return used


def per_server(members: list[Member], servers: int) -> list[int]:
    return [sum(1 for m in members if m.server == s) for s in range(servers)]

