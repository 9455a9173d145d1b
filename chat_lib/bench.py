"""Measure the chat: long-polling against WebSocket, in numbers.

Every function here drives real python-socketio clients against a chat server
(normally a :class:`~chat_lib.background.BackgroundServer` in a separate
process, :func:`bench_server`) and returns plain data: a :class:`Measurement`
with its parameters, raw samples, derived figures and the machine it ran on.
Nothing here prints or plots; :mod:`chat_lib.plots` draws the results and
``python -m chat_lib bench`` runs the whole suite (:func:`run_suite`).

What is measured, each with the transport pinned on the client:

* :func:`measure_round_trips` - emit ``'chat message'``, time until its
  broadcast comes back to the sender (what a user feels when sending);
* :func:`measure_push_latency` - one client sends, another receives: the
  one-way time of a message from someone else;
* :func:`measure_throughput` - one client sends as fast as it can;
* :func:`measure_fan_out` - one message to N connected clients;
* :func:`measure_wire_bytes` - bytes, HTTP requests and WebSocket frames per
  message, counted by a :class:`~chat_lib.netem.DelayProxy`;
* :func:`measure_setup` - from nothing to the first message: time, requests, frames.

The latency functions take ``network_delay_ms``: the client then talks to the
server through a :class:`~chat_lib.netem.DelayProxy` that adds that one-way
delay, so each round trip a transport needs costs what it would on a network.

Clients connect without ``auth``, as the Node.js tutorial's page does, so the
server broadcasts the bare text: no acknowledgement packet, no metadata. Each
message text starts with a unique key and is padded to the payload size.

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Self

import socketio

from . import protocol  # noqa: F401 - raises the polling payload limit for our clients too
from .background import BackgroundServer
from .client import quiet_unclosed_connections
from .netem import DelayProxy, ProxyStats

__all__ = [
    "BenchReport",
    "Measurement",
    "Report",
    "SuiteConfig",
    "bench_server",
    "machine_info",
    "measure_fan_out",
    "measure_push_latency",
    "measure_round_trips",
    "measure_setup",
    "measure_throughput",
    "measure_wire_bytes",
    "run_suite",
    "summarize",
]

logger = logging.getLogger("chat_lib.bench")

Transport = Literal["polling", "websocket"]
SetupTransport = Literal["polling", "websocket", "auto"]

#: Messages up to this size fit the benchmark server (16 KiB payloads and more).
BENCH_MAX_MESSAGE_BYTES = 64 * 1024
_KEY_LENGTH = 9  # "m0000042." - the unique start of each message text
_WAIT = 10.0  # seconds to wait for any single message before counting it lost


# -- results ---------------------------------------------------------------------


def _percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the two nearest ranks (numpy's default method)."""
    position = (len(ordered) - 1) * fraction
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def summarize(samples: Iterable[float]) -> dict[str, float]:
    """Count, mean, min, p50, p95, p99 and max of ``samples`` (empty dict for none)."""
    ordered = sorted(float(value) for value in samples)
    if not ordered:
        return {}
    return {
        "count": len(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "p50": _percentile(ordered, 0.50),
        "p95": _percentile(ordered, 0.95),
        "p99": _percentile(ordered, 0.99),
        "max": ordered[-1],
    }


@dataclass
class Measurement:
    """One measurement: what was measured, how, the raw samples and the figures.

    :param kind: ``"round_trip"``, ``"push"``, ``"throughput"``, ``"fan_out"``,
                 ``"wire_bytes"`` or ``"setup"``.
    :param transport: ``"polling"``, ``"websocket"`` or (set-up only) ``"auto"``.
    :param params: the parameters it ran with (payload size, delay, counts...).
    :param unit: the unit of ``samples`` (``"ms"`` for times).
    :param samples: raw values, one per message, round or connection.
    :param values: derived figures; for times, :func:`summarize` of the samples plus extras.
    :param machine: :func:`machine_info` of the machine it ran on.
    """

    kind: str
    transport: str
    params: dict[str, Any]
    unit: str
    samples: list[float] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        """A figure from ``values``, e.g. ``m["p50"]``."""
        return self.values[name]

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in self.values.items()
                 if k in ("p50", "p99", "messages_per_second", "bytes_per_message", "received", "lost")}
        return f"<Measurement {self.kind} {self.transport} ({params}) {shown}>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)


