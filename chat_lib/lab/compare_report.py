"""The side-by-side benchmark's results: a table with ratios, the targets of issue 13, charts.

:class:`SideBySideReport` is a :class:`~chat_lib.lab.report.Report` whose
measurements carry ``params["server"]`` and ``params["client"]``;
:func:`~chat_lib.lab.compare.run_side_by_side` makes one. :meth:`~SideBySideReport.markdown`
writes the table, each figure with its ratio to the plain python-socketio
server, and :meth:`~SideBySideReport.plot` draws one bar chart per figure.

Introduced in notebook 04.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .report import Measurement, Report

__all__ = ["FIGURES", "Figure", "SideBySideReport"]

REFERENCE = "plain"


@dataclass(frozen=True)
class Figure:
    """One row of the table: which measurement, which value, how to read it.

    :param target: issue 13's target for ChatServer against the plain server: a ratio
                   (``"<=1.1"``: at most 1.1 times the plain server's), or an absolute bound
                   (``"<=150 MiB"``); empty for none.
    """

    name: str
    label: str
    unit: str
    kind: str
    client: str
    value: str
    better: Literal["higher", "lower"]
    target: str = ""


FIGURES = (
    Figure("throughput_python", "WebSocket throughput, 20 B, Python client", "msg/s", "throughput", "python",
           "messages_per_second", "higher", ">=1.0"),
    Figure("throughput_node", "same, Node socket.io-client", "msg/s", "throughput", "node",
           "messages_per_second", "higher", ">=1.0"),
    Figure("cpu_python", "server CPU per message, Python client", "µs", "throughput", "python",
           "cpu_us_per_message", "lower", "<=1.0"),
    Figure("cpu_node", "server CPU per message, Node client", "µs", "throughput", "node",
           "cpu_us_per_message", "lower", "<=1.0"),
    Figure("round_trip", "WebSocket round trip p50, 20 B", "ms", "round_trip", "python", "p50", "lower", "<=1.1"),
    Figure("connect", "{clients} WebSocket clients: connect them all", "s", "many_clients", "",
           "connect_seconds", "lower", "<=3.0"),
    Figure("fan_out", "fan-out to those {clients}, p50", "ms", "many_clients", "", "p50", "lower", "<=1.5"),
    Figure("rss", "server RSS with {clients} clients", "MiB", "many_clients", "", "rss_mib", "lower", "<=150 MiB"),
    Figure("burst", "polling burst of {burst}, Node client", "msg/s", "polling_burst", "node",
           "messages_per_second", "higher", "all arrive"),
)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


class SideBySideReport(Report):
    """The servers' figures side by side; JSON in and out as every :class:`Report`."""

    @property
    def servers(self) -> list[str]:
        """The servers measured (or skipped), in table order."""
        return list(self.config.get("labels", {}))

    def label(self, server: str) -> str:
        return self.config.get("labels", {}).get(server, server)

    def find(self, figure: Figure, server: str) -> Measurement | None:
        params = {"server": server, **({"client": figure.client} if figure.client else {})}
        found = self.select(figure.kind, **params)
        return found[0] if found else None

    def value(self, figure: Figure, server: str) -> float | None:
        """The figure for ``server``, or ``None`` when it was not measured or did not complete."""
        m = self.find(figure, server)
        if m is None:
            return None
        if figure.kind == "polling_burst" and not m.values.get("all_received"):
            return None
        if figure.kind in ("many_clients", "round_trip") and figure.value == "p50" and not m.values.get("completed"):
            return None
        value = m.values.get(figure.value)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def ratio(self, figure: Figure, server: str) -> float | None:
        """The figure over the plain python-socketio server's."""
        value, reference = self.value(figure, server), self.value(figure, REFERENCE)
        return value / reference if value is not None and reference else None

    def cell(self, figure: Figure, server: str) -> str:
        """What the table shows: the figure and its ratio, or what happened instead."""
        m = self.find(figure, server)
        if m is None:
            return "skipped" if server in self.config.get("skipped", {}) else "-"
        v = m.values
        value = self.value(figure, server)
        if figure.kind == "polling_burst":
            arrived = f"{v.get('received', 0):,} of {v.get('sent', m.params['messages']):,}"
            if value is not None:
                order = "" if v.get("in_order", True) else ", out of order"
                return f"all, {_number(value)} msg/s{order}" + self._ratio_text(figure, server)
            return f"{arrived} arrived" + (" (stalled)" if v.get("received", 0) < v.get("sent", 1) else "")
        if value is None:
            return self._why_not(figure, m)
        text = f"{_number(value)} {figure.unit}" if server == REFERENCE else _number(value)
        if figure.kind == "throughput" and v.get("all_received") is False:
            text += f" ({v.get('received', 0):,} of {v.get('sent', 0):,} back)"
        return text + self._ratio_text(figure, server)

    def _ratio_text(self, figure: Figure, server: str) -> str:
        ratio = self.ratio(figure, server)
        return f" ({ratio:.2f}×)" if ratio is not None and server != REFERENCE else ""

    @staticmethod
    def _why_not(figure: Figure, m: Measurement) -> str:
        v = m.values
        if "error" in v:
            return "failed: " + str(v["error"]).splitlines()[0][:80]
        note = v.get("note", "not measured")
        if figure.name == "connect" and "connected" in v:
            return f"{note} ({v['connected']:,} of {m.params['clients']:,} connected)"
        if figure.name == "fan_out" and "connect_seconds" in v:
            return f"{note} (round {v.get('stopped_at_round', '?')})"
        if figure.name == "rss" and "rss_mib" not in v:
            return "-"
        return note

    def _rows_label(self, figure: Figure) -> str:
        clients = self.config.get("clients", 1000)
        burst = self.config.get("burst_messages", 20000)
        label = figure.label.format(clients=f"{clients:,}", burst=f"{burst:,}")
        if figure.kind == "throughput" and figure.client == "python":
            label = label.replace("20 B", f"{self.config.get('messages', 20000):,} × 20 B")
        many = self.select("many_clients")
        if figure.kind == "many_clients" and figure.name == "connect" and many:
            label += f" ({'Node' if many[0].params['client'] == 'node' else 'Python'} clients)"
        return label

    def markdown(self) -> str:
        """The table (each figure with its ratio to plain python-socketio), the targets, the machine."""
        servers = self.servers
        lines = ["| | " + " | ".join(self.label(s) for s in servers) + " |",
                 "|---|" + "---:|" * len(servers)]
        for figure in FIGURES:
            lines.append(f"| {self._rows_label(figure)} | " + " | ".join(self.cell(figure, s) for s in servers) + " |")
        lines += ["", "Ratios in brackets are against plain python-socketio in the same run."]
        targets = self.targets_markdown()
        if targets:
            lines += ["", targets]
        return "\n".join(lines) + "\n\n" + self.machine_text() + "\n"

    def targets_markdown(self) -> str:
        """Issue 13's targets for each ChatServer against the plain server: met or missed, by how much."""
        chats = [s for s in self.servers if s.startswith("chat")]
        if not chats or REFERENCE not in self.servers:
            return ""
        lines = ["| target (issue 13) | " + " | ".join(self.label(s) for s in chats) + " |",
                 "|---|" + "---|" * len(chats)]
        for figure in FIGURES:
            cells = [self._target_cell(figure, s) for s in chats]
            lines.append(f"| {self._rows_label(figure)}: {_target_words(figure)} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def _target_cell(self, figure: Figure, server: str) -> str:
        if figure.name == "burst":
            m = self.find(figure, server)
            if m is None:
                return "-"
            return "met" if m.values.get("all_received") else f"missed: {m.values.get('received', 0):,} arrived"
        if figure.target.endswith("MiB"):
            value, bound = self.value(figure, server), float(figure.target[2:-4])
            if value is None:
                return "not measured"
            return f"{'met' if value <= bound else 'missed'}: {value:.0f} MiB"
        ratio = self.ratio(figure, server)
        if ratio is None:
            return "not measured" if self.value(figure, server) is None else "no reference"
        bound = float(figure.target[2:])
        met = ratio >= bound if figure.target.startswith(">=") else ratio <= bound
        return f"{'met' if met else 'missed'}: {ratio:.2f}×"

    def machine_text(self) -> str:
        """One paragraph: when, how long, the machine, its load, the versions."""
        m = self.machine
        versions = ", ".join(f"{name} {version}" for name, version in m.get("versions", {}).items() if version)
        return (f"Recorded {self.started_at} in {self.seconds:.0f} s: {m.get('cpu_count')} CPUs, load average "
                f"{_load(m.get('load_average_1min'))} at the start and {_load(m.get('load_average_1min_after'))} "
                f"at the end, {m.get('platform')}, Python {m.get('python')}; {versions}.")

    def plot(self, axes: Any = None) -> Any:
        """One bar chart per figure, the servers side by side; returns the axes (a 3×3 grid if none given)."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, grid = plt.subplots(3, 3, figsize=(15, 11), layout="constrained")
            axes = grid.ravel()
            axes[0].figure.suptitle(f"Side by side, one run on {self.machine.get('cpu_count')} cores "
                                    f"({self.started_at[:10]}, load average "
                                    f"{_load(self.machine.get('load_average_1min'))} at the start)", fontsize=14)
        for ax, figure in zip(axes, FIGURES):
            self._bars(ax, figure)
        return axes

    def _bars(self, ax: Any, figure: Figure) -> None:
        servers = self.servers
        values = [self.value(figure, s) for s in servers]
        colors = [_COLORS.get(s, "#7f7f7f") for s in servers]
        heights = [v or 0.0 for v in values]
        bars = ax.bar(range(len(servers)), heights, color=colors)
        top = max(heights, default=0) or 1.0
        for bar, server, value in zip(bars, servers, values):
            if value is None:
                text = "skipped" if server in self.config.get("skipped", {}) else self._missing(figure, server)
                ax.text(bar.get_x() + bar.get_width() / 2, top * 0.02, text, ha="center", va="bottom",
                        fontsize=8, color="#b00000")
                continue
            ratio = self.ratio(figure, server)
            label = _number(value) + (f"\n{ratio:.2f}×" if ratio is not None and server != REFERENCE else "")
            ax.text(bar.get_x() + bar.get_width() / 2, value, label, ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, top * 1.25)
        ax.set_xticks(range(len(servers)), [_SHORT.get(s, s) for s in servers], fontsize=8)
        ax.set_title(self._rows_label(figure) + f"\n({figure.better} is better)", fontsize=9)
        ax.set_ylabel(figure.unit)

    def _missing(self, figure: Figure, server: str) -> str:
        m = self.find(figure, server)
        if m is None:
            return "not\nmeasured"
        if figure.kind == "polling_burst" and "received" in m.values:
            return f"{m.values['received']:,} of\n{m.values.get('sent', 0):,}\narrived"
        return "failed" if "error" in m.values else "did not\ncomplete"

    def save_charts(self, folder: str | Path) -> list[Path]:
        """Draw :meth:`plot` into ``folder/side_by_side.png``; returns the paths written."""
        import matplotlib.pyplot as plt

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        axes = self.plot()
        path = folder / "side_by_side.png"
        axes[0].figure.savefig(path, dpi=100)
        plt.close(axes[0].figure)
        return [path]


_COLORS = {"plain": "#1f77b4", "chat_memory": "#ff7f0e", "chat_disk": "#d62728", "node": "#2ca02c"}
_SHORT = {"plain": "plain\npython-socketio", "chat_memory": "ChatServer\n(memory)",
          "chat_disk": "ChatServer\n(disk)", "node": "Node\nseed app"}


def _target_words(figure: Figure) -> str:
    words: dict[str, Callable[[str], str]] = {
        ">=": lambda bound: f"at least {bound}× plain", "<=": lambda bound: f"at most {bound}× plain"}
    if figure.target.endswith("MiB") or figure.target == "all arrive":
        return figure.target.replace("<=", "at most ")
    return words[figure.target[:2]](figure.target[2:])


def _load(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "unknown"
