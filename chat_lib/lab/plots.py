"""Charts of benchmark results (:mod:`chat_lib.lab.bench`), one idea per chart.

Every function takes a :class:`~chat_lib.lab.suite.BenchReport`, draws on ``ax``
(a new figure if ``None``) and returns the Axes, in the style of pandas and
seaborn, so charts can be combined into a grid or saved one by one
(:func:`save_charts`). Colours stay the same for a transport throughout:
WebSocket blue, long-polling orange, polling-then-upgrade green.

Introduced in notebook 04.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes

from .report import Measurement
from .suite import BenchReport

__all__ = [
    "COLORS",
    "plot_fan_out",
    "plot_latency_cdf",
    "plot_latency_vs_delay",
    "plot_latency_vs_payload",
    "plot_percentiles",
    "plot_setup",
    "plot_throughput",
    "plot_wire_bytes",
    "save_charts",
]

logger = logging.getLogger("chat_lib.lab.plots")

#: One colour per transport, in every chart.
COLORS = {"websocket": "#1f77b4", "polling": "#ff7f0e", "auto": "#2ca02c"}
_LABELS = {"websocket": "WebSocket", "polling": "long-polling", "auto": "polling, then upgrade"}
_TRANSPORTS = ("websocket", "polling")


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _plain_numbers(axis) -> None:
    """Label a log axis 0.5, 1, 2 rather than 5x10^-1."""
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.FuncFormatter(
        lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else ""))


def _direct(measurements: list[Measurement]) -> list[Measurement]:
    """Those measured without the delaying proxy in the way."""
    return [m for m in measurements if m.params.get("network_delay_ms") is None]


def _no_data(ax: Axes, what: str) -> Axes:
    ax.text(0.5, 0.5, f"no {what} in this report", ha="center", va="center", transform=ax.transAxes)
    return ax


def plot_latency_cdf(
    report: BenchReport, *, kind: str = "round_trip", payload_bytes: int = 20, ax: Axes | None = None
) -> Axes:
    """Distribution of latencies per transport, as a cumulative curve on a log time axis.

    A point (x, y) reads: a fraction y of the messages took x ms or less. The
    further left and the steeper, the better; the tail on the right is the
    slow few.

    :param kind: ``"round_trip"`` (sender hears its own message back) or ``"push"``
                 (a message from someone else arrives).
    :param payload_bytes: which payload size to show.
    """
    ax = _axes(ax)
    shown = False
    for transport in _TRANSPORTS:
        for m in _direct(report.select(kind, transport, payload_bytes=payload_bytes)):
            if m.params.get("burst", 1) != 1 or not m.samples:
                continue
            values = np.sort(np.asarray(m.samples))
            fraction = np.arange(1, values.size + 1) / values.size
            ax.step(values, fraction, where="post", color=COLORS[transport],
                    label=f"{_LABELS[transport]} (p50 {m['p50']:.2f} ms)")
            shown = True
    if not shown:
        return _no_data(ax, f"{kind} measurements")
    what = "Round trip: send, hear it back" if kind == "round_trip" else "Push: a message from another client"
    ax.set_xscale("log")
    _plain_numbers(ax.xaxis)
    ax.set_title(f"{what} ({payload_bytes} B, loopback)")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of messages (0 to 1)")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return ax


def plot_percentiles(
    report: BenchReport,
    *,
    kinds: tuple[str, ...] = ("round_trip", "push"),
    payload_bytes: int = 20,
    ax: Axes | None = None,
) -> Axes:
    """p50, p95 and p99 bars per transport, for round trips and pushes on loopback."""
    ax = _axes(ax)
    percentiles = ("p50", "p95", "p99")
    groups: list[str] = []
    bars: dict[str, list[float]] = {t: [] for t in _TRANSPORTS}
    for kind in kinds:
        for pct in percentiles:
            row = {}
            for transport in _TRANSPORTS:
                found = [m for m in _direct(report.select(kind, transport, payload_bytes=payload_bytes))
                         if m.params.get("burst", 1) == 1 and m.values.get(pct) is not None]
                row[transport] = found[0][pct] if found else np.nan
            if all(np.isnan(v) for v in row.values()):
                continue
            groups.append(f"{kind.replace('_', ' ')}\n{pct}")
            for transport in _TRANSPORTS:
                bars[transport].append(row[transport])
    if not groups:
        return _no_data(ax, "latency measurements")
    x = np.arange(len(groups))
    width = 0.38
    for offset, transport in zip((-width / 2, width / 2), _TRANSPORTS):
        rects = ax.bar(x + offset, bars[transport], width, color=COLORS[transport], label=_LABELS[transport])
        ax.bar_label(rects, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, groups)
    ax.set_title(f"Latency percentiles on loopback ({payload_bytes} B messages)")
    ax.set_ylabel("latency (ms)")
    ax.margins(y=0.15)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return ax


def plot_latency_vs_payload(report: BenchReport, *, kind: str = "round_trip", ax: Axes | None = None) -> Axes:
    """Median latency (whiskers from the fastest to p95) against message size, per transport."""
    ax = _axes(ax)
    shown = False
    for transport in _TRANSPORTS:
        found = sorted(
            (m for m in _direct(report.select(kind, transport)) if m.samples and m.params.get("burst", 1) == 1),
            key=lambda m: m.params["payload_bytes"],
        )
        if not found:
            continue
        sizes = [m.params["payload_bytes"] for m in found]
        p50 = np.array([m["p50"] for m in found])
        p95 = np.array([m["p95"] for m in found])
        low = np.array([m["min"] for m in found])
        ax.errorbar(sizes, p50, yerr=[p50 - low, p95 - p50], marker="o", capsize=4, color=COLORS[transport],
                    label=f"{_LABELS[transport]} (p50; whiskers min to p95)")
        shown = True
    if not shown:
        return _no_data(ax, f"{kind} measurements")
    ax.set_xscale("log", base=2)
    ax.set_title("Round-trip latency against message size (loopback)")
    ax.set_xlabel("message text size (bytes, log scale)")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def plot_latency_vs_delay(report: BenchReport, *, ax: Axes | None = None) -> Axes:
    """Median latency against the simulated one-way network delay, per transport.

    Solid lines: a round trip (send, hear it back). Dashed lines: a burst of
    messages from someone else, time until the last one arrived. The grey
    line is one network round trip (2 x delay): the least any transport can do.
    """
    ax = _axes(ax)
    delays_seen: set[float] = set()
    for transport in _TRANSPORTS:
        for kind, style in (("round_trip", "-"), ("push", "--")):
            found = sorted(
                (m for m in report.select(kind, transport)
                 if m.params.get("network_delay_ms") is not None and m.samples),
                key=lambda m: m.params["network_delay_ms"],
            )
            if not found:
                continue
            delays = [m.params["network_delay_ms"] for m in found]
            delays_seen.update(delays)
            if kind == "round_trip":
                label = f"{_LABELS[transport]}: round trip"
            else:
                label = f"{_LABELS[transport]}: burst of {found[0].params.get('burst', 1)} from another client"
            ax.plot(delays, [m["p50"] for m in found], style, marker="o", color=COLORS[transport], label=label)
    if not delays_seen:
        return _no_data(ax, "measurements with simulated delay")
    span = np.array(sorted(delays_seen))
    ax.plot(span, 2 * span, ":", color="grey", label="one network round trip (2 x delay)")
    ax.set_title("Latency on a slower network (median)")
    ax.set_xlabel("simulated one-way delay (ms)")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_throughput(report: BenchReport, *, ax: Axes | None = None) -> Axes:
    """Messages per second one client gets back when it sends as fast as it can."""
    ax = _axes(ax)
    found = [m for t in _TRANSPORTS for m in report.select("throughput", t)]
    if not found:
        return _no_data(ax, "throughput measurements")
    names = [_LABELS[m.transport] for m in found]
    rates = [m["messages_per_second"] for m in found]
    rects = ax.bar(names, rates, color=[COLORS[m.transport] for m in found])
    for rect, m in zip(rects, found):
        if not m["all_received"]:  # a rate of what came back: mark it as incomplete
            rect.set_hatch("//")
            rect.set_alpha(0.5)
    notes = [f"{r:,.0f}/s\n{m['received']}/{m.params['messages']} back" for r, m in zip(rates, found)]
    ax.bar_label(rects, notes, fontsize=8, padding=2)
    ax.set_title(f"Throughput: one client sends {found[0].params['messages']:,} messages, fast as it can")
    ax.set_ylabel("throughput (messages back per second)")
    ax.margins(y=0.2)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def plot_wire_bytes(report: BenchReport, *, ax: Axes | None = None) -> Axes:
    """Bytes on the wire per message, up and down, one message at a time or in a burst."""
    ax = _axes(ax)
    found = [m for t in _TRANSPORTS for p in ("sequential", "burst") for m in report.select("wire_bytes", t, pattern=p)]
    if not found:
        return _no_data(ax, "wire-byte measurements")
    names = [f"{_LABELS[m.transport]}\n{'one at a time' if m.params['pattern'] == 'sequential' else 'burst'}"
             for m in found]
    up = [m["bytes_up_per_message"] for m in found]
    down = [m["bytes_down_per_message"] for m in found]
    colors = [COLORS[m.transport] for m in found]
    ax.bar(names, up, color=colors, alpha=0.55, label="client to server")
    rects = ax.bar(names, down, bottom=up, color=colors, label="server to client")
    notes = []
    for m in found:
        if m.transport == "polling":
            notes.append(f"{m['bytes_per_message']:.0f} B\n{m['http_requests_per_message']:.2g} HTTP req/msg")
        else:
            notes.append(f"{m['bytes_per_message']:.0f} B\n{m['ws_frames_per_message']:.2g} frames/msg")
    ax.bar_label(rects, notes, fontsize=8, padding=2)
    payload = found[0].params["payload_bytes"]
    ax.axhline(2 * payload, color="grey", linestyle=":", label=f"the text itself, up and back ({2 * payload} B)")
    ax.set_title(f"Bytes on the wire per {payload}-byte chat message")
    ax.set_ylabel("bytes per message (TCP payload)")
    ax.margins(y=0.25)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_fan_out(report: BenchReport, *, ax: Axes | None = None) -> Axes:
    """Time until every connected client has a message, against the number of clients."""
    ax = _axes(ax)
    shown = False
    for transport in _TRANSPORTS:
        found = sorted((m for m in report.select("fan_out", transport) if m.samples),
                       key=lambda m: m.params["clients"])
        if not found:
            continue
        clients = [m.params["clients"] for m in found]
        ax.plot(clients, [m["p50"] for m in found], marker="o", color=COLORS[transport],
                label=f"{_LABELS[transport]}: last client (median)")
        ax.plot(clients, [m["per_client"]["p50"] for m in found], linestyle="--", marker=".",
                color=COLORS[transport], alpha=0.7, label=f"{_LABELS[transport]}: typical client (median)")
        shown = True
    if not shown:
        return _no_data(ax, "fan-out measurements")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(sorted({m.params["clients"] for m in report.select("fan_out")}))
    _plain_numbers(ax.xaxis)
    _plain_numbers(ax.yaxis)
    ax.set_title("Fan-out: one message to N clients (loopback)")
    ax.set_xlabel("connected clients (log scale)")
    ax.set_ylabel("time after the send (ms, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_setup(report: BenchReport, *, ax: Axes | None = None) -> Axes:
    """From nothing to the first message back: median time per transport and network delay."""
    ax = _axes(ax)
    modes = ("polling", "websocket", "auto")
    delays = sorted({m.params["network_delay_ms"] for m in report.select("setup")})
    if not delays:
        return _no_data(ax, "set-up measurements")
    x = np.arange(len(delays))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        heights, notes = [], []
        for delay in delays:
            found = report.select("setup", mode, network_delay_ms=delay)
            m = found[0] if found and found[0].samples else None
            heights.append(m["p50"] if m else np.nan)
            if m is None:
                notes.append("")
            else:
                notes.append(f"{m['http_requests']:.0f} req\n{m['ws_frames']:.0f} fr")
        rects = ax.bar(x + (i - 1) * width, heights, width, color=COLORS[mode], label=_LABELS[mode])
        ax.bar_label(rects, notes, fontsize=7, padding=1)
    ax.set_xticks(x, [f"+{d:g} ms one way" for d in delays])
    ax.set_yscale("log")
    _plain_numbers(ax.yaxis)
    top = np.nanmax([m["p50"] for m in report.select("setup") if m.samples] or [1.0])
    ax.set_ylim(top=top * 8)
    ax.set_title("Connect and get the first message back (median)")
    ax.set_ylabel("time (ms, log scale)")
    ax.set_xlabel("simulated network delay; labels: HTTP requests and WebSocket frames")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    return ax


_CHARTS = {
    "latency_cdf": plot_latency_cdf,
    "push_cdf": lambda report, ax=None: plot_latency_cdf(report, kind="push", ax=ax),
    "percentiles": plot_percentiles,
    "latency_vs_payload": plot_latency_vs_payload,
    "latency_vs_delay": plot_latency_vs_delay,
    "throughput": plot_throughput,
    "wire_bytes": plot_wire_bytes,
    "fan_out": plot_fan_out,
    "setup": plot_setup,
}


def save_charts(report: BenchReport, folder: str | Path, *, dpi: int = 110) -> dict[str, Path]:
    """Draw every chart of ``report`` and save each as ``folder/<name>.png``; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, draw in _CHARTS.items():
        ax = draw(report, ax=None)
        path = folder / f"{name}.png"
        ax.figure.savefig(path, dpi=dpi)
        plt.close(ax.figure)
        paths[name] = path
    return paths
