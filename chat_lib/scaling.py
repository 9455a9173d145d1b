"""Measure a group of chat servers: fan-out and throughput with 1, 2, 3 processes.

Notebook 07 joins several server processes through Redis. This module asks
what that costs and what it buys, with real clients against real processes:

* :func:`measure_group_fan_out` - M WebSocket clients spread round-robin over
  the servers; one of them sends a message, and we time until every client
  has it. The sender changes every round, so the message starts on each
  server in turn. Each delivery is also timed on its own and marked as
  *same server* (the sender's process pushes it directly) or *other server*
  (it travelled through Redis first).
* :func:`measure_group_throughput` - K of the clients, spread over the
  servers, send as fast as the acknowledgements allow (each sender waits for
  the ack of one message before it sends the next); how many messages per
  second reach every client.
* :func:`run_scaling` - both measurements for one process without Redis (the
  baseline) and for 1, 2 and 3 processes joined through Redis, each group
  started fresh on its own ports; returns a :class:`ScalingReport`.

Every client runs in the calling process, on one event loop, and every
server is a separate process on the same machine: on a 2-core machine the
servers, Redis and the clients share two cores, and no number of processes
can do more work than the cores allow. The figures say what *this* machine
does; :func:`~chat_lib.bench.machine_info` is stored with each of them.

Like :mod:`chat_lib.bench`, nothing here prints or plots: results are
:class:`~chat_lib.bench.Measurement` objects, JSON-serialisable.

Introduced in notebook 07.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import socketio

from . import protocol
from .background import BackgroundServer
from .bench import Measurement, Report, machine_info, summarize
from .cluster import LocalRedis

__all__ = [
    "ScalingConfig",
    "ScalingReport",
    "measure_group_fan_out",
    "measure_group_throughput",
    "run_scaling",
    "setup_label",
]

logger = logging.getLogger("chat_lib.scaling")

_KEY_LENGTH = 12  # "f000.000042." - the unique start of each message text
_WAIT = 10.0  # seconds to wait for one message to reach everybody before counting it lost

#: Server options for measurements: no rate limit (senders go as fast as acks
#: allow) and no join/leave announcements (N clients would cost N² messages).
SERVER_OPTIONS: dict[str, Any] = {"rate_limit": None, "presence": False}


def _key(kind: str, first: int, second: int) -> str:
    return f"{kind}{first:03d}.{second:06d}."


def _text(key: str, payload_bytes: int) -> str:
    return key + "x" * max(0, payload_bytes - len(key))


def setup_label(processes: int, redis: bool) -> str:
    """How a setup is named in tables and charts: ``"2 processes + Redis"``."""
    noun = "process" if processes == 1 else "processes"
    return f"{processes} {noun} + Redis" if redis else f"{processes} {noun}, no Redis"


class _Tally:
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


class _Member:
    """One measuring client: a raw python-socketio client on WebSocket, pinned to one server.

    It connects without ``auth``, as the tutorial's page does, so broadcasts
    carry the bare text; it notes when each message arrives.
    """

    def __init__(self, index: int, url: str, server: int, tally: _Tally) -> None:
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

    async def connect(self, timeout: float) -> _Member:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=timeout)
        return self

    async def send(self, key: str, payload_bytes: int, timeout: float = _WAIT) -> bool:
        """Send one message and wait for the server's acknowledgement; ``True`` if it stored it."""
        try:
            answer = await self.sio.call(protocol.CHAT_MESSAGE, _text(key, payload_bytes), timeout=timeout)
        except socketio.exceptions.SocketIOError:  # no ack in time, or the connection went
            return False
        return isinstance(answer, dict) and bool(answer.get("ok"))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.sio.disconnect(), 10)


def _check_urls(urls: Sequence[str]) -> list[str]:
    if isinstance(urls, str):
        return [urls]
    urls = list(urls)
    if not urls:
        raise ValueError("Give at least one server URL (for a group, ServerGroup(...).urls).")
    return urls