@dataclass
class Report:
    """Measurements plus where and how they ran: what every benchmark run returns.

    JSON in and out (:meth:`save`, :meth:`load`) and look-ups by kind and
    parameters; :class:`BenchReport` and :class:`~chat_lib.scaling.ScalingReport`
    add their own summaries.
    """

    measurements: list[Measurement] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    seconds: float = 0.0

    def select(self, kind: str, transport: str | None = None, **params: Any) -> list[Measurement]:
        """Measurements of ``kind`` (and ``transport``) whose params include ``params``."""
        return [
            m for m in self.measurements
            if m.kind == kind
            and (transport is None or m.transport == transport)
            and all(m.params.get(name) == value for name, value in params.items())
        ]

    def one(self, kind: str, transport: str | None = None, **params: Any) -> Measurement:
        """The single measurement matching; ``LookupError`` if there is none."""
        found = self.select(kind, transport, **params)
        if not found:
            raise LookupError(f"No {kind} measurement for {transport or 'any transport'} with {params} in this report.")
        return found[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "seconds": self.seconds,
            "machine": self.machine,
            "config": self.config,
            "measurements": [m.to_dict() for m in self.measurements],
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            measurements=[Measurement.from_dict(m) for m in data.get("measurements", [])],
            machine=data.get("machine", {}),
            config=data.get("config", {}),
            started_at=data.get("started_at", ""),
            seconds=data.get("seconds", 0.0),
        )

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a report written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass
class BenchReport(Report):
    """The results of :func:`run_suite`.

    Example::

        report = await run_suite(SuiteConfig.quick())
        report.one("round_trip", "websocket", payload_bytes=20)["p50"]
        report.save("bench/results.json")

    Introduced in notebook 04.
    """

    def headline(self) -> dict[str, dict[str, Any]]:
        """The key figures per transport: round-trip p50/p99 at each delay, throughput, bytes per message."""
        figures: dict[str, dict[str, Any]] = {}
        payload = self.config.get("delay_payload_bytes", 20)
        for transport in ("websocket", "polling"):
            row: dict[str, Any] = {}
            for m in self.select("round_trip", transport, payload_bytes=payload):
                delay = m.params.get("network_delay_ms")
                label = "direct" if delay is None else f"+{delay:g} ms"
                row[f"round trip p50 ms ({label})"] = m.values.get("p50")
                row[f"round trip p99 ms ({label})"] = m.values.get("p99")
            for m in self.select("throughput", transport):
                row["throughput (msg/s)"] = m.values.get("messages_per_second")
            for m in self.select("wire_bytes", transport, pattern="sequential"):
                row["bytes per message"] = m.values.get("bytes_per_message")
                row["HTTP requests per message"] = m.values.get("http_requests_per_message")
            figures[transport] = row
        return figures

    def format_table(self) -> str:
        """A short plain-text table of :meth:`headline`, for a terminal."""
        figures = self.headline()
        names: list[str] = []
        for row in figures.values():
            names += [name for name in row if name not in names]
        width = max([len(name) for name in names] + [10])
        lines = [f"{'':{width}}  {'websocket':>10}  {'polling':>10}"]
        for name in names:
            cells = []
            for transport in ("websocket", "polling"):
                value = figures[transport].get(name)
                if not isinstance(value, (int, float)):
                    cells.append(f"{'-':>10}")
                else:
                    cells.append(f"{value:>10,.0f}" if abs(value) >= 100 else f"{value:>10.3g}")
            lines.append(f"{name:{width}}  " + "  ".join(cells))
        return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """CPU count, load, OS, Python and library versions: what a figure depends on."""
    versions = {}
    for package in ("python-socketio", "python-engineio", "uvicorn", "aiohttp", "chat_lib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[package] = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min": load[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": versions,
    }


# -- clients -----------------------------------------------------------------------


def bench_server(**options: Any) -> BackgroundServer:
    """A chat server for benchmarks: its own process, no rate limit, messages up to BENCH_MAX_MESSAGE_BYTES (64 KiB).

    :param options: more :class:`~chat_lib.server.ChatServer` options (JSON-serialisable).
    """
    settings: dict[str, Any] = {"rate_limit": None, "max_message_bytes": BENCH_MAX_MESSAGE_BYTES}
    settings.update(options)
    return BackgroundServer(mode="process", **settings)


def _text(index: int, payload_bytes: int) -> str:
    key = f"m{index:07d}."
    return key + "x" * max(0, payload_bytes - len(key))


class _Probe:
    """A raw python-socketio client that notes when each chat message arrives.

    Finer than :class:`~chat_lib.client.ChatClient`: no auth (bare-text
    broadcasts, no acks), and arrival times taken in the event handler.
    """

    def __init__(self, transport: str) -> None:
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
        self._waiters[f"m{index:07d}."] = future
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

    async def connect(self, url: str, timeout: float = 15.0) -> _Probe:
        transports = ["polling", "websocket"] if self.transport == "auto" else [self.transport]
        try:
            await self.sio.connect(url, transports=transports, wait_timeout=timeout)
        except socketio.exceptions.ConnectionError:
            await self.sio.eio.disconnect(abort=True)  # closes the HTTP session a failed attempt leaves open
            raise
        return self

    async def send(self, index: int, payload_bytes: int) -> None:
        await self.sio.emit(protocol.CHAT_MESSAGE, _text(index, payload_bytes))

    async def close(self) -> None:
        await _close_all([self])


async def _close_all(probes: list[_Probe]) -> None:
    """Disconnect every probe, then collect what they left behind, once."""

    async def close(probe: _Probe) -> None:
        # Against ChatServer this is quick on polling too: it releases the pending GET.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(probe.sio.disconnect(), 10)

    with quiet_unclosed_connections():
        await asyncio.gather(*(close(probe) for probe in probes))
        gc.collect()


@contextlib.asynccontextmanager
async def _route(url: str, network_delay_ms: float | None) -> AsyncIterator[tuple[str, DelayProxy | None]]:
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


async def _round_trip_ms(probe: _Probe, index: int, payload_bytes: int, sender: _Probe | None = None) -> float | None:
    arrival = probe.expect(index)
    start = time.perf_counter()
    await (sender or probe).send(index, payload_bytes)
    try:
        return (await asyncio.wait_for(arrival, _WAIT) - start) * 1000
    except asyncio.TimeoutError:
        return None


# -- measurements --------------------------------------------------------------------


async def measure_round_trips(
    url: str,
    transport: Transport,
    *,
    count: int = 200,
    warmup: int = 20,
    payload_bytes: int = 20,
    network_delay_ms: float | None = None,
) -> Measurement:
    """Round-trip latency: emit a chat message, time until its broadcast comes back.

    Messages go one at a time, each after the previous one came back, as a
    person chatting would send them; the first ``warmup`` are not counted.

    :param url: the chat server (e.g. ``bench_server().url``).
    :param transport: ``"polling"`` or ``"websocket"``, pinned for the whole run.
    :param count: messages timed.
    :param warmup: messages sent first and not timed (connections, caches, JIT-free Python warming).
    :param payload_bytes: size of each message text in bytes.
    :param network_delay_ms: ``None`` to connect directly; a number to go through a
                             :class:`~chat_lib.netem.DelayProxy` adding that one-way delay.
    :returns: samples in milliseconds; ``values`` has the percentiles and ``lost``.

    Example::

        with bench_server() as server:
            m = await measure_round_trips(server.url, "websocket", count=100)
        m["p50"]    # about 0.5 (ms) on loopback
    """
    samples: list[float] = []
    lost = 0
    async with _route(url, network_delay_ms) as (target, _):
        probe = await _Probe(transport).connect(target)
        try:
            for index in range(warmup + count):
                elapsed = await _round_trip_ms(probe, index, payload_bytes)
                if index < warmup:
                    continue
                if elapsed is None:
                    lost += 1
                else:
                    samples.append(elapsed)
        finally:
            await probe.close()
    params = {"count": count, "warmup": warmup, "payload_bytes": payload_bytes, "network_delay_ms": network_delay_ms}
    return Measurement("round_trip", transport, params, "ms", samples,
                       {**summarize(samples), "lost": lost}, machine_info())


async def measure_push_latency(
    url: str,
    transport: Transport,
    *,
    count: int = 200,
    warmup: int = 20,
    payload_bytes: int = 20,
    sender_transport: Transport = "websocket",
    network_delay_ms: float | None = None,
    burst: int = 1,
) -> Measurement:
    """Push latency: another client sends, this one receives; one-way time in ms.

    This is how a chat message from someone else arrives: the receiver is
    waiting (on polling, with a GET request held open by the server; on
    WebSocket, with an idle connection) and the server pushes. The sender uses
    ``sender_transport`` (WebSocket by default) so that only the delivery to
    the receiver differs between runs. Both clients run in this process, so
    their ``time.perf_counter()`` clocks are the same clock.

    With ``burst`` above 1 the sender sends that many messages back to back
    and a sample is the time until the receiver has the last of them: a busy
    chat. On polling, messages that arrive while no GET is waiting must wait
    for the client's next one.

    :param transport: the receiver's transport.
    :param sender_transport: the sender's transport.
    :param network_delay_ms: one-way delay for both clients (through one proxy).
    :param burst: messages sent back to back per sample.
    """
    samples: list[float] = []
    lost = 0
    async with _route(url, network_delay_ms) as (target, _):
        receiver = await _Probe(transport).connect(target)
        try:
            sender = await _Probe(sender_transport).connect(target)
        except BaseException:
            await _close_all([receiver])  # else it would keep polling in the reader's kernel
            raise
        try:
            for round_ in range(warmup + count):
                first = round_ * burst
                arrivals = [receiver.expect(first + k) for k in range(burst)]
                start = time.perf_counter()
                for k in range(burst):
                    await sender.send(first + k, payload_bytes)
                try:
                    times = await asyncio.wait_for(asyncio.gather(*arrivals), _WAIT)
                    elapsed: float | None = (max(times) - start) * 1000
                except asyncio.TimeoutError:
                    elapsed = None
                # The broadcasts reach the sender too; let them arrive so they
                # do not overlap the next sample.
                await sender.wait_for_total(first + burst, _WAIT)
                if round_ < warmup:
                    continue
                if elapsed is None:
                    lost += 1
                else:
                    samples.append(elapsed)
        finally:
            await _close_all([receiver, sender])
    params = {"count": count, "warmup": warmup, "payload_bytes": payload_bytes, "burst": burst,
              "sender_transport": sender_transport, "network_delay_ms": network_delay_ms}
    return Measurement("push", transport, params, "ms", samples, {**summarize(samples), "lost": lost}, machine_info())


async def measure_throughput(
    url: str,
    transport: Transport,
    *,
    messages: int = 2000,
    payload_bytes: int = 20,
    window: int = 500,
    timeout: float = 60.0,
) -> Measurement:
    """Throughput: one client sends ``messages`` as fast as it can; how many come back per second.

    The client emits without waiting for acknowledgements, yielding to the
    event loop after each emit so that its transport can send while it keeps
    producing: on polling, everything queued meanwhile leaves in one POST, and
    the server answers a GET with everything queued for it (batching). Time
    runs from the first emit to the last broadcast back.

    At most ``window`` messages are in flight (sent, not yet back). Without
    such flow control a polling client loses its connection: python-engineio
    refuses a payload of more than 1024 packets (``Payload.max_decode_packets``,
    which chat_lib raises from 16), and a fast sender on a busy machine queues
    more than that into one POST, or gets more than that in one GET answer.

    :param window: most messages in flight at once; keep it under 1024.

    :returns: ``values`` with ``sent``, ``received``, ``all_received``,
              ``seconds`` and ``messages_per_second`` (of messages received);
              samples are each message's time from emit to return, in ms.
    """
    probe = await _Probe(transport).connect(url)
    sent_at: list[float] = []
    try:
        await _round_trip_ms(probe, 0, payload_bytes)  # warm-up: both directions open
        probe.received = 0
        probe.arrivals.clear()
        start = time.perf_counter()
        for index in range(1, messages + 1):
            if index - 1 - probe.received >= window and not await probe.wait_for_total(index - window, _WAIT):
                break  # nothing came back for a while: the connection is gone
            sent_at.append(time.perf_counter())
            await probe.send(index, payload_bytes)
            await asyncio.sleep(0)
        complete = await probe.wait_for_total(messages, timeout)
        end = max(probe.arrivals.values(), default=start)
    finally:
        await probe.close()
    latencies = [
        (probe.arrivals[f"m{index:07d}."] - sent_at[index - 1]) * 1000
        for index in range(1, len(sent_at) + 1)
        if f"m{index:07d}." in probe.arrivals
    ]
    seconds = end - start
    received = len(latencies)
    values = {
        "sent": len(sent_at),
        "received": received,
        "all_received": complete and received == messages,
        "seconds": seconds,
        "messages_per_second": received / seconds if seconds > 0 else 0.0,
        "latency": summarize(latencies),
    }
    params = {"messages": messages, "payload_bytes": payload_bytes, "window": window}
    return Measurement("throughput", transport, params, "ms", latencies, values, machine_info())


async def _connect_many(url: str, transport: str, clients: int, concurrency: int) -> list[_Probe]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> _Probe:
        async with gate:
            return await _Probe(transport).connect(url, timeout=60)

    results = await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)
    probes = [r for r in results if isinstance(r, _Probe)]
    failures = [r for r in results if not isinstance(r, _Probe)]
    if failures:
        await _close_all(probes)
        raise RuntimeError(
            f"{len(failures)} of {clients} {transport} clients could not connect ({failures[0]!r}); "
            "try fewer clients, or raise the open-file limit (ulimit -n)."
        )
    return probes


