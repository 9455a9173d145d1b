"""Issue 13's side-by-side benchmark: the chat server against plain python-socketio and the Node.js app.

    python bench/side_by_side.py             # the full run into bench/results/side_by_side/ (about 10 min)
    python bench/side_by_side.py --quick     # seconds to a minute, to check that everything works
    python bench/side_by_side.py --help      # servers, sizes, the fan-out client, the time limit

It measures, per server (each in its own process): WebSocket throughput with the
python-socketio client and the official Node socket.io-client, the server's CPU
time per message, the WebSocket round trip p50, 1000 WebSocket clients (time to
connect them all, fan-out p50, server RSS) and a polling burst from the Node
client. It writes ``results.json`` (every figure, the machine, the versions),
``table.md`` (the table with ratios to plain python-socketio, and issue 13's
targets) and ``side_by_side.png`` into the output folder. Node parts run when
``node`` and ``npm`` are on the PATH (``npm install`` in ``bench/node_seed`` and
``bench/node_client`` first); otherwise they are recorded as skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from chat_lib.lab.compare import SideBySideConfig, run_side_by_side_sync
from chat_lib.lab.compare_servers import SERVERS

BENCH = Path(__file__).resolve().parent
QUICK = {"messages": 2000, "burst_messages": 2000, "round_trips": 100, "warmup": 10, "clients": 50,
         "fan_out_rounds": 3, "limit": 30.0}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "side_by_side",
                        help="folder for the results")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check that everything works")
    parser.add_argument("--servers", nargs="+", choices=[s.name for s in SERVERS], help="default: all four")
    parser.add_argument("--no-node", action="store_true", help="skip the Node app and the Node client")
    parser.add_argument("--messages", type=int, help="messages per throughput run (20,000)")
    parser.add_argument("--burst", type=int, dest="burst_messages", help="messages of the polling burst (20,000)")
    parser.add_argument("--round-trips", type=int, dest="round_trips", help="round trips timed (500)")
    parser.add_argument("--clients", type=int, help="WebSocket clients for the fan-out (1000)")
    parser.add_argument("--rounds", type=int, dest="fan_out_rounds", help="fan-out messages (10)")
    parser.add_argument("--many-clients-with", choices=["python", "node"],
                        help="which client opens the many connections (python)")
    parser.add_argument("--limit", type=float, help="seconds any single measurement may take (120)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    changes = dict(QUICK) if args.quick else {}
    options = ("messages", "round_trips", "burst_messages", "clients", "fan_out_rounds", "many_clients_with", "limit")
    for name in options:
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name)
    if args.servers:
        changes["servers"] = tuple(args.servers)
    changes["node_dir"] = None if args.no_node else str(BENCH)
    config = SideBySideConfig().replace(**changes)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    report = run_side_by_side_sync(config, progress=not args.no_progress)
    args.out.mkdir(parents=True, exist_ok=True)
    report.save(args.out / "results.json")
    table = report.markdown()
    (args.out / "table.md").write_text(table)
    charts = report.save_charts(args.out)
    print(table)
    print("wrote", ", ".join(str(p) for p in [args.out / "results.json", args.out / "table.md", *charts]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
