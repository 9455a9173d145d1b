"""The benchmark suite of notebook 04: every measurement of :mod:`chat_lib.lab.bench`, in one run.

:class:`SuiteConfig` says how much of everything to measure (presets from a
few seconds to a few minutes), :func:`run_suite` runs it against fresh
:func:`~chat_lib.lab.bench.bench_server` processes and returns a
:class:`BenchReport`, which :mod:`chat_lib.lab.plots` draws and
``python -m chat_lib bench`` saves.

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..background import BackgroundServer
from .bench import (
    bench_server,
    measure_fan_out,
    measure_push_latency,
    measure_round_trips,
    measure_setup,
    measure_throughput,
    measure_wire_bytes,
)
from .report import Report, machine_info

__all__ = ["BenchReport", "SuiteConfig", "run_suite", "run_suite_sync"]


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
            steps.append(("loopback latency", f"round trip {t} {size} B", lambda url, t=t, s=size: measure_round_trips(
                url, t, count=config.round_trips, warmup=config.warmup, payload_bytes=s)))
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