async def measure_fan_out(
    url: str,
    transport: Transport,
    *,
    clients: int = 10,
    rounds: int = 5,
    payload_bytes: int = 20,
    sender_transport: Transport = "websocket",
    connect_concurrency: int = 50,
) -> Measurement:
    """Fan-out: ``clients`` receivers connected, one message, time until every one has it.

    A separate sender emits one message per round; each sample is the time
    from its emit until the last receiver had it, in ms. The receivers run in
    this process, on one event loop: on a small machine part of the time is the
    clients' own work, which is also true of a real server pushing to many
    browsers over one network card, only less so.

    Run it against a server started with ``presence=False`` for more than a
    few dozen clients: otherwise every connection is announced to everybody
    (the online list), N² messages that swamp both ends before the first round.

    :returns: samples (time until all have it, per round); ``values`` also has
              ``per_client`` (every delivery's latency, summarised),
              ``received``/``expected`` and ``connect_seconds``.
    """
    began = time.perf_counter()
    receivers = await _connect_many(url, transport, clients, connect_concurrency)
    connect_seconds = time.perf_counter() - began
    try:
        sender = await _Probe(sender_transport).connect(url)
    except BaseException:
        await _close_all(receivers)
        raise
    samples: list[float] = []
    deliveries: list[float] = []
    received = 0
    try:
        for index in range(1 + rounds):  # round 0 warms up
            arrivals = [r.expect(index) for r in receivers]
            start = time.perf_counter()
            await sender.send(index, payload_bytes)
            done, _ = await asyncio.wait(arrivals, timeout=_WAIT + clients / 50)
            await sender.wait_for_total(index + 1, _WAIT)
            for pending in arrivals:
                pending.cancel()
            if index == 0:
                continue
            times = [(f.result() - start) * 1000 for f in done]
            received += len(times)
            deliveries += times
            if len(times) == clients:
                samples.append(max(times))
    finally:
        await _close_all([sender, *receivers])
    values = {
        **summarize(samples),
        "per_client": summarize(deliveries),
        "received": received,
        "expected": clients * rounds,
        "connect_seconds": connect_seconds,
    }
    params = {"clients": clients, "rounds": rounds, "payload_bytes": payload_bytes, "sender_transport": sender_transport}
    return Measurement("fan_out", transport, params, "ms", samples, values, machine_info())