async def _connect_members(urls: list[str], clients: int, tally: _Tally, concurrency: int = 20) -> list[_Member]:
    """``clients`` members, client i on server i mod N; all connected, or none."""
    members = [_Member(i, urls[i % len(urls)], i % len(urls), tally) for i in range(clients)]
    gate = asyncio.Semaphore(concurrency)

    async def connect(member: _Member) -> None:
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


def _group_processes(urls: list[str]) -> dict[int, str]:
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


def _cpu_snapshot(processes: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by this process (the clients) and by each of ``processes``."""
    snapshot: dict[int, tuple[str, float]] = {}
    for pid, kind in [(None, "clients"), *processes.items()]:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            snapshot[pid or 0] = (kind, times.user + times.system)
    return snapshot


def _cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by the clients, the servers and Redis."""
    used = {"clients": 0.0, "servers": 0.0, "redis": 0.0}
    for pid, (kind, seconds) in after.items():
        if pid in before:  # a process that died meanwhile is left out
            used[kind] += seconds - before[pid][1]
    return used


def _per_server(members: list[_Member], servers: int) -> list[int]:
    return [sum(1 for m in members if m.server == s) for s in range(servers)]


class _FanOutRun:
    """Fan-out rounds on one group, run in turns so that several setups can alternate."""

    def __init__(self, urls: list[str], clients: int, payload_bytes: int, timeout: float, warmup: int = 0) -> None:
        self.urls, self.clients, self.payload_bytes, self.timeout = urls, clients, payload_bytes, timeout
        self.warmup = warmup
        self.tally = _Tally(clients)
        self.members: list[_Member] = []
        self.connect_seconds = 0.0
        self.index = 0  # rounds so far, warm-up included: names the next message
        self.counted = 0
        self.samples: list[float] = []
        self.first: list[float] = []
        self.same: list[float] = []
        self.other: list[float] = []
        self.received = self.refused = 0

    async def open(self) -> None:
        began = time.perf_counter()
        self.members = await _connect_members(self.urls, self.clients, self.tally)
        self.connect_seconds = time.perf_counter() - began
        await self.rounds(self.warmup, counted=False)

    async def rounds(self, count: int, *, counted: bool = True) -> None:
        for _ in range(count):
            key = _key("f", 0, self.index)
            sender = self.members[self.index % self.clients]
            self.index += 1
            everybody = self.tally.expect(key)
            start = time.perf_counter()
            stored = await sender.send(key, self.payload_bytes, self.timeout)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(everybody), self.timeout)
            everybody.cancel()
            if not counted:
                continue
            self.counted += 1
            self.refused += not stored
            arrivals = [(m, m.arrivals[key]) for m in self.members if key in m.arrivals]
            self.received += len(arrivals)
            if not arrivals:
                continue
            times = [(at - start) * 1000 for _, at in arrivals]
            self.first.append(min(times))
            for (member, _), elapsed in zip(arrivals, times):
                (self.same if member.server == sender.server else self.other).append(elapsed)
            if len(arrivals) == self.clients:
                self.samples.append(max(times))

    async def close(self) -> None:
        await asyncio.gather(*(m.close() for m in self.members))

    def measurement(self, **params: Any) -> Measurement:
        expected = self.clients * self.counted
        values = {
            **summarize(self.samples),
            "first_delivery": summarize(self.first),
            "same_server": summarize(self.same),
            "other_server": summarize(self.other),
            "received": self.received,
            "expected": expected,
            "lost": expected - self.received,
            "duplicates": sum(m.duplicates for m in self.members),
            "refused": self.refused,
            "connect_seconds": self.connect_seconds,
        }
        params = {
            "processes": len(self.urls), "clients": self.clients,
            "clients_per_server": _per_server(self.members, len(self.urls)),
            "rounds": self.counted, "warmup": self.warmup, **params, "payload_bytes": self.payload_bytes,
        }
        return Measurement("group_fan_out", "websocket", params, "ms", self.samples, values, machine_info())


