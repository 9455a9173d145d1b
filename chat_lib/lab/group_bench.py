"""Measure a group of chat servers: fan-out and throughput across its processes.

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

Each is a run (:class:`FanOutRun`, :class:`ThroughputRun`) that can go in
turns, so that :func:`~chat_lib.lab.scaling.run_scaling` can alternate
between setups. Results are :class:`~chat_lib.lab.report.Measurement` objects.

Introduced in notebook 07.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from .group_probe import (
    WAIT,
    Member,
    Tally,
    check_urls,
    connect_members,
    cpu_snapshot,
    cpu_used,
    group_key,
    group_processes,
    per_server,
)
from .report import Measurement, machine_info, summarize

__all__ = ["FanOutRun", "ThroughputRun", "measure_group_fan_out", "measure_group_throughput"]


class FanOutRun:
    """Fan-out rounds on one group, run in turns so that several setups can alternate."""

    def __init__(self, urls: list[str], clients: int, payload_bytes: int, timeout: float, warmup: int = 0) -> None:
        self.urls, self.clients, self.payload_bytes, self.timeout = urls, clients, payload_bytes, timeout
        self.warmup = warmup
        self.tally = Tally(clients)
        self.members: list[Member] = []
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
        self.members = await connect_members(self.urls, self.clients, self.tally)
        self.connect_seconds = time.perf_counter() - began
        await self.rounds(self.warmup, counted=False)

    async def rounds(self, count: int, *, counted: bool = True) -> None:
        for _ in range(count):
            key = group_key("f", 0, self.index)
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
            "clients_per_server": per_server(self.members, len(self.urls)),
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
    timeout: float = WAIT,
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
    urls = check_urls(urls)
    if clients < 1 or rounds < 1 or warmup < 0:
        raise ValueError("Use at least one client and one round, and no negative warm-up.")
    run = FanOutRun(urls, clients, payload_bytes, timeout, warmup)
    try:
        await run.open()
        await run.rounds(rounds)
    finally:
        await run.close()
    return run.measurement()


class ThroughputRun:
    """Bursts of messages on one group, run in turns so that several setups can alternate."""

    def __init__(self, urls: list[str], clients: int, senders: int, payload_bytes: int, timeout: float) -> None:
        self.urls, self.clients, self.senders = urls, clients, senders
        self.payload_bytes, self.timeout = payload_bytes, timeout
        self.tally = Tally(clients)
        self.members: list[Member] = []
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
        self.members = await connect_members(self.urls, self.clients, self.tally)
        # Warm-up: one message per sender, so every connection and every
        # process's path through Redis has been used once before timing.
        senders = self.members[:self.senders]
        await asyncio.gather(*(m.send(group_key("w", m.index, 0), self.payload_bytes) for m in senders))
        self._warmups = len(senders)
        await self.tally.wait_for_complete(self._warmups, WAIT)
        self.watched = group_processes(self.urls)

    async def burst(self, messages: int) -> None:
        """Each sender sends ``messages`` more, one after the other as acks come; wait until all have them."""
        first = self.per_sender
        self.per_sender += messages
        self.bursts += 1

        async def send_all(member: Member) -> None:
            for number in range(first, first + messages):
                key = group_key("t", member.index, number)
                self.sent_at[key] = before = time.perf_counter()
                if await member.send(key, self.payload_bytes):
                    self.acknowledged += 1
                    self.ack_ms.append((time.perf_counter() - before) * 1000)

        cpu_before = cpu_snapshot(self.watched)
        start = time.perf_counter()
        await asyncio.gather(*(send_all(m) for m in self.members[:self.senders]))
        complete = await self.tally.wait_for_complete(self._warmups + len(self.sent_at), self.timeout)
        keys = {group_key("t", m.index, n) for m in self.members[:self.senders] for n in range(first, first + messages)}
        end = max((at for key, at in self.tally.complete.items() if key in keys), default=start)
        self.seconds += end - start
        self.complete = self.complete and complete
        for part, used in cpu_used(cpu_before, cpu_snapshot(self.watched)).items():
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
            "clients_per_server": per_server(self.members, len(self.urls)),
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
    urls = check_urls(urls)
    if not 1 <= senders <= clients or messages < 1:
        raise ValueError("Use at least one sender, no more senders than clients, and at least one message each.")
    run = ThroughputRun(urls, clients, senders, payload_bytes, timeout)
    try:
        await run.open()
        await run.burst(messages)
    finally:
        await run.close()
    return run.measurement()