async def _settle(seconds: float = 0.05) -> None:
    # Benchmark only: lets the in-flight re-poll (polling) or pong land on the
    # right side of a counter snapshot; nothing is being waited for as an event.
    await asyncio.sleep(seconds)


async def measure_wire_bytes(
    url: str,
    transport: Transport,
    *,
    count: int = 50,
    payload_bytes: int = 20,
    pattern: Literal["sequential", "burst"] = "sequential",
) -> Measurement:
    """Bytes on the wire per message: TCP payload both ways, HTTP requests, WebSocket frames.

    The client talks through a :class:`~chat_lib.netem.DelayProxy` (no delay)
    that counts. ``"sequential"`` sends each message after the previous one
    came back (a conversation: polling pays a POST and a new long-poll GET per
    message); ``"burst"`` sends them all at once (polling batches them into few
    requests). Counting covers the messages only, not connecting.

    :returns: ``values`` with totals and per-message figures:
              ``bytes_per_message``, ``bytes_up_per_message``,
              ``bytes_down_per_message``, ``http_requests_per_message``,
              ``ws_frames_per_message``, and ``payload_ratio`` (wire bytes
              over the bytes of the text going up and coming back).
    """
    async with _route(url, 0.0) as (target, proxy):
        assert proxy is not None
        probe = await _Probe(transport).connect(target)
        try:
            await _round_trip_ms(probe, 0, payload_bytes)  # warm-up, not counted
            await _settle()
            before = proxy.stats.as_dict()
            if pattern == "sequential":
                for index in range(1, count + 1):
                    await _round_trip_ms(probe, index, payload_bytes)
            else:
                for index in range(1, count + 1):
                    await probe.send(index, payload_bytes)
                await probe.wait_for_total(count + 1, _WAIT)
            await _settle()
            traffic = ProxyStats(**proxy.stats.as_dict()) - ProxyStats(**before)
            received = probe.received - 1
        finally:
            await probe.close()
    values: dict[str, Any] = {**traffic.as_dict(), "messages": count, "received": received}
    values.update({
        "bytes_per_message": traffic.bytes_total / count,
        "bytes_up_per_message": traffic.bytes_up / count,
        "bytes_down_per_message": traffic.bytes_down / count,
        "http_requests_per_message": traffic.http_requests / count,
        "ws_frames_per_message": (traffic.ws_frames_up + traffic.ws_frames_down) / count,
        "payload_ratio": traffic.bytes_total / (2 * payload_bytes * count),
    })
    params = {"count": count, "payload_bytes": payload_bytes, "pattern": pattern}
    return Measurement("wire_bytes", transport, params, "bytes", [], values, machine_info())