async def measure_group_fan_out(
    urls: Sequence[str],
    *,
    clients: int = 30,
    rounds: int = 20,
    warmup: int = 2,
    payload_bytes: int = 20,
    timeout: float = _WAIT,
) -> Measurement:
    """Fan-out across a group: one message, time until every client of every server has it.

    ``clients`` WebSocket clients connect round-robin to ``urls`` (client i to
    server i mod N). In each round client r mod M sends one message and waits
    for its acknowledgement, and the round ends when every client (the sender
    too) has received it. The first ``warmup`` rounds are not counted.

    :param urls: the servers of one group (``ServerGroup.urls``), or one server.
    :param clients: how many receiving clients in all.
    :param rounds: messages timed, one at a time.
    :param warmup: messages sent first and not timed.
    :param payload_bytes: size of each message text in bytes.
    :param timeout: seconds to wait for one message before counting it lost.
    :returns: samples in ms (time until the last client had it, per complete
              round); ``values`` has their summary plus ``first_delivery``,
              ``same_server`` and ``other_server`` (each delivery's latency,
              summarised, split by whether the receiver shares the sender's
              process), ``received``, ``expected``, ``lost``, ``duplicates``,
              ``refused`` and ``connect_seconds``.

    Example::

        with ServerGroup(3, rate_limit=None, presence=False) as group:
            m = await measure_group_fan_out(group.urls, clients=30, rounds=20)
        m["p50"], m["other_server"]["p50"]

    Introduced in notebook 07.
    """
    urls = _check_urls(urls)
    if clients < 1 or rounds < 1 or warmup < 0:
        raise ValueError("Use at least one client and one round, and no negative warm-up.")
    run = _FanOutRun(urls, clients, payload_bytes, timeout, warmup)
    try:
        await run.open()
        await run.rounds(rounds)
    finally:
        await run.close()
    return run.measurement()


class _ThroughputRun:
    """Bursts of messages on one group, run in turns so that several setups can alternate."""

    def __init__(self, urls: list[str], clients: int, senders: int, payload_bytes: int, timeout: float) -> None:
        self.urls, self.clients, self.senders = urls, clients, senders
        self.payload_bytes, self.timeout = payload_bytes, timeout
        self.tally = _Tally(clients)
        self.members: list[_Member] = []
        self.sent_at: dict[str, float] = {}  # timed messages only
        self.ack_ms: list[float] = []
        self.acknowledged = 0
        self.per_sender = 0  # messages each sender has sent so far (timed)
        self.bursts = 0
        self.seconds = 0.0
        self.complete = True
        self.cpu_seconds = {"clients": 0.0, "servers": 0.0, "redis": 0.0}
        self.watched: dict[int, str] = {}  # pid -> "servers" or "redis": whose CPU time we count
        self._warmups = 0

    async def open(self) -> None:
        self.members = await _connect_members(self.urls, self.clients, self.tally)
        # Warm-up: one message per sender, so every connection and every
        # process's path through Redis has been used once before timing.
        senders = self.members[:self.senders]
        await asyncio.gather(*(m.send(_key("w", m.index, 0), self.payload_bytes) for m in senders))
        self._warmups = len(senders)
        await self.tally.wait_for_complete(self._warmups, _WAIT)
        self.watched = _group_processes(self.urls)

    async def burst(self, messages: int) -> None:
        """Each sender sends ``messages`` more, one after the other as acks come; wait until all have them."""
        first = self.per_sender
        self.per_sender += messages
        self.bursts += 1

        async def send_all(member: _Member) -> None:
            for number in range(first, first + messages):
                key = _key("t", member.index, number)
                self.sent_at[key] = before = time.perf_counter()
                if await member.send(key, self.payload_bytes):
                    self.acknowledged += 1
                    self.ack_ms.append((time.perf_counter() - before) * 1000)

        cpu_before = _cpu_snapshot(self.watched)
        start = time.perf_counter()
        await asyncio.gather(*(send_all(m) for m in self.members[:self.senders]))
        complete = await self.tally.wait_for_complete(self._warmups + len(self.sent_at), self.timeout)
        keys = {_key("t", m.index, n) for m in self.members[:self.senders] for n in range(first, first + messages)}
        end = max((at for key, at in self.tally.complete.items() if key in keys), default=start)
        self.seconds += end - start
        self.complete = self.complete and complete
        for part, used in _cpu_used(cpu_before, _cpu_snapshot(self.watched)).items():
            self.cpu_seconds[part] += used

    async def close(self) -> None:
        await asyncio.gather(*(m.close() for m in self.members))

    def measurement(self, **params: Any) -> Measurement:
        done = {key: at for key, at in self.tally.complete.items() if key in self.sent_at}
        total = len(self.sent_at)
        deliveries = sum(1 for m in self.members for key in m.arrivals if key in self.sent_at)
        delivery_ms = [(done[key] - self.sent_at[key]) * 1000 for key in sorted(done)]
        seconds = self.seconds
        values = {
            "sent": total,
            "acknowledged": self.acknowledged,
            "delivered_to_all": len(done),
            "all_delivered": self.complete and len(done) == total,
            "deliveries": deliveries,
            "expected_deliveries": total * self.clients,
            "lost": total * self.clients - deliveries,
            "duplicates": sum(m.duplicates for m in self.members),
            "seconds": seconds,
            "messages_per_second": len(done) / seconds if seconds > 0 else 0.0,
            "deliveries_per_second": deliveries / seconds if seconds > 0 else 0.0,
            "ack_latency": summarize(self.ack_ms),
            "delivery_latency": summarize(delivery_ms),
            # Where the work went: on a small machine the clients (this process)
            # compete with the servers for the same cores.
            "cpu_seconds": dict(self.cpu_seconds),
            "cpu_processes": {kind: list(self.watched.values()).count(kind) for kind in ("servers", "redis")},
        }
        params = {
            "processes": len(self.urls), "clients": self.clients,
            "clients_per_server": _per_server(self.members, len(self.urls)),
            "senders": self.senders, "messages_per_sender": self.per_sender, "bursts": self.bursts, **params,
            "payload_bytes": self.payload_bytes,
        }
        return Measurement("group_throughput", "websocket", params, "ms", delivery_ms, values, machine_info())


