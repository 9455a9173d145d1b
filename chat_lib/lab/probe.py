"""The measuring client of the benchmarks: a raw python-socketio client that times arrivals.

:class:`Probe` connects on one pinned transport (or ``"auto"``), sends chat
messages whose text starts with a unique key, and notes when each comes back.
The helpers connect many probes at once, close them, time one round trip, and
put a :class:`~chat_lib.lab.delay_proxy.DelayProxy` in front of a server
(:func:`route`). :mod:`chat_lib.lab.bench` builds its measurements on them.

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import socketio

from .. import protocol
from ..client import quiet_unclosed_connections
from ..overrides import allow_polling_payloads
from .delay_proxy import DelayProxy

__all__ = [
    "WAIT",
    "FixedTransport",
    "Probe",
    "SetupTransport",
    "close_all",
    "connect_many",
    "message_key",
    "message_text",
    "round_trip_ms",
    "route",
    "settle",
]

#: A transport pinned for a whole measurement (``client.Transport`` also allows ``"auto"``).
FixedTransport = Literal["polling", "websocket"]
#: Connection set-up is also measured the way browsers connect: polling, then upgrade.
SetupTransport = Literal["polling", "websocket", "auto"]

_KEY_LENGTH = 9  # "m0000042." - the unique start of each message text
WAIT = 10.0  # seconds to wait for any single message before counting it lost


def message_key(index: int) -> str:
    """The unique start of message ``index``'s text: ``"m0000042."``."""
    return f"m{index:07d}."


def message_text(index: int, payload_bytes: int) -> str:
    key = message_key(index)
    return key + "x" * max(0, payload_bytes - len(key))


class Probe:
    """A raw python-socketio client that notes when each chat message arrives.

    Finer than :class:`~chat_lib.client.ChatClient`: no auth (bare-text
    broadcasts, no acks), and arrival times taken in the event handler.
    """

    def __init__(self, transport: str) -> None:
        # A polling answer to a busy probe holds hundreds of messages: more
        # packets than python-engineio decodes by default (16) in one payload.
        allow_polling_payloads(protocol.DEFAULT_MAX_PAYLOAD_BYTES)
        self.transport = transport
        self.sio = socketio.AsyncClient(reconnection=False)
        self.arrivals: dict[str, float] = {}
        self.received = 0
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._count_target = 0
        self._count_reached = asyncio.Event()
        self.sio.on(protocol.CHAT_MESSAGE, self._on_message)

    async def _on_message(self, text: Any = "", *extra: Any) -> None:
        now = time.perf_counter()
        key = text[:_KEY_LENGTH] if isinstance(text, str) else ""
        self.received += 1
        self.arrivals[key] = now
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        if self._count_target and self.received >= self._count_target:
            self._count_reached.set()

    def expect(self, index: int) -> asyncio.Future[float]:
        """A future that resolves to the arrival time of message ``index``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[message_key(index)] = future
        return future

    async def wait_for_total(self, total: int, timeout: float) -> bool:
        """Wait until ``total`` messages have arrived in all; ``False`` on timeout."""
        self._count_target = total
        if self.received >= total:
            return True
        self._count_reached.clear()
        try:
            await asyncio.wait_for(self._count_reached.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def connect(self, url: str, timeout: float = 15.0) -> Probe:
        transports = ["polling", "websocket"] if self.transport == "auto" else [self.transport]
        try:
            await self.sio.connect(url, transports=transports, wait_timeout=timeout)
        except socketio.exceptions.ConnectionError:
            await self.sio.eio.disconnect(abort=True)  # closes the HTTP session a failed attempt leaves open
            raise
        return self

    async def send(self, index: int, payload_bytes: int) -> None:
        await self.sio.emit(protocol.CHAT_MESSAGE, message_text(index, payload_bytes))

    async def close(self) -> None:
        await close_all([self])


async def close_all(probes: list[Probe]) -> None:
    """Disconnect every probe, then collect what they left behind, once."""

    async def close(probe: Probe) -> None:
        # Against ChatServer this is quick on polling too: it releases the pending GET.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(probe.sio.disconnect(), 10)

    with quiet_unclosed_connections():
        await asyncio.gather(*(close(probe) for probe in probes))
        gc.collect()


@contextlib.asynccontextmanager
async def route(url: str, network_delay_ms: float | None) -> AsyncIterator[tuple[str, DelayProxy | None]]:
    """Yield the URL to use: ``url`` itself, or a delaying proxy in front of it."""
    if network_delay_ms is None:
        yield url, None
        return
    proxy = DelayProxy(url, delay=network_delay_ms / 1000)
    proxy.start()
    try:
        yield proxy.url, proxy
    finally:
        await asyncio.to_thread(proxy.stop)


async def round_trip_ms(probe: Probe, index: int, payload_bytes: int, sender: Probe | None = None) -> float | None:
    arrival = probe.expect(index)
    start = time.perf_counter()
    await (sender or probe).send(index, payload_bytes)
    try:
        return (await asyncio.wait_for(arrival, WAIT) - start) * 1000
    except asyncio.TimeoutError:
        return None



async def connect_many(url: str, transport: str, clients: int, concurrency: int) -> list[Probe]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Probe:
        async with gate:
            return await Probe(transport).connect(url, timeout=60)

    results = await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)
    probes = [r for r in results if isinstance(r, Probe)]
    failures = [r for r in results if not isinstance(r, Probe)]
    if failures:
        await close_all(probes)
        raise RuntimeError(
            f"{len(failures)} of {clients} {transport} clients could not connect ({failures[0]!r}); "
            "try fewer clients, or raise the open-file limit (ulimit -n)."
        )
    return probes



async def settle(seconds: float = 0.05) -> None:
    # Benchmark only: lets the in-flight re-poll (polling) or pong land on the
    # right side of a counter snapshot; nothing is being waited for as an event.
    await asyncio.sleep(seconds)