async def measure_setup(
    url: str,
    transport: SetupTransport,
    *,
    repeats: int = 10,
    payload_bytes: int = 20,
    network_delay_ms: float = 0.0,
) -> Measurement:
    """Connection set-up: from no connection to the first message back, timed and counted.

    Each repeat creates a new client, connects, sends one message and waits
    for its broadcast; time and traffic are counted up to that moment by a
    :class:`~chat_lib.netem.DelayProxy` (with ``network_delay_ms`` of delay).
    ``"auto"`` is what browsers do: open on polling, then upgrade to WebSocket.

    :returns: samples in ms; ``values`` has their summary and the median
              ``http_requests``, ``ws_frames``, ``tcp_connections`` and
              ``bytes`` of a set-up, and ``final_transport``.
    """
    samples: list[float] = []
    counts: dict[str, list[int]] = {"http_requests": [], "ws_frames": [], "tcp_connections": [], "bytes": []}
    final_transport = None
    async with _route(url, network_delay_ms) as (target, proxy):
        assert proxy is not None
        for index in range(repeats):
            proxy.reset_stats()
            probe = _Probe(transport)
            start = time.perf_counter()
            try:
                await probe.connect(target)
                elapsed = await _round_trip_ms(probe, index, payload_bytes)
                stats = ProxyStats(**proxy.stats.as_dict())
                final_transport = probe.sio.transport()
            finally:
                await probe.close()
            if elapsed is None:
                continue
            samples.append((probe.arrivals[f"m{index:07d}."] - start) * 1000)
            counts["http_requests"].append(stats.http_requests)
            counts["ws_frames"].append(stats.ws_frames_up + stats.ws_frames_down)
            counts["tcp_connections"].append(stats.connections)
            counts["bytes"].append(stats.bytes_total)
    values: dict[str, Any] = {**summarize(samples), "final_transport": final_transport}
    for name, observed in counts.items():
        values[name] = float(statistics.median(observed)) if observed else None
    if network_delay_ms and samples:
        values["round_trips"] = values["p50"] / (2 * network_delay_ms)
    params = {"repeats": repeats, "payload_bytes": payload_bytes, "network_delay_ms": network_delay_ms}
    return Measurement("setup", transport, params, "ms", samples, values, machine_info())