async def measure_group_throughput(
    urls: Sequence[str],
    *,
    clients: int = 12,
    senders: int = 6,
    messages: int = 100,
    payload_bytes: int = 20,
    timeout: float = 60.0,
) -> Measurement:
    """Throughput across a group: K senders as fast as acks allow; messages per second to everybody.

    ``clients`` WebSocket clients connect round-robin to ``urls``; the first
    ``senders`` of them (so spread over the servers too) each send
    ``messages`` messages, one after the other, each as soon as the previous
    one is acknowledged. Time runs from the first send until every client has
    every message. One warm-up message per sender goes first, not counted.

    :param urls: the servers of one group, or one server.
    :param clients: how many receiving clients in all (senders included).
    :param senders: how many of them send.
    :param messages: messages per sender.
    :param payload_bytes: size of each message text in bytes.
    :param timeout: seconds to wait, after the last send, for everything to arrive.
    :returns: samples in ms (each message's time from send until every client
              had it); ``values`` has ``sent``, ``acknowledged``,
              ``delivered_to_all`` (messages every client received),
              ``deliveries``/``expected_deliveries``, ``lost``,
              ``duplicates``, ``seconds``, ``messages_per_second`` (messages
              delivered to all, per second), ``deliveries_per_second``, the ``ack_latency`` and
              ``delivery_latency`` summaries, and ``cpu_seconds``: CPU time
              spent meanwhile by this process (``"clients"``), by the server
              processes and by their Redis, where those are children of this
              process (``cpu_processes`` says how many were found).

    Example::

        m = await measure_group_throughput(group.urls, clients=12, senders=6, messages=100)
        m["messages_per_second"]

    Introduced in notebook 07.
    """
    urls = _check_urls(urls)
    if not 1 <= senders <= clients or messages < 1:
        raise ValueError("Use at least one sender, no more senders than clients, and at least one message each.")
    run = _ThroughputRun(urls, clients, senders, payload_bytes, timeout)
    try:
        await run.open()
        await run.burst(messages)
    finally:
        await run.close()
    return run.measurement()


# -- several setups ---------------------------------------------------------------------


