"""Print the key figures of a recorded benchmark run as Markdown tables.

    python bench/markdown_tables.py [bench/results/results.json]

bench/README.md quotes its output; rerun it after recording a new run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chat_lib import BenchReport

TRANSPORTS = ("websocket", "polling")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:.0f}"


def tables(report: BenchReport) -> str:
    machine = report.machine
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    lines = [
        f"Recorded {report.started_at} in {report.seconds:.0f} s: {machine['cpu_count']} CPUs, "
        f"load average {machine['load_average_1min']:.2f} at the start, {machine['platform']}, "
        f"Python {machine['python']}; {versions}.",
        "",
        "| round trip, 20 B (ms) | WebSocket p50 | WebSocket p99 | polling p50 | polling p99 |",
        "|---|---|---|---|---|",
    ]
    delays = sorted({m.params["network_delay_ms"] for m in report.select("round_trip")}, key=lambda d: (d is not None, d))
    for delay in delays:
        row = []
        for t in TRANSPORTS:
            m = report.one("round_trip", t, payload_bytes=20, network_delay_ms=delay)
            row += [_ms(m["p50"]), _ms(m["p99"])]
        label = "direct (no proxy)" if delay is None else f"through the proxy, +{delay:g} ms each way"
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += ["", "| other figures | WebSocket | polling |", "|---|---|---|"]
    for size in sorted({m.params["payload_bytes"] for m in report.select("round_trip")}):
        if size == 20:
            continue
        cells = [_ms(report.one("round_trip", t, payload_bytes=size, network_delay_ms=None)["p50"]) for t in TRANSPORTS]
        lines.append(f"| round trip p50, {size} B (ms) | " + " | ".join(cells) + " |")
    cells = [_ms(report.one("push", t, burst=1, network_delay_ms=None)["p50"]) for t in TRANSPORTS]
    lines.append("| push from another client p50 (ms) | " + " | ".join(cells) + " |")
    for delay in sorted({m.params["network_delay_ms"] for m in report.select("push") if m.params.get("burst", 1) > 1}):
        found = [report.one("push", t, network_delay_ms=delay) for t in TRANSPORTS]
        cells = [_ms(m["p50"]) for m in found]
        lines.append(f"| burst of {found[0].params['burst']} from another client, +{delay:g} ms, p50 (ms) | "
                     + " | ".join(cells) + " |")
    found = [report.one("throughput", t) for t in TRANSPORTS]
    cells = [f"{m['messages_per_second']:,.0f} ({m['received']}/{m['sent']} back)" for m in found]
    lines.append("| throughput (messages/s) | " + " | ".join(cells) + " |")
    for pattern in ("sequential", "burst"):
        found = [report.one("wire_bytes", t, pattern=pattern) for t in TRANSPORTS]
        cells = [f"{found[0]['bytes_per_message']:.0f} B, {found[0]['ws_frames_per_message']:.2g} frames",
                 f"{found[1]['bytes_per_message']:.0f} B, {found[1]['http_requests_per_message']:.2g} requests"]
        lines.append(f"| bytes per 20 B message, {pattern} | " + " | ".join(cells) + " |")
    lines += ["", "| set-up to first message, p50 | polling | WebSocket | polling then upgrade |", "|---|---|---|---|"]
    for delay in sorted({m.params["network_delay_ms"] for m in report.select("setup")}):
        cells = []
        for mode in ("polling", "websocket", "auto"):
            m = report.one("setup", mode, network_delay_ms=delay)
            cells.append(f"{_ms(m['p50'])} ms, {m['http_requests']:.0f} req, {m['ws_frames']:.0f} frames")
        lines.append(f"| +{delay:g} ms each way | " + " | ".join(cells) + " |")
    lines += ["", "| fan-out: clients | transport | last client p50 (ms) | typical client p50 (ms) | received |",
              "|---|---|---|---|---|"]
    for t in TRANSPORTS:
        for m in sorted(report.select("fan_out", t), key=lambda m: m.params["clients"]):
            lines.append(f"| {m.params['clients']} | {t} | {_ms(m['p50'])} | {_ms(m['per_client']['p50'])} | "
                         f"{m['received']}/{m['expected']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results" / "results.json")
    print(tables(BenchReport.load(path)))