# -- the suite ----------------------------------------------------------------------


@dataclass
class SuiteConfig:
    """How much of everything :func:`run_suite` measures.

    Use a preset: :meth:`quick` (seconds, for tests and smoke runs),
    :meth:`moderate` (notebook 04, well under a minute) or :meth:`full` (the CLI).
    """

    transports: tuple[str, ...] = ("websocket", "polling")
    round_trips: int = 200
    warmup: int = 20
    payload_sizes: tuple[int, ...] = (20, 1024, 16 * 1024)
    push_count: int = 200
    throughput_messages: int = 2000
    fan_out_clients: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: {"websocket": (10, 50), "polling": (10, 50)}
    )
    fan_out_rounds: int = 5
    wire_messages: int = 50
    setup_repeats: int = 10
    setup_delays_ms: tuple[float, ...] = (0.0, 50.0)
    delays_ms: tuple[float, ...] = (0.0, 10.0, 50.0)
    delay_round_trips: int = 20
    delay_payload_bytes: int = 20
    delay_push_burst: int = 3

    @classmethod
    def quick(cls) -> SuiteConfig:
        return cls(
            round_trips=10, warmup=2, payload_sizes=(20, 16 * 1024), push_count=10, throughput_messages=100,
            fan_out_clients={"websocket": (3,), "polling": (3,)}, fan_out_rounds=2, wire_messages=5,
            setup_repeats=2, setup_delays_ms=(0.0, 20.0), delays_ms=(0.0, 20.0), delay_round_trips=3,
        )

    @classmethod
    def moderate(cls) -> SuiteConfig:
        return cls(
            round_trips=100, warmup=10, push_count=100, throughput_messages=1000,
            fan_out_clients={"websocket": (10, 50, 100), "polling": (10, 50)}, fan_out_rounds=3,
            wire_messages=30, setup_repeats=3, setup_delays_ms=(0.0, 50.0), delay_round_trips=8,
        )

    @classmethod
    def full(cls) -> SuiteConfig:
        return cls(
            round_trips=1000, warmup=50, push_count=500, throughput_messages=5000,
            fan_out_clients={"websocket": (10, 100, 500), "polling": (10, 100)}, fan_out_rounds=10,
            wire_messages=100, setup_repeats=20, setup_delays_ms=(0.0, 10.0, 50.0), delay_round_trips=50,
        )

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))  # tuples become lists, as after a JSON round trip