@dataclass
class ScalingConfig:
    """What :func:`run_scaling` measures, and how much.

    Every setup runs at the same time (each group on its own Redis), and the
    setups take ``turns``: a few fan-out rounds for each in turn, then the
    next few, and likewise for throughput. A busy moment of the machine then
    hits every setup alike, instead of spoiling one of them.

    Use a preset: :meth:`quick` (tests, seconds) or :meth:`notebook`
    (notebook 07, about 20 s); the defaults measure more.
    """

    processes: tuple[int, ...] = (1, 2, 3)
    baseline: bool = True  #: also one process without Redis
    fan_out_clients: int = 60
    fan_out_rounds: int = 60  #: timed rounds per setup, over all turns
    warmup: int = 3
    throughput_clients: int = 12
    throughput_senders: int = 6
    messages_per_sender: int = 300  #: timed messages per sender, over all turns
    payload_bytes: int = 20
    turns: int = 6

    @classmethod
    def quick(cls) -> ScalingConfig:
        return cls(processes=(1, 2), fan_out_clients=4, fan_out_rounds=4, warmup=1,
                   throughput_clients=4, throughput_senders=2, messages_per_sender=10, turns=2)

    @classmethod
    def notebook(cls) -> ScalingConfig:
        return cls(fan_out_clients=30, fan_out_rounds=30, warmup=2,
                   throughput_clients=12, throughput_senders=6, messages_per_sender=120, turns=6)

    def setups(self) -> list[tuple[int, bool]]:
        """``(processes, redis)`` pairs, in the order reports show them."""
        return ([(1, False)] if self.baseline else []) + [(n, True) for n in sorted(set(self.processes))]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples become lists, as after a JSON round trip


@dataclass
class ScalingReport(Report):
    """The results of :func:`run_scaling`: one fan-out and one throughput measurement per setup.

    Each measurement's ``params`` hold ``processes`` and ``redis``.

    Example::

        report = await run_scaling(ScalingConfig.notebook())
        report.one("group_throughput", processes=3, redis=True)["messages_per_second"]
        report.rows()     # one summary row per setup

    Introduced in notebook 07.
    """

    def setups(self) -> list[tuple[int, bool]]:
        """``(processes, redis)`` of each setup measured, baseline first."""
        seen: list[tuple[int, bool]] = []
        for m in self.measurements:
            setup = (m.params["processes"], m.params["redis"])
            if setup not in seen:
                seen.append(setup)
        return sorted(seen, key=lambda s: (s[1], s[0]))

    def rows(self) -> list[dict[str, Any]]:
        """One row per setup: the headline figures, for a table or a chart."""
        rows = []
        for processes, redis in self.setups():
            fan = self.one("group_fan_out", processes=processes, redis=redis)
            through = self.one("group_throughput", processes=processes, redis=redis)
            rows.append({
                "setup": setup_label(processes, redis),
                "processes": processes,
                "redis": redis,
                "fan_out_clients": fan.params["clients"],
                "fan_out_p50_ms": fan.values.get("p50"),
                "fan_out_p95_ms": fan.values.get("p95"),
                "same_server_p50_ms": fan.values["same_server"].get("p50"),
                "other_server_p50_ms": fan.values["other_server"].get("p50"),
                "throughput_msgs_per_s": through["messages_per_second"],
                "deliveries_per_s": through["deliveries_per_second"],
                "ack_p50_ms": through["ack_latency"].get("p50"),
                "throughput_seconds": through["seconds"],
                **{f"cpu_{part}_s": used for part, used in through["cpu_seconds"].items()},
                "lost": fan["lost"] + through["lost"],
                "duplicates": fan["duplicates"] + through["duplicates"],
            })
        return rows


async def _start_all(servers: list[BackgroundServer]) -> None:
    # In parallel: a server process spends most of its start-up importing.
    results = await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in servers))
        raise failures[0]


