"""A fault drill: people keep chatting while the server crashes and comes back.

:func:`run_outage_drill` starts a chat server in a child process with its log
in a SQLite file, connects a few clients (WebSocket and long-polling), has each
of them type at a steady rate, and meanwhile kills the server with SIGKILL (as a
crash would) and restarts it on the same port and the same file, once or
several times. It records everything a chart or a test needs and returns it as
a :class:`~chat_lib.lab.drill_result.DrillResult`; it never prints or plots.

Two variants run the same scenario:

* ``"reliable"``: :class:`~chat_lib.client.ChatClient`. Each message gets an id
  and is sent until the server acknowledges it (at-least-once; the server
  stores each id once, so effectively exactly-once), and on every reconnection
  the client tells the server the last offset it saw and gets what it missed.
* ``"plain"``: what the classic tutorial does. A plain python-socketio
  ``AsyncClient`` with no ``auth``, ``emit`` without an acknowledgement, no
  retries: an emit while disconnected raises (the message is gone), an emit
  into a connection that just died vanishes, and broadcasts sent while a client
  is away never reach it (at-most-once). Both variants reconnect with the same
  backoff, so the difference comes from the protocol alone.

Times in the result are seconds since the clients started typing.

Introduced in notebook 06.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import socketio

from .. import protocol
from ..background import BackgroundServer
from ..client import ChatClient, quiet_unclosed_connections
from ..store import MessageStore
from .drill_result import DrillClient, DrillMessage, DrillResult, Outage, Variant

__all__ = ["Outbox", "run_outage_drill", "typing_schedule"]

logger = logging.getLogger("chat_lib.lab.drill")

# Short pings: a polling client notices a dead server within a second or two.
# No rate limit: the drill is about crashes, not about abuse.
DEFAULT_SERVER_OPTIONS: dict[str, Any] = {
    "ping_interval": 1, "ping_timeout": 1, "rate_limit": None, "max_sessions_per_address": None,
}

# ChatClient's reconnection backoff, given to the plain clients too.
_BACKOFF = {"reconnection_delay": 0.5, "reconnection_delay_max": 5, "randomization_factor": 0.5}


async def run_outage_drill(
    *,
    variant: Variant = "reliable",
    clients: int = 4,
    transports: Sequence[str] = ("websocket", "polling"),
    rate: float = 5.0,
    outages: int = 2,
    downtime: float = 1.0,
    warmup: float = 1.0,
    between: float = 1.5,
    ack_timeout: float = 1.0,
    settle_timeout: float = 20.0,
    store: str | Path | None = None,
    server_options: dict[str, Any] | None = None,
) -> DrillResult:
    """Chat through server crashes and return the timeline.

    The clients type from the start; after ``warmup`` seconds the server is
    killed (SIGKILL), stays down for ``downtime`` seconds, then restarts on the
    same port and file (the start itself takes a second or so more), and the
    clients type on for ``between`` seconds; that repeats ``outages`` times.
    Then typing stops and the drill waits for the messages still on their way
    (up to ``settle_timeout`` seconds), disconnects everybody and stops the server.

    :param variant: ``"reliable"`` (:class:`ChatClient`) or ``"plain"`` (the tutorial's client).
    :param clients: how many people chat.
    :param transports: transports given to the clients in turn:
                       ``"websocket"``, ``"polling"`` or ``"auto"``.
    :param rate: messages per second each person types.
    :param outages: how many times the server is killed.
    :param downtime: seconds the server stays dead before it is restarted.
    :param warmup: seconds of typing before the first kill.
    :param between: seconds of typing after each restart.
    :param ack_timeout: seconds a reliable client waits for an acknowledgement before sending again.
    :param settle_timeout: seconds to wait, after typing stops, for messages still on their way.
    :param store: the server's SQLite file; a temporary one if ``None``.
    :param server_options: :class:`~chat_lib.server.ChatServer` options
                           (default: 1 s pings, no rate limit).
    :returns: a :class:`DrillResult`.

    Example::

        result = await run_outage_drill(variant="reliable", clients=4, outages=2)
        result.totals()["lost"]        # 0

    Introduced in notebook 06.
    """
    if variant not in ("reliable", "plain"):
        raise ValueError(f"variant must be 'reliable' or 'plain', not {variant!r}.")
    if clients < 1:
        raise ValueError("A drill needs at least one client.")
    if rate <= 0:
        raise ValueError("rate must be a positive number of messages per second.")
    if outages < 0 or downtime < 0 or warmup < 0 or between < 0:
        raise ValueError("outages, downtime, warmup and between cannot be negative.")
    if not transports or any(t not in ("auto", "polling", "websocket") for t in transports):
        raise ValueError("transports must name 'websocket', 'polling' or 'auto' (at least one).")
    options = {**DEFAULT_SERVER_OPTIONS, **(server_options or {})}
    with contextlib.ExitStack() as stack:
        stack.enter_context(quiet_unclosed_connections())
        if store is None:
            store = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chat-drill-"))) / "chat.sqlite3"
        store = str(store)
        drill = _Drill(variant, clients, list(transports), rate, ack_timeout, store, options)
        try:
            return await drill.run(outages, downtime, warmup, between, settle_timeout)
        finally:
            await drill.tear_down()
            gc.collect()  # collect what the drill left now, while aiohttp's reports of it are silenced


async def typing_schedule(rate: float, phase: float, stop: asyncio.Event) -> AsyncIterator[int]:
    """Yield 0, 1, 2, ...: one every ``1 / rate`` seconds from ``phase`` seconds on, until ``stop`` is set.

    An absolute schedule: a slow send does not slow the typist down.
    """
    start = time.perf_counter() + phase
    number = 0
    while not stop.is_set():
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
        yield number
        number += 1


class Outbox:
    """What one person typed and the server has not yet stored, as a chat app keeps it.

    Typing never waits for the network: :meth:`put` returns at once. :meth:`deliver`
    sends the messages one by one, in order, each until the server acknowledges
    it (``ChatClient`` retries), so a message typed during an outage leaves once
    the server is back.
    """

    def __init__(self, client: ChatClient, now: Callable[[], float]) -> None:
        self.client = client
        self.now = now
        self.sending: DrillMessage | None = None  #: the message on its way, if one is
        self._queue: asyncio.Queue[DrillMessage] = asyncio.Queue()

    def put(self, message: DrillMessage) -> None:
        self._queue.put_nowait(message)

    async def emptied(self) -> None:
        """Wait until every message put in so far is acknowledged (or failed)."""
        await self._queue.join()

    async def deliver(self) -> None:
        """Send forever (a task, cancelled at the end); each outcome is recorded on its message."""
        while True:
            message = self.sending = await self._queue.get()
            try:
                ack = await self.client.send(message.text, timeout=None)
                message.acked_at, message.offset = self.now(), ack["offset"]
            except Exception as exc:  # noqa: BLE001 - recorded, and the drill goes on
                message.error = str(exc)
            finally:
                self.sending = None
                self._queue.task_done()


class _Drill:
    """The moving parts of one :func:`run_outage_drill` run."""

    def __init__(
        self,
        variant: Variant,
        clients: int,
        transports: list[str],
        rate: float,
        ack_timeout: float,
        store: str,
        options: dict[str, Any],
    ) -> None:
        self.variant = variant
        self.rate = rate
        self.ack_timeout = ack_timeout
        self.store = store
        self.options = options
        self.timelines = [DrillClient(f"user{i}", transports[i % len(transports)]) for i in range(clients)]
        self.server: BackgroundServer | None = None
        self.port = 0
        self.outages: list[Outage] = []
        self.t0 = time.perf_counter()
        self.stop_typing = asyncio.Event()
        self.chat_clients: list[ChatClient] = []
        self.plain_clients: list[socketio.AsyncClient] = []
        self.outboxes: list[Outbox] = []
        self.tasks: list[asyncio.Task] = []
        self.closing = False  # our own disconnections at the end are not outages

    def now(self) -> float:
        return time.perf_counter() - self.t0

    # -- the server --------------------------------------------------------------

    async def start_server(self) -> float:
        """Start the server; returns when it began to accept connections."""
        server = BackgroundServer(mode="process", port=self.port, store=self.store, **self.options)

        def start() -> float:
            server.start()
            return self.now()  # taken here: the loop may be busy with reconnecting clients

        # Starting a child takes a second or so; in a thread, so the clients'
        # event loop (the notebook's) keeps running meanwhile.
        started_at = await asyncio.to_thread(start)
        self.server, self.port = server, server.port
        return started_at

    async def kill_server(self) -> None:
        assert self.server is not None
        await asyncio.to_thread(self.server.kill)

    # -- the scenario -------------------------------------------------------------

    async def run(
        self, outages: int, downtime: float, warmup: float, between: float, settle_timeout: float
    ) -> DrillResult:
        await self.start_server()
        url = f"http://127.0.0.1:{self.port}"
        # One after the other: client i must sit at index i of its list.
        for timeline in self.timelines:
            if self.variant == "reliable":
                await self.connect_reliable(url, timeline)
            else:
                await self.connect_plain(url, timeline)
        self.t0 = time.perf_counter()
        for index, timeline in enumerate(self.timelines):
            # Spread the clients' keystrokes over each period, as real people would.
            phase = index / (self.rate * len(self.timelines))
            self.tasks.append(asyncio.ensure_future(self.type_away(index, timeline, phase)))
        await asyncio.sleep(warmup)
        for _ in range(outages):
            killed_at = self.now()
            await self.kill_server()
            logger.info("server killed at %.2f s", killed_at)
            await asyncio.sleep(downtime)
            self.outages.append(Outage(killed_at, await self.start_server()))
            await asyncio.sleep(between)
        self.stop_typing.set()
        typing_ended_at = self.now()
        settled = await self.settle(settle_timeout)
        finished_at = self.now()
        for timeline, client in zip(self.timelines, self.chat_clients):
            timeline.received = [(m.text, m.received_at - self.t0) for m in client.messages]
        await self.tear_down()
        log = MessageStore(self.store)
        try:
            stored = [m.text for m in log.since(0, limit=1_000_000)]
        finally:
            log.close()
        return DrillResult(
            self.variant, self.timelines, self.outages, stored, self.rate, typing_ended_at, finished_at, settled
        )

    async def type_away(self, index: int, timeline: DrillClient, phase: float) -> None:
        """Type one message every ``1 / rate`` seconds until told to stop; never block on the network."""
        async for number in typing_schedule(self.rate, phase, self.stop_typing):
            message = DrillMessage(f"{timeline.name} message {number}", timeline.name, self.now())
            timeline.typed.append(message)
            if self.variant == "reliable":
                self.outboxes[index].put(message)
            else:
                await self.emit_plain(self.plain_clients[index], message)

    async def settle(self, timeout: float) -> bool:
        """Wait for what is still on its way; whether everything arrived in time."""
        deadline = time.monotonic() + timeout
        if self.variant == "reliable":
            try:
                await asyncio.wait_for(asyncio.gather(*(box.emptied() for box in self.outboxes)), timeout)
                total = sum(len(t.typed) for t in self.timelines)
                remaining = max(0.1, deadline - time.monotonic())
                await asyncio.gather(*(c.wait_for_count(total, timeout=remaining) for c in self.chat_clients))
                return True
            except Exception:  # noqa: BLE001 - a timeout or a lost client: a drill reports, it does not raise
                logger.warning("reliable drill did not settle within %s s", timeout)
                return False
        # Plain clients cannot tell what they missed: wait until they are all
        # back (so their reconnection times are known), then until nothing new
        # arrives for half a second.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._all_connected(), timeout)
        quiet_since, last = time.monotonic(), None
        while time.monotonic() < deadline:
            counts = [len(t.received) for t in self.timelines]
            if counts != last:
                quiet_since, last = time.monotonic(), counts
            elif time.monotonic() - quiet_since >= 0.5:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _all_connected(self) -> None:
        while not all(c.connected for c in self.plain_clients):
            await asyncio.sleep(0.05)

    async def tear_down(self) -> None:
        """Stop typists, couriers and clients, and the server; idempotent."""
        self.stop_typing.set()
        self.closing = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await asyncio.gather(*(c.disconnect() for c in self.chat_clients), return_exceptions=True)
        await asyncio.gather(*(_leave_plain(c) for c in self.plain_clients), return_exceptions=True)
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)

    # -- the reliable clients -----------------------------------------------------

    async def connect_reliable(self, url: str, timeline: DrillClient) -> None:
        client = ChatClient(url, nickname=timeline.name, transport=timeline.transport, ack_timeout=self.ack_timeout)

        def on_status(kind: str, status: Any) -> None:
            if kind != "status":
                return
            if status == "reconnecting":
                timeline.disconnected_at.append(self.now())
            elif status == "connected" and timeline.disconnected_at:
                timeline.reconnected_at.append(self.now())

        client.add_listener(on_status)
        await client.connect()
        self.chat_clients.append(client)
        outbox = Outbox(client, self.now)
        self.outboxes.append(outbox)
        self.tasks.append(asyncio.ensure_future(outbox.deliver()))

    # -- the plain clients ------------------------------------------------------------

    async def connect_plain(self, url: str, timeline: DrillClient) -> None:
        client = socketio.AsyncClient(reconnection=True, **_BACKOFF)

        @client.event
        def connect() -> None:
            if timeline.disconnected_at:
                timeline.reconnected_at.append(self.now())

        @client.event
        def disconnect(reason: Any = None) -> None:
            if not self.closing:
                timeline.disconnected_at.append(self.now())

        @client.on(protocol.CHAT_MESSAGE)
        def chat_message(text: Any, *rest: Any) -> None:
            timeline.received.append((text, self.now()))

        # No auth, as in the tutorial: the server sends bare strings and no catch-up.
        transports = ["polling", "websocket"] if timeline.transport == "auto" else [timeline.transport]
        await client.connect(url, transports=transports, wait_timeout=10)
        self.plain_clients.append(client)

    async def emit_plain(self, client: socketio.AsyncClient, message: DrillMessage) -> None:
        try:
            await client.emit(protocol.CHAT_MESSAGE, message.text)
        except socketio.exceptions.SocketIOError as exc:
            message.error = str(exc) or type(exc).__name__


async def _leave_plain(client: socketio.AsyncClient) -> None:
    if client.connected:
        await client.disconnect()
    else:
        await client.shutdown()  # stops a reconnection loop, if one runs
        await client.eio.disconnect(abort=True)  # and closes the HTTP session it leaves open