def _plan(config: SuiteConfig) -> list[tuple[str, str, Callable[[str], Any]]]:
    """The suite's steps: (group, label, coroutine function of the server URL); a group shares a server."""
    steps: list[tuple[str, str, Callable[[str], Any]]] = []
    for size in config.payload_sizes:
        for t in config.transports:
            steps.append(("loopback latency", f"round trip {t} {size} B", lambda url, t=t, size=size: measure_round_trips(
                url, t, count=config.round_trips, warmup=config.warmup, payload_bytes=size)))
    for t in config.transports:
        steps.append(("loopback latency", f"push {t}", lambda url, t=t: measure_push_latency(
            url, t, count=config.push_count, warmup=config.warmup)))
    for t in config.transports:
        steps.append(("throughput", f"throughput {t}", lambda url, t=t: measure_throughput(
            url, t, messages=config.throughput_messages)))
    for t in config.transports:
        for pattern in ("sequential", "burst"):
            steps.append(("bytes", f"bytes {t} {pattern}", lambda url, t=t, p=pattern: measure_wire_bytes(
                url, t, count=config.wire_messages, pattern=p)))
    for delay in config.setup_delays_ms:
        for t in ("polling", "websocket", "auto"):
            steps.append(("set-up", f"set-up {t} {delay:g} ms", lambda url, t=t, d=delay: measure_setup(
                url, t, repeats=config.setup_repeats, network_delay_ms=d)))
    for delay in config.delays_ms:
        for t in config.transports:
            steps.append(("delay", f"round trip {t} +{delay:g} ms", lambda url, t=t, d=delay: measure_round_trips(
                url, t, count=config.delay_round_trips, warmup=min(config.warmup, 2),
                payload_bytes=config.delay_payload_bytes, network_delay_ms=d)))
            steps.append(("delay", f"push {t} burst of {config.delay_push_burst} +{delay:g} ms",
                          lambda url, t=t, d=delay: measure_push_latency(
                              url, t, count=config.delay_round_trips, warmup=min(config.warmup, 2),
                              payload_bytes=config.delay_payload_bytes, network_delay_ms=d,
                              burst=config.delay_push_burst)))
    for t in config.transports:
        for clients in config.fan_out_clients.get(t, ()):
            steps.append(("fan-out", f"fan-out {t} {clients}", lambda url, t=t, n=clients: measure_fan_out(
                url, t, clients=n, rounds=config.fan_out_rounds)))
    return steps


