"""Measure the chat: long-polling against WebSocket, in numbers.

Every function here drives real python-socketio clients against a chat server
(normally a :class:`~chat_lib.background.BackgroundServer` in a separate
process, :func:`bench_server`) and returns plain data: a :class:`~chat_lib.lab.report.Measurement`
with its parameters, raw samples, derived figures and the machine it ran on.
Nothing here prints or plots; :mod:`chat_lib.lab.plots` draws the results and
``python -m chat_lib bench`` runs the whole suite (:func:`~chat_lib.lab.suite.run_suite`).

What is measured, each with the transport pinned on the client:

* :func:`measure_round_trips` - emit ``'chat message'``, time until its
  broadcast comes back to the sender (what a user feels when sending);
* :func:`measure_push_latency` - one client sends, another receives: the
  one-way time of a message from someone else;
* :func:`measure_throughput` - one client sends as fast as it can;
* :func:`measure_fan_out` - one message to N connected clients;
* :func:`measure_wire_bytes` - bytes, HTTP requests and WebSocket frames per
  message, counted by a :class:`~chat_lib.lab.delay_proxy.DelayProxy`;
* :func:`measure_setup` - from nothing to the first message: time, requests, frames.

The latency functions take ``network_delay_ms``: the client then talks to the
server through a :class:`~chat_lib.lab.delay_proxy.DelayProxy` that adds that one-way
delay, so each round trip a transport needs costs what it would on a network.

Clients connect without ``auth``, as the Node.js tutorial's page does, so the
server broadcasts the bare text: no acknowledgement packet, no metadata. Each
message text starts with a unique key and is padded to the payload size
(:class:`~chat_lib.lab.probe.Probe`).

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any, Literal

from ..background import BackgroundServer
from .delay_proxy import ProxyStats
from .probe import (
    WAIT,
    FixedTransport,
    Probe,
    SetupTransport,
    close_all,
    connect_many,
    message_key,
    round_trip_ms,
    route,
    settle,
)
from .report import Measurement, machine_info, summarize

__all__ = [
    "BENCH_MAX_MESSAGE_BYTES",
    "bench_server",
    "measure_fan_out",
    "measure_push_latency",
    "measure_round_trips",
    "measure_setup",
    "measure_throughput",
    "measure_wire_bytes",
]

#: Messages up to this size fit the benchmark server (16 KiB payloads and more).
BENCH_MAX_MESSAGE_BYTES = 64 * 1024


def bench_server(**options: Any) -> BackgroundServer:
    """A chat server for benchmarks: its own process, no rate limit, messages up to BENCH_MAX_MESSAGE_BYTES (64 KiB).

    :param options: more :class:`~chat_lib.server.ChatServer` options (JSON-serialisable).
    """
    # Every benchmark client comes from 127.0.0.1: no cap on sessions per address.
    settings: dict[str, Any] = {
        "rate_limit": None, "max_message_bytes": BENCH_MAX_MESSAGE_BYTES, "max_sessions_per_address": None,
    }
    settings.update(options)
    return BackgroundServer(mode="process", **settings)


async def measure_round_trips(
    url: str,
    transport: FixedTransport,
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
                             :class:`~chat_lib.lab.delay_proxy.DelayProxy` adding that one-way delay.
    :returns: samples in milliseconds; ``values`` has the percentiles and ``lost``.

    Example::

        with bench_server() as server:
            m = await measure_round_trips(server.url, "websocket", count=100)
        m["p50"]    # about 0.5 (ms) on loopback
    """
    samples: list[float] = []
    lost = 0
    async with route(url, network_delay_ms) as (target, _):
        probe = await Probe(transport).connect(target)
        try:
            for index in range(warmup + count):
                elapsed = await round_trip_ms(probe, index, payload_bytes)
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
    transport: FixedTransport,
    *,
    count: int = 200,
    warmup: int = 20,
    payload_bytes: int = 20,
    sender_transport: FixedTransport = "websocket",
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
    async with route(url, network_delay_ms) as (target, _):
        receiver = await Probe(transport).connect(target)
        try:
            sender = await Probe(sender_transport).connect(target)
        except BaseException:
            await close_all([receiver])  # else it would keep polling in the reader's kernel
            raise
        try:
            for round_ in range(warmup + count):
                first = round_ * burst
                arrivals = [receiver.expect(first + k) for k in range(burst)]
                start = time.perf_counter()
                for k in range(burst):
                    await sender.send(first + k, payload_bytes)
                try:
                    times = await asyncio.wait_for(asyncio.gather(*arrivals), WAIT)
                    elapsed: float | None = (max(times) - start) * 1000
                except asyncio.TimeoutError:
                    elapsed = None
                # The broadcasts reach the sender too; let them arrive so they
                # do not overlap the next sample.
                await sender.wait_for_total(first + burst, WAIT)
                if round_ < warmup:
                    continue
                if elapsed is None:
                    lost += 1
                else:
                    samples.append(elapsed)
        finally:
            await close_all([receiver, sender])
    params = {"count": count, "warmup": warmup, "payload_bytes": payload_bytes, "burst": burst,
              "sender_transport": sender_transport, "network_delay_ms": network_delay_ms}
    return Measurement("push", transport, params, "ms", samples, {**summarize(samples), "lost": lost}, machine_info())


