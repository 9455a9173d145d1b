"""Measure a group of chat servers: fan-out and throughput with 1, 2, 3 processes.

Notebook 07 joins several server processes through Redis. This module asks
what that costs and what it buys, with real clients against real processes:

* :func:`~chat_lib.lab.group_bench.measure_group_fan_out` - M WebSocket clients spread round-robin over
  the servers; one of them sends a message, and we time until every client
  has it. The sender changes every round, so the message starts on each
  server in turn. Each delivery is also timed on its own and marked as
  *same server* (the sender's process pushes it directly) or *other server*
  (it travelled through Redis first).
* :func:`~chat_lib.lab.group_bench.measure_group_throughput` - K of the clients, spread over the
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
does; :func:`~chat_lib.lab.report.machine_info` is stored with each of them.

Like :mod:`chat_lib.lab.bench`, nothing here prints or plots: results are
:class:`~chat_lib.lab.report.Measurement` objects, JSON-serialisable.

Introduced in notebook 07.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..background import BackgroundServer
from .cluster import LocalRedis
from .group_bench import FanOutRun, ThroughputRun
from .group_probe import WAIT
from .report import Report, machine_info

__all__ = [
    "SERVER_OPTIONS",
    "ScalingConfig",
    "ScalingReport",
    "run_scaling",
    "setup_label",
]

#: Server options for measurements: no rate limit (senders go as fast as acks
#: allow) and no join/leave announcements (N clients would cost N² messages).
SERVER_OPTIONS: dict[str, Any] = {"rate_limit": None, "presence": False, "max_sessions_per_address": None}


def setup_label(processes: int, redis: bool) -> str:
    """How a setup is named in tables and charts: ``"2 processes + Redis"``."""
    noun = "process" if processes == 1 else "processes"
    return f"{processes} {noun} + Redis" if redis else f"{processes} {noun}, no Redis"



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
    :class:`~chat_lib.lab.cluster.ServerGroup`. All of them run at once; idle
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

        def make_fan_out(urls: list[str]) -> FanOutRun:
            return FanOutRun(urls, config.fan_out_clients, config.payload_bytes, WAIT, config.warmup)

        async def fan_out_step(run: FanOutRun, share: int) -> None:
            await run.rounds(share)

        def make_throughput(urls: list[str]) -> ThroughputRun:
            return ThroughputRun(urls, config.throughput_clients, config.throughput_senders,
                                  config.payload_bytes, 60.0)

        async def throughput_step(run: ThroughputRun, share: int) -> None:
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