async def run_suite(
    config: SuiteConfig | None = None,
    *,
    progress: Callable[..., Any] | None = None,
    url: str | None = None,
) -> BenchReport:
    """Run every measurement of ``config`` and return a :class:`BenchReport`.

    Each group of measurements gets a fresh :func:`bench_server` process
    (unless ``url`` names a running server), so no run inherits another's
    stored messages or connections.

    :param config: what to measure; default :meth:`SuiteConfig.moderate`.
    :param progress: a tqdm-like class (``tqdm.auto.tqdm``) for a progress bar, or ``None``.
    :param url: a running chat server to measure instead of starting one.

    Example::

        from tqdm.auto import tqdm
        report = await run_suite(SuiteConfig.moderate(), progress=tqdm)
    """
    config = config or SuiteConfig.moderate()
    steps = _plan(config)
    report = BenchReport(
        machine=machine_info(), config=config.to_dict(),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    began = time.perf_counter()
    bar = progress(total=len(steps), desc="benchmark", unit="step") if progress is not None else None
    group = None
    server: BackgroundServer | None = None
    try:
        for step_group, label, step in steps:
            if bar is not None:
                bar.set_postfix_str(label)
            if url is None and step_group != group:
                if server is not None:
                    await asyncio.to_thread(server.stop)
                # Fan-out: without join/leave/online announcements, which cost
                # N² messages for N clients and would swamp the measurement.
                options = {"presence": False} if step_group == "fan-out" else {}
                server = await asyncio.to_thread(bench_server(**options).start)
                group = step_group
            target = url or (server.url if server else "")
            report.measurements.append(await step(target))
            if bar is not None:
                bar.update()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        if bar is not None:
            bar.close()
    report.seconds = time.perf_counter() - began
    return report


def run_suite_sync(config: SuiteConfig | None = None, **kwargs: Any) -> BenchReport:
    """:func:`run_suite` for code without an event loop (the command line)."""
    return asyncio.run(run_suite(config, **kwargs))