async def measure_throughput(
    url: str,
    transport: FixedTransport,
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

    At most ``window`` messages are in flight (sent, not yet back), as a
    chat client would have. (Without flow control a plain python-engineio
    pair breaks on bursts: it refuses a payload of more than
    ``Payload.max_decode_packets`` packets, 16 by default. The chat bounds a
    payload by bytes instead: :func:`~chat_lib.overrides.allow_polling_payloads`.)

    :param window: most messages in flight at once.

    :returns: ``values`` with ``sent``, ``received``, ``all_received``,
              ``seconds`` and ``messages_per_second`` (of messages received);
              samples are each message's time from emit to return, in ms.
    """
    probe = await Probe(transport).connect(url)
    sent_at: list[float] = []
    try:
        await round_trip_ms(probe, 0, payload_bytes)  # warm-up: both directions open
        probe.received = 0
        probe.arrivals.clear()
        start = time.perf_counter()
        for index in range(1, messages + 1):
            if index - 1 - probe.received >= window and not await probe.wait_for_total(index - window, WAIT):
                break  # nothing came back for a while: the connection is gone
            sent_at.append(time.perf_counter())
            await probe.send(index, payload_bytes)
            await asyncio.sleep(0)
        complete = await probe.wait_for_total(messages, timeout)
        end = max(probe.arrivals.values(), default=start)
    finally:
        await probe.close()
    latencies = [
        (probe.arrivals[message_key(index)] - sent_at[index - 1]) * 1000
        for index in range(1, len(sent_at) + 1)
        if message_key(index) in probe.arrivals
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


async def measure_fan_out(
    url: str,
    transport: FixedTransport,
    *,
    clients: int = 10,
    rounds: int = 5,
    payload_bytes: int = 20,
    sender_transport: FixedTransport = "websocket",
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
    receivers = await connect_many(url, transport, clients, connect_concurrency)
    connect_seconds = time.perf_counter() - began
    try:
        sender = await Probe(sender_transport).connect(url)
    except BaseException:
        await close_all(receivers)
        raise
    samples: list[float] = []
    deliveries: list[float] = []
    received = 0
    try:
        for index in range(1 + rounds):  # round 0 warms up
            arrivals = [r.expect(index) for r in receivers]
            start = time.perf_counter()
            await sender.send(index, payload_bytes)
            done, _ = await asyncio.wait(arrivals, timeout=WAIT + clients / 50)
            await sender.wait_for_total(index + 1, WAIT)
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
        await close_all([sender, *receivers])
    values = {
        **summarize(samples),
        "per_client": summarize(deliveries),
        "received": received,
        "expected": clients * rounds,
        "connect_seconds": connect_seconds,
    }
    params = {"clients": clients, "rounds": rounds, "payload_bytes": payload_bytes,
              "sender_transport": sender_transport}
    return Measurement("fan_out", transport, params, "ms", samples, values, machine_info())


async def measure_wire_bytes(
    url: str,
    transport: FixedTransport,
    *,
    count: int = 50,
    payload_bytes: int = 20,
    pattern: Literal["sequential", "burst"] = "sequential",
) -> Measurement:
    """Bytes on the wire per message: TCP payload both ways, HTTP requests, WebSocket frames.

    The client talks through a :class:`~chat_lib.lab.delay_proxy.DelayProxy` (no delay)
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
    async with route(url, 0.0) as (target, proxy):
        assert proxy is not None
        probe = await Probe(transport).connect(target)
        try:
            await round_trip_ms(probe, 0, payload_bytes)  # warm-up, not counted
            await settle()
            before = proxy.stats.as_dict()
            if pattern == "sequential":
                for index in range(1, count + 1):
                    await round_trip_ms(probe, index, payload_bytes)
            else:
                for index in range(1, count + 1):
                    await probe.send(index, payload_bytes)
                await probe.wait_for_total(count + 1, WAIT)
            await settle()
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
    :class:`~chat_lib.lab.delay_proxy.DelayProxy` (with ``network_delay_ms`` of delay).
    ``"auto"`` is python-socketio's default: open on polling and upgrade to
    WebSocket inside ``connect()``, before the Socket.IO ``CONNECT`` (the
    JavaScript client connects on polling and probes WebSocket in parallel).

    :returns: samples in ms; ``values`` has their summary and the median
              ``http_requests``, ``ws_frames``, ``tcp_connections`` and
              ``bytes`` of a set-up, and ``final_transport``.
    """
    samples: list[float] = []
    counts: dict[str, list[int]] = {"http_requests": [], "ws_frames": [], "tcp_connections": [], "bytes": []}
    final_transport = None
    async with route(url, network_delay_ms) as (target, proxy):
        assert proxy is not None
        for index in range(repeats):
            proxy.reset_stats()
            probe = Probe(transport)
            start = time.perf_counter()
            try:
                await probe.connect(target)
                elapsed = await round_trip_ms(probe, index, payload_bytes)
                stats = ProxyStats(**proxy.stats.as_dict())
                final_transport = probe.sio.transport()
            finally:
                await probe.close()
            if elapsed is None:
                continue
            samples.append((probe.arrivals[message_key(index)] - start) * 1000)
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


