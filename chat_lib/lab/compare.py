"""The chat server side by side with plain python-socketio and the Node.js app it ports (issue 13).

:func:`run_side_by_side` starts each server of :data:`~chat_lib.lab.compare_servers.SERVERS`
in a process of its own and measures, one server after the other:

* WebSocket throughput, 20,000 messages of 20 B, with the python-socketio
  client (:func:`~chat_lib.lab.bench.measure_throughput`) and with the official
  socket.io-client in Node; the server's CPU time per message during each
  (``psutil``: user + system time over messages);
* the WebSocket round trip p50 (:func:`~chat_lib.lab.bench.measure_round_trips`);
* a polling burst: the Node client on long-polling emits 20,000 messages at
  once; did they all come back, how fast, in order;
* 1000 WebSocket clients on a fresh server: time to connect them all, the
  server's memory then, and fan-out, one message to all 1000, p50 of the time
  until the last has it.

Every measurement is bounded in time: one that does not finish within
``limit`` seconds is recorded as such (``values["completed"] = False`` and a
``note``) and the run goes on. Every process started is stopped in a ``finally``.
:mod:`chat_lib.lab.compare_report` turns the result into a table and charts;
``bench/side_by_side.py`` is the command.

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from tqdm.auto import tqdm

from .bench import measure_round_trips, measure_throughput
from .compare_report import SideBySideReport
from .compare_servers import SERVERS, ServerProcess, ServerSpec, node_versions, npm_install, run_node_load
from .probe import WAIT, Probe, close_all
from .report import Measurement, machine_info, summarize

__all__ = ["SideBySideConfig", "run_side_by_side", "run_side_by_side_sync"]

MIB = 2**20


@dataclass(frozen=True)
class SideBySideConfig:
    """What :func:`run_side_by_side` measures, and how much.

    :param servers: names from :data:`~chat_lib.lab.compare_servers.SERVERS`, in table order.
    :param messages: messages of the throughput runs (each client).
    :param window: most messages in flight in a throughput run.
    :param round_trips: round trips timed (after ``warmup`` more).
    :param burst_messages: messages of the Node client's polling burst.
    :param clients: WebSocket clients connected at once for the fan-out.
    :param fan_out_rounds: messages sent to all of them, one at a time (after one more to warm up).
    :param connect_batch: clients connecting concurrently.
    :param many_clients_with: ``"python"`` (python-socketio clients in this process) or ``"node"`` for the
                              fan-out clients.
    :param limit: seconds any single measurement may take before it is recorded as not completed.
    :param node_dir: the folder holding ``node_seed/`` and ``node_client/`` (``bench/``); ``None``: no Node.
    """

    servers: tuple[str, ...] = tuple(spec.name for spec in SERVERS)
    messages: int = 20_000
    payload_bytes: int = 20
    window: int = 500
    round_trips: int = 500
    warmup: int = 50
    burst_messages: int = 20_000
    clients: int = 1000
    fan_out_rounds: int = 10
    connect_batch: int = 50
    many_clients_with: Literal["python", "node"] = "python"
    limit: float = 120.0
    node_dir: str | None = None

    def replace(self, **changes: Any) -> SideBySideConfig:
        return dataclasses.replace(self, **changes)


def _measurement(kind: str, spec: ServerSpec, client: str, transport: str, params: dict[str, Any],
                 values: dict[str, Any], unit: str = "ms", samples: list[float] | None = None) -> Measurement:
    params = {"server": spec.name, "client": client, **params}
    return Measurement(kind, transport, params, unit, samples or [], values, machine_info())


def _not_completed(limit: float, **values: Any) -> dict[str, Any]:
    return {"completed": False, "note": f"did not complete within {limit:.0f} s", **values}


class _Run:
    """One side-by-side run: the servers one after the other, each measurement bounded."""

    def __init__(self, config: SideBySideConfig, progress: bool) -> None:
        self.config = config
        self.progress = progress
        self.report = SideBySideReport(config=dataclasses.asdict(config))
        node_dir = Path(config.node_dir) if config.node_dir else None
        self.seed_dir = node_dir / "node_seed" if node_dir else None
        self.client_dir = node_dir / "node_client" if node_dir else None
        self.node_problem: str | None = None if node_dir else "no Node folder given"

    def _bar(self, total: int, description: str) -> tqdm:
        return tqdm(total=total, desc=description, leave=False, disable=not self.progress, unit="")

    def prepare_node(self) -> None:
        if self.node_problem is None:
            assert self.seed_dir is not None and self.client_dir is not None
            self.node_problem = npm_install(self.seed_dir) or npm_install(self.client_dir)
        self.report.config["node"] = self.node_problem or "used"
        if self.node_problem is None:
            self.report.machine["versions"].update(node_versions(self.seed_dir, self.client_dir))

    async def run(self) -> SideBySideReport:
        began = time.perf_counter()
        self.report.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.report.machine = machine_info()
        self.report.machine["versions"].update(_python_versions())
        self.prepare_node()
        specs = [spec for spec in SERVERS if spec.name in self.config.servers]
        self.report.config["labels"] = {spec.name: spec.label for spec in specs}
        with tqdm(total=len(specs) * 6, desc="side by side", disable=not self.progress, unit="step") as steps:
            for spec in specs:
                if spec.app == "node" and self.node_problem is not None:
                    self.report.config.setdefault("skipped", {})[spec.name] = self.node_problem
                    steps.update(6)
                    continue
                await self.one_server(spec, steps)
        self.report.machine["load_average_1min_after"] = machine_info()["load_average_1min"]
        self.report.seconds = time.perf_counter() - began
        return self.report

    async def one_server(self, spec: ServerSpec, steps: tqdm) -> None:
        measures: list[tuple[str, Callable[[ServerProcess], Awaitable[Measurement]]]] = [
            ("throughput, Python client", self.throughput_python),
            ("throughput, Node client", self.throughput_node),
            ("round trip", self.round_trip),
            ("polling burst, Node client", self.polling_burst),
        ]
        server = ServerProcess(spec, node_seed_dir=self.seed_dir)
        try:
            steps.set_postfix_str(f"{spec.label}: start")
            server.start()
            self.report.config.setdefault("rss_idle_mib", {})[spec.name] = server.rss_bytes() / MIB
            steps.update(1)
            for name, measure in measures:
                steps.set_postfix_str(f"{spec.label}: {name}")
                self.report.measurements.append(await self.guarded(measure, server, name))
                steps.update(1)
        finally:
            server.stop()
        # A fresh server for the thousand clients: its memory is theirs, and a swamped server stops after.
        server = ServerProcess(spec, node_seed_dir=self.seed_dir)
        try:
            steps.set_postfix_str(f"{spec.label}: {self.config.clients} clients")
            server.start()
            self.report.measurements.append(await self.guarded(self.many_clients, server, "many clients"))
            steps.update(1)
        finally:
            server.stop()

    async def guarded(self, measure: Callable[[ServerProcess], Awaitable[Measurement]], server: ServerProcess,
                      name: str) -> Measurement:
        """Run one measurement; a failure becomes a recorded result, never the end of the run."""
        try:
            return await measure(server)
        except Exception as exc:  # noqa: BLE001 - recorded: the table says what failed, the run goes on
            kind = {"throughput, Python client": "throughput", "throughput, Node client": "throughput",
                    "round trip": "round_trip", "polling burst, Node client": "polling_burst"}.get(name, "many_clients")
            client = "node" if "Node" in name else "python"
            errors = " | ".join(list(server.errors)[-3:])
            return _measurement(kind, server.spec, client, "websocket", {"failed_step": name},
                                {"completed": False, "error": f"{exc!r}", "server_said": errors})

    # -- the measurements ----------------------------------------------------

    async def throughput_python(self, server: ServerProcess) -> Measurement:
        cfg = self.config
        cpu_before = server.cpu_seconds()
        try:
            m = await asyncio.wait_for(
                measure_throughput(server.url, "websocket", messages=cfg.messages, payload_bytes=cfg.payload_bytes,
                                   window=cfg.window, timeout=cfg.limit),
                cfg.limit + WAIT)
        except TimeoutError:
            values = _not_completed(cfg.limit)
            return _measurement("throughput", server.spec, "python", "websocket", {"messages": cfg.messages}, values)
        cpu = server.cpu_seconds() - cpu_before
        m.params = {"server": server.spec.name, "client": "python", **m.params}
        m.values.update(completed=m.values["all_received"], cpu_seconds=cpu,
                        cpu_us_per_message=cpu / max(1, m.values["sent"]) * 1e6)
        if not m.values["all_received"]:
            m.values["note"] = f"{m.values['received']} of {cfg.messages} came back within {cfg.limit:.0f} s"
        return m

    async def throughput_node(self, server: ServerProcess) -> Measurement:
        cfg = self.config
        params = {"messages": cfg.messages, "payload_bytes": cfg.payload_bytes, "window": cfg.window}
        if self.node_problem is not None:
            return _measurement("throughput", server.spec, "node", "websocket", params,
                                {"completed": False, "note": f"no Node client: {self.node_problem}"})
        cpu_before = server.cpu_seconds()
        with self._bar(cfg.messages, "Node client, throughput") as bar:
            result = await run_node_load(self.client_dir, "throughput", server.url,
                                         {**params, "idle": WAIT}, cfg.limit, on_progress=_updater(bar))
        cpu = server.cpu_seconds() - cpu_before
        result.update(cpu_seconds=cpu, cpu_us_per_message=cpu / max(1, result.get("sent") or cfg.messages) * 1e6)
        return _measurement("throughput", server.spec, "node", "websocket", params, _finish(result, cfg.limit))

    async def round_trip(self, server: ServerProcess) -> Measurement:
        cfg = self.config
        try:
            m = await asyncio.wait_for(
                measure_round_trips(server.url, "websocket", count=cfg.round_trips, warmup=cfg.warmup,
                                    payload_bytes=cfg.payload_bytes), cfg.limit)
        except TimeoutError:
            return _measurement("round_trip", server.spec, "python", "websocket", {"count": cfg.round_trips},
                                _not_completed(cfg.limit))
        m.params = {"server": server.spec.name, "client": "python", **m.params}
        m.values["completed"] = m.values["lost"] == 0
        return m

    async def polling_burst(self, server: ServerProcess) -> Measurement:
        cfg = self.config
        params = {"messages": cfg.burst_messages, "payload_bytes": cfg.payload_bytes}
        if self.node_problem is not None:
            return _measurement("polling_burst", server.spec, "node", "polling", params,
                                {"completed": False, "note": f"no Node client: {self.node_problem}"})
        with self._bar(cfg.burst_messages, "Node client, polling burst") as bar:
            result = await run_node_load(self.client_dir, "burst", server.url, {**params, "idle": WAIT},
                                         cfg.limit, on_progress=_updater(bar))
        return _measurement("polling_burst", server.spec, "node", "polling", params, _finish(result, cfg.limit))

    async def many_clients(self, server: ServerProcess) -> Measurement:
        cfg = self.config
        params = {"clients": cfg.clients, "rounds": cfg.fan_out_rounds, "payload_bytes": cfg.payload_bytes,
                  "connect_batch": cfg.connect_batch}
        rss_idle = server.rss_bytes() / MIB
        with self._bar(cfg.clients, f"{cfg.clients} clients connecting") as bar:
            if cfg.many_clients_with == "node" and self.node_problem is None:
                values, samples = await self._many_node(server, bar)
                client = "node"
            else:
                values, samples = await self._many_python(server, bar)
                client = "python"
        values["rss_idle_mib"] = rss_idle
        return _measurement("many_clients", server.spec, client, "websocket", params, values, samples=samples)

    async def _many_node(self, server: ServerProcess, bar: tqdm) -> tuple[dict[str, Any], list[float]]:
        cfg = self.config
        memory: dict[str, float] = {}

        async def connected() -> None:
            memory["rss_mib"] = server.rss_bytes() / MIB

        options = {"clients": cfg.clients, "rounds": cfg.fan_out_rounds, "batch": cfg.connect_batch,
                   "payload_bytes": cfg.payload_bytes, "idle": WAIT}
        result = await run_node_load(self.client_dir, "fanout", server.url, options, cfg.limit,
                                     on_progress=_updater(bar), on_connected=connected)
        samples = result.pop("samples", [])
        values = _finish({**result, **memory, **summarize(samples)}, cfg.limit)
        if "connect_seconds" in values and values.get("connected", 0) < cfg.clients:
            values["connect_seconds_partial"] = values.pop("connect_seconds")
        if not values.get("completed") and "note" not in values and "error" not in values:
            failure = values.get("first_failure")
            values.update({"note": f"a connection failed: {failure}"} if failure else _not_completed(cfg.limit))
        return values, samples

    async def _many_python(self, server: ServerProcess, bar: tqdm) -> tuple[dict[str, Any], list[float]]:
        cfg = self.config
        probes: list[Probe] = []
        values: dict[str, Any] = {"completed": False}
        samples: list[float] = []
        began = time.perf_counter()
        deadline = began + cfg.limit
        try:
            connected, failure = await _connect_batches(server.url, cfg.clients, cfg.connect_batch, deadline,
                                                        probes, bar)
            values["connected"] = connected
            if connected < cfg.clients:
                values["connect_seconds_partial"] = time.perf_counter() - began
                if failure is None:
                    values.update(_not_completed(cfg.limit))
                else:
                    said = " | ".join(list(server.errors)[-2:])
                    values.update(completed=False, note=f"a connection failed: {failure}" + (f" ({said})" * bool(said)))
                return values, samples
            values["connect_seconds"] = time.perf_counter() - began
            values["rss_mib"] = server.rss_bytes() / MIB
            sender = Probe("websocket")
            probes.append(sender)
            await asyncio.wait_for(sender.connect(server.url), max(0.1, deadline - time.perf_counter()))
            receivers = probes[:-1]
            for index in range(1 + cfg.fan_out_rounds):  # round 0 warms up
                arrivals = [r.expect(index) for r in receivers]
                start = time.perf_counter()
                await sender.send(index, cfg.payload_bytes)
                done, pending = await asyncio.wait(arrivals, timeout=min(WAIT, max(0.1, deadline - start)))
                for future in pending:
                    future.cancel()
                if pending:
                    values.update(_not_completed(cfg.limit), stopped_at_round=index,
                                  received_in_that_round=len(done))
                    return values, samples
                if index:
                    samples.append((max(f.result() for f in done) - start) * 1000)
            values.update(summarize(samples), completed=True, rss_mib_after=server.rss_bytes() / MIB)
            return values, samples
        except TimeoutError:
            values.update(_not_completed(cfg.limit))
            return values, samples
        finally:
            if not values.get("completed"):
                server.stop()  # a swamped server: dropping its connections lets the clients close at once
            await close_all(probes)


async def _connect_batches(url: str, clients: int, batch: int, deadline: float, probes: list[Probe],
                           bar: tqdm) -> tuple[int, str | None]:
    """Connect ``clients`` probes, ``batch`` at a time, until ``deadline``; all go in ``probes`` (to close).

    :returns: how many connected, and the first failure other than the deadline (``None`` if none).
    """
    connected = 0
    while connected < clients:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        opening = [Probe("websocket") for _ in range(min(batch, clients - connected))]
        probes.extend(opening)
        results = await asyncio.gather(*(asyncio.wait_for(p.connect(url, timeout=remaining), remaining)
                                         for p in opening), return_exceptions=True)
        made = sum(1 for r in results if isinstance(r, Probe))
        connected += made
        bar.update(made)
        failures = [r for r in results if not isinstance(r, (Probe, asyncio.TimeoutError))]
        if failures:
            return connected, repr(failures[0])
        if made < len(opening):
            break
    return connected, None


def _updater(bar: tqdm) -> Callable[[int, int], None]:
    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update


def _finish(result: dict[str, Any], limit: float) -> dict[str, Any]:
    if result.get("timed_out"):
        result.update(_not_completed(limit))
    return result


def _python_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for package in ("websockets", "httptools", "uvloop", "psutil", "tqdm"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


async def run_side_by_side(config: SideBySideConfig | None = None, *, progress: bool = True) -> SideBySideReport:
    """Measure every server of ``config`` side by side; see the module's docstring for what.

    :param config: what to measure (default: the full run, about ten minutes on 2 cores).
    :param progress: show progress bars (tqdm).

    Example::

        report = await run_side_by_side(SideBySideConfig(messages=2000, clients=50, node_dir="bench"))
        print(report.markdown())
    """
    return await _Run(config or SideBySideConfig(), progress).run()


def run_side_by_side_sync(config: SideBySideConfig | None = None, *, progress: bool = True) -> SideBySideReport:
    """:func:`run_side_by_side` from synchronous code (a script)."""
    return asyncio.run(run_side_by_side(config, progress=progress))
