"""A fault drill for the shared Redis: people keep chatting while redis-server crashes and comes back.

Notebook 06 killed the chat server; here the chat servers stay up and the
one thing they share dies. :func:`run_redis_outage_drill` starts a
redis-server that keeps its data in an append-only file
(:class:`~chat_lib.lab.cluster.LocalRedis` with a ``data_dir``), two chat
server processes with their message log in it (a Redis stream, as
``serve --redis-url`` without ``--store``), and a few
:class:`~chat_lib.client.ChatClient` s spread over both. They type at a
steady rate; meanwhile redis-server is killed with SIGKILL and, after a
while, started again on the same port and folder.

What it records, per message: when it was typed, each time the server
refused it (``'chat error'``: the log is unavailable, no acknowledgement, so
the client sends it again), when it was acknowledged and at which offset;
per client, what it received live. Afterwards it reads the whole log back.
The result, a :class:`RedisOutageResult`, says what was refused, retried,
stored, lost and doubled (:meth:`RedisOutageResult.outage_totals`). Times are
seconds since the clients started typing.

Introduced in notebook 08.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import logging.handlers
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis as redis_py

from .. import protocol
from ..background import BackgroundServer
from ..client import ChatClient, quiet_unclosed_connections
from ..server.app import HEAD_INTERVAL
from ..stream_store import StreamStore
from .cluster import LocalRedis
from .drill import Outbox, typing_schedule
from .drill_result import DrillClient, DrillMessage, DrillResult, Outage

__all__ = ["LogMessage", "RedisOutageResult", "kill_redis", "run_redis_outage_drill"]

logger = logging.getLogger("chat_lib.lab.redis_outage")

# Short pings (nobody waits long for a dead connection); no rate limit: the drill is about Redis.
DEFAULT_SERVER_OPTIONS: dict[str, Any] = {"ping_interval": 1, "ping_timeout": 1, "rate_limit": None}


@dataclass
class LogMessage(DrillMessage):
    """A drill message, with the times the server refused to store it."""

    refused_at: list[float] = field(default_factory=list)  #: each 'chat error' "the log is unavailable"


@dataclass
class RedisOutageResult(DrillResult):
    """The timeline of a Redis outage drill (``outages``: when redis-server was down)."""

    servers: dict[str, int] = field(default_factory=dict)  #: client name -> index of its chat server
    server_log: list[str] = field(default_factory=list)  #: what the chat servers logged meanwhile

    def outage_totals(self) -> dict[str, Any]:
        """The drill in a few numbers.

        ``refusals`` counts the server's answers "the log is unavailable",
        ``refused_messages`` the messages that got at least one, and
        ``retried_and_stored`` those of them that a later retry stored.
        ``acknowledged_lost`` counts acknowledged messages missing from the
        log after the restart (it must be 0). ``missed_live`` counts deliveries
        that were never pushed to a client although the message is in the log:
        what the Redis pub/sub between the processes dropped. Of those,
        ``fetched_from_log`` the client read from the log after a ``'head'``
        announcement, and ``missed_for_good`` it never got.
        """
        typed: list[LogMessage] = self.typed  # type: ignore[assignment]
        stored = Counter(self.stored)
        acked = [m for m in typed if m.acked_at is not None]
        rows = self.deliveries()
        return {
            "clients": len(self.clients),
            "typed": len(typed),
            "typed_during_outage": sum(self.in_outage(m.typed_at) for m in typed),
            "refusals": sum(len(m.refused_at) for m in typed),
            "refused_messages": sum(bool(m.refused_at) for m in typed),
            "retried_and_stored": sum(bool(m.refused_at) and m.acked_at is not None for m in typed),
            "acknowledged": len(acked),
            "unacknowledged": len(typed) - len(acked),
            "acknowledged_lost": sum(m.text not in stored for m in acked),
            "stored": len(stored.keys() & {m.text for m in typed}),
            "stored_twice": sum(n - 1 for n in stored.values()),
            "deliveries_expected": sum(r["expected"] for r in rows),
            "delivered_live": sum(r["received"] for r in rows),
            "missed_live": sum(r["lost"] for r in rows),
            "fetched_from_log": sum(len({text for text, _ in c.fetched} - {text for text, _ in c.received})
                                    for c in self.clients),
            "missed_for_good": sum(len(stored.keys() - {text for text, _ in c.received + c.fetched})
                                   for c in self.clients),
            "duplicated": sum(r["duplicates"] for r in rows),
            "outage_seconds": sum(o.duration for o in self.outages),
            "settled": self.settled,
        }

    def missed_live_by_server(self) -> dict[str, int]:
        """Deliveries missed live, by where sender and receiver were: ``"same server"`` or ``"other server"``."""
        sender_of = {m.text: m.sender for m in self.typed}
        missed = {"same server": 0, "other server": 0}
        for client in self.clients:
            got = {text for text, _ in client.received}
            for text, sender in sender_of.items():
                if text not in got:
                    same = self.servers.get(sender) == self.servers.get(client.name)
                    missed["same server" if same else "other server"] += 1
        return missed


def kill_redis(redis: LocalRedis) -> None:
    """Kill redis-server with SIGKILL, as a crash would: no goodbye, no final write.

    Redis tells its own process id (``INFO server``); its keeper notices the
    death and ends too, so :meth:`LocalRedis.start` can start it again.
    """
    client = redis_py.Redis.from_url(redis.url, socket_timeout=2)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while redis.running and time.monotonic() < deadline:
        time.sleep(0.01)


async def run_redis_outage_drill(
    *,
    clients: int = 4,
    transports: Sequence[str] = ("websocket", "polling"),
    rate: float = 5.0,
    warmup: float = 1.0,
    downtime: float = 1.5,
    after: float = 1.5,
    ack_timeout: float = 0.5,
    settle_timeout: float = 15.0,
    server_options: dict[str, Any] | None = None,
) -> RedisOutageResult:
    """Chat through a redis-server crash and return the timeline.

    The clients (client ``i`` on chat server ``i % 2``) type from the start;
    after ``warmup`` seconds redis-server is killed (SIGKILL), stays down for
    ``downtime`` seconds, then starts again on its port and folder, and the
    clients type on for ``after`` seconds. Then typing stops, and the drill
    waits (up to ``settle_timeout`` seconds) until every message is
    acknowledged and nothing new has arrived for 4 s, which lets every client
    fetch from the log what the pub/sub dropped.

    :param clients: how many people chat.
    :param transports: transports given to the clients in turn.
    :param rate: messages per second each person types.
    :param warmup: seconds of typing before the kill.
    :param downtime: seconds redis-server stays dead.
    :param after: seconds of typing after the restart.
    :param ack_timeout: seconds a client waits for an acknowledgement before sending again.
    :param settle_timeout: seconds to wait for what is still on its way, or still to fetch from the log.
    :param server_options: :class:`~chat_lib.server.ChatServer` options (default: 1 s pings, no rate limit).

    Example::

        result = await run_redis_outage_drill(clients=4)
        result.outage_totals()["acknowledged_lost"]    # 0

    Introduced in notebook 08.
    """
    if clients < 1:
        raise ValueError("A drill needs at least one client.")
    if rate <= 0:
        raise ValueError("rate must be a positive number of messages per second.")
    if warmup < 0 or downtime < 0 or after < 0:
        raise ValueError("warmup, downtime and after cannot be negative.")
    options = {**DEFAULT_SERVER_OPTIONS, **(server_options or {})}
    with contextlib.ExitStack() as stack:
        stack.enter_context(quiet_unclosed_connections())
        server_log = stack.enter_context(_kept_server_log())
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="chat-redis-drill-"))
        drill = _RedisDrill(clients, list(transports), rate, ack_timeout, folder, options)
        try:
            result = await drill.run(warmup, downtime, after, settle_timeout)
        finally:
            await drill.tear_down()
            gc.collect()
        await asyncio.sleep(0.2)  # the servers' last lines, still on their way from the pipes
        result.server_log = [record.getMessage() for record in server_log.buffer]
        return result


@contextlib.contextmanager
def _kept_server_log() -> Iterator[logging.handlers.BufferingHandler]:
    """Keep what the chat servers log (BackgroundServer forwards their stderr) instead of printing it."""
    handler = logging.handlers.BufferingHandler(capacity=1_000_000)
    source = logging.getLogger("chat_lib.background")
    source.addHandler(handler)
    try:
        yield handler
    finally:
        source.removeHandler(handler)


class _RedisDrill:
    """The moving parts of one :func:`run_redis_outage_drill` run."""

    def __init__(
        self, clients: int, transports: list[str], rate: float, ack_timeout: float, folder: str,
        options: dict[str, Any],
    ) -> None:
        self.rate = rate
        self.ack_timeout = ack_timeout
        self.options = options
        self.redis = LocalRedis(data_dir=folder)
        self.servers: list[BackgroundServer] = []
        self.timelines = [DrillClient(f"user{i}", transports[i % len(transports)]) for i in range(clients)]
        self.chat_clients: list[ChatClient] = []
        self.outboxes: list[Outbox] = []
        self.tasks: list[asyncio.Task] = []
        self.stop_typing = asyncio.Event()
        self.t0 = time.perf_counter()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    async def run(self, warmup: float, downtime: float, after: float, settle_timeout: float) -> RedisOutageResult:
        await asyncio.to_thread(self.redis.start)
        self.servers = [
            BackgroundServer(mode="process", redis_url=self.redis.url, **self.options) for _ in range(2)
        ]
        await asyncio.gather(*(asyncio.to_thread(server.start) for server in self.servers))
        for index, timeline in enumerate(self.timelines):
            await self.connect(index, timeline, self.servers[index % 2].url)
        self.t0 = time.perf_counter()
        for index, timeline in enumerate(self.timelines):
            phase = index / (self.rate * len(self.timelines))
            self.tasks.append(asyncio.ensure_future(self.type_away(index, timeline, phase)))
        await asyncio.sleep(warmup)
        killed_at = self.now()
        await asyncio.to_thread(kill_redis, self.redis)
        logger.info("redis-server killed at %.2f s", killed_at)
        await asyncio.sleep(downtime)
        await asyncio.to_thread(self.redis.start)
        outage = Outage(killed_at, self.now())
        await asyncio.sleep(after)
        self.stop_typing.set()
        typing_ended_at = self.now()
        settled = await self.settle(settle_timeout)
        finished_at = self.now()
        for timeline, client in zip(self.timelines, self.chat_clients):
            timeline.received = [(m.text, m.received_at - self.t0) for m in client.messages if not m.from_log]
            timeline.fetched = [(m.text, m.received_at - self.t0) for m in client.messages if m.from_log]
        log = await asyncio.to_thread(StreamStore, self.redis.url)
        try:
            stored = [m.text for m in await asyncio.to_thread(log.since, 0, 1_000_000)]
        finally:
            log.close()
        return RedisOutageResult(
            "reliable", self.timelines, [outage], stored, self.rate, typing_ended_at, finished_at, settled,
            servers={t.name: i % 2 for i, t in enumerate(self.timelines)},
        )

    async def connect(self, index: int, timeline: DrillClient, url: str) -> None:
        client = ChatClient(url, nickname=timeline.name, transport=timeline.transport, ack_timeout=self.ack_timeout)
        outbox = Outbox(client, self.now)

        def on_notice(kind: str, entry: Any) -> None:
            message = outbox.sending
            if (kind == "notice" and entry.get("kind") == protocol.CHAT_ERROR
                    and entry.get("event") == protocol.CHAT_MESSAGE and message is not None):
                message.refused_at.append(self.now())

        client.add_listener(on_notice)
        await client.connect()
        self.chat_clients.append(client)
        self.outboxes.append(outbox)
        self.tasks.append(asyncio.ensure_future(outbox.deliver()))

    async def type_away(self, index: int, timeline: DrillClient, phase: float) -> None:
        """One message every ``1 / rate`` seconds, on an absolute schedule, into the client's outbox."""
        async for number in typing_schedule(self.rate, phase, self.stop_typing):
            message = LogMessage(f"{timeline.name} message {number}", timeline.name, self.now())
            timeline.typed.append(message)
            self.outboxes[index].put(message)

    async def settle(self, timeout: float) -> bool:
        """Wait until every outbox is empty, then until nothing new arrives for two head intervals.

        That long, so that a ``'head'`` announcement comes in the quiet time (on a
        busy machine a little late), and each client fetches what the pub/sub
        dropped before the drill ends.
        """
        deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(asyncio.gather(*(box.emptied() for box in self.outboxes)), timeout)
        except asyncio.TimeoutError:
            logger.warning("redis drill: messages still unacknowledged after %s s", timeout)
            return False
        quiet_since, last = time.monotonic(), None
        while time.monotonic() < deadline:
            counts = [len(c.messages) for c in self.chat_clients]
            if counts != last:
                quiet_since, last = time.monotonic(), counts
            elif time.monotonic() - quiet_since >= 2 * HEAD_INTERVAL:
                return True
            await asyncio.sleep(0.05)
        return False

    async def tear_down(self) -> None:
        """Stop typists, couriers, clients, servers and redis-server; idempotent."""
        self.stop_typing.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await asyncio.gather(*(c.disconnect() for c in self.chat_clients), return_exceptions=True)
        self.chat_clients.clear()
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in self.servers))
        await asyncio.to_thread(self.redis.stop)