def _shares(total: int, turns: int) -> list[int]:
    """``total`` split into ``turns`` nearly equal parts (none empty)."""
    turns = max(1, min(turns, total))
    return [total // turns + (1 if turn < total % turns else 0) for turn in range(turns)]


async def run_scaling(
    config: ScalingConfig | None = None,
    *,
    progress: Callable[..., Any] | None = None,
) -> ScalingReport:
    """Measure fan-out and throughput for each setup of ``config``; returns a :class:`ScalingReport`.

    Starts its own servers and stops them all, and their Redis servers,
    before it returns. The baseline is one server process with no Redis;
    each other setup is a group of N processes with a Redis of its own (so
    only N processes listen to it) and one shared SQLite log, like
    :class:`~chat_lib.cluster.ServerGroup`. All of them run at once; idle
    ones cost next to nothing. The setups take turns (``config.turns``), in
    a rotating order, so that a busy moment of the machine hits all of them.

    :param config: what to measure; default :meth:`ScalingConfig.notebook`.
    :param progress: a tqdm-like class (``tqdm.auto.tqdm``) for a progress bar, or ``None``.

    Example::

        from tqdm.auto import tqdm
        report = await run_scaling(progress=tqdm)
        report.rows()

    Introduced in notebook 07.
    """
    config = config or ScalingConfig.notebook()
    setups = config.setups()
    if not setups:
        raise ValueError("Nothing to measure: give some process counts, or baseline=True.")
    report = ScalingReport(machine=machine_info(), config=config.to_dict(),
                           started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    began = time.perf_counter()
    round_shares = _shares(config.fan_out_rounds, config.turns)
    message_shares = _shares(config.messages_per_sender, config.turns)
    bar = None
    if progress is not None:
        bar = progress(total=len(setups) * (len(round_shares) + len(message_shares)), desc="scaling", unit="turn")
    workdir = tempfile.TemporaryDirectory(prefix="chat_lib-scaling-")
    brokers: list[LocalRedis] = []
    servers: dict[tuple[int, bool], list[BackgroundServer]] = {}
    runs: list[Any] = []
    try:
        for processes, uses_redis in setups:
            options: dict[str, Any] = {"store": str(Path(workdir.name) / f"{processes}-{uses_redis}.sqlite3")}
            if uses_redis:
                brokers.append(LocalRedis())
                await asyncio.to_thread(brokers[-1].start)
                options["redis_url"] = brokers[-1].url
            servers[(processes, uses_redis)] = [
                BackgroundServer(mode="process", **options, **SERVER_OPTIONS) for _ in range(processes)
            ]
        await _start_all([server for group in servers.values() for server in group])

        async def take_turns(kind: str, make: Callable[[list[str]], Any], step: Callable[[Any, int], Any],
                             shares: list[int]) -> None:
            runs[:] = [make([s.url for s in servers[setup]]) for setup in setups]
            for run in runs:
                await run.open()
            for turn, share in enumerate(shares):
                order = list(range(len(setups)))
                order = order[turn % len(order):] + order[:turn % len(order)]
                for index in order:
                    if bar is not None:
                        bar.set_postfix_str(f"{kind}: {setup_label(*setups[index])}")
                    await step(runs[index], share)
                    if bar is not None:
                        bar.update()
            for setup, run in zip(setups, runs):
                await run.close()
                report.measurements.append(run.measurement(redis=setup[1], turns=len(shares)))
            runs.clear()

        def make_fan_out(urls: list[str]) -> _FanOutRun:
            return _FanOutRun(urls, config.fan_out_clients, config.payload_bytes, _WAIT, config.warmup)

        async def fan_out_step(run: _FanOutRun, share: int) -> None:
            await run.rounds(share)

        def make_throughput(urls: list[str]) -> _ThroughputRun:
            return _ThroughputRun(urls, config.throughput_clients, config.throughput_senders,
                                  config.payload_bytes, 60.0)

        async def throughput_step(run: _ThroughputRun, share: int) -> None:
            await run.burst(share)

        await take_turns("fan-out", make_fan_out, fan_out_step, round_shares)
        await take_turns("throughput", make_throughput, throughput_step, message_shares)
    finally:
        await asyncio.gather(*(run.close() for run in runs))
        await asyncio.gather(*(asyncio.to_thread(s.stop) for group in servers.values() for s in group))
        for broker in brokers:
            broker.stop()
        workdir.cleanup()
        if bar is not None:
            bar.close()
    order = {setup: i for i, setup in enumerate(setups)}
    report.measurements.sort(key=lambda m: (order[(m.params["processes"], m.params["redis"])], m.kind))
    report.seconds = time.perf_counter() - began
    return report
