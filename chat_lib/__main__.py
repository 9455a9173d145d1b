"""Command line: ``python -m chat_lib serve [--host H] [--port P]`` and ``python -m chat_lib bench [--quick]``.

Like ``node index.js`` in the Node.js tutorial: start the chat and print the
address to open in a browser. Ctrl-C stops it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from . import protocol
from .config import ChatConfig

__all__ = ["main"]


def _default_port() -> int:
    value = os.environ.get("PORT")
    if value is None:
        return protocol.DEFAULT_PORT
    try:
        return int(value)
    except ValueError:
        sys.exit(f"PORT must be a number, not {value!r}.")


def _rate_limit(value: str) -> tuple[float, float] | None:
    if value == "off":
        return None
    try:
        rate, burst = (float(part) for part in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RATE/BURST such as 20/200, or off; not {value!r}") from None
    return rate, burst


def _count_or_off(value: str) -> int | None:
    if value == "off":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or off, not {value!r}") from None


def _config(args: argparse.Namespace) -> ChatConfig:
    try:
        return ChatConfig(
            max_message_bytes=args.max_message_bytes,
            max_payload_bytes=args.max_payload_bytes,
            store=None if args.store == ":memory:" else args.store,
            cors_allowed_origins=tuple(args.cors_origin) if args.cors_origin else None,
            rate_limit=args.rate_limit,
            rate_limit_per_address=args.rate_limit_per_address,
            ping_interval=args.ping_interval,
            ping_timeout=args.ping_timeout,
            redis_url=args.redis_url,
            transports=tuple(args.transport) if args.transport else None,
            presence=not args.no_presence,
            allowed_hosts=tuple(args.allow_host) if args.allow_host else None,
            frame_ancestors=tuple(args.frame_ancestor) if args.frame_ancestor is not None else ChatConfig.frame_ancestors,
            max_sessions_per_address=args.max_sessions_per_address,
            retain_messages=args.retain,
        )
    except ValueError as exc:
        sys.exit(f"python -m chat_lib serve: {exc}")


def serve(args: argparse.Namespace) -> int:
    from .background import _uvicorn_server, bind_socket
    from .errors import ServerStartError
    from .server import ChatServer

    try:
        sock = bind_socket(args.host, args.port)
    except ServerStartError as exc:
        # The message names the Python API's port=0; say it the command line's way.
        print(str(exc).replace("pass port=0", "pass --port 0"), file=sys.stderr)
        return 1
    chat = ChatServer(_config(args))
    port = sock.getsockname()[1]
    shown_host = "localhost" if args.host in ("127.0.0.1", "localhost") else args.host
    # uvicorn's own TLS (notebook 08); usually a proxy ends TLS.
    server = _uvicorn_server(chat.app, args.host, ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile)
    scheme = "https" if args.ssl_certfile else "http"
    # uvicorn shuts down gracefully on Ctrl-C or SIGTERM, then raises the signal
    # again: Ctrl-C as KeyboardInterrupt (a traceback) and SIGTERM with its
    # default action (death, skipping the lines below). Make both an interrupt,
    # and be ready for it before telling anyone the address.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        print(f"Chat server listening on {scheme}://{shown_host}:{port}  (Ctrl-C to stop)", flush=True)
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        chat.close()
    print("Chat server stopped.")
    return 0


def bench(args: argparse.Namespace) -> int:
    """Run the benchmark suite; write results.json and the charts into ``args.out``."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    from tqdm import tqdm

    from .lab.suite import SuiteConfig, run_suite_sync
    from .lab.plots import save_charts

    config = SuiteConfig.quick() if args.quick else SuiteConfig.full()
    out = Path(args.out)
    report = run_suite_sync(config, progress=tqdm)
    results = report.save(out / "results.json")
    charts = save_charts(report, out)
    machine = report.machine
    print(f"{len(report.measurements)} measurements in {report.seconds:.0f} s on {machine['cpu_count']} CPUs "
          f"(load {machine['load_average_1min']:.2f}), Python {machine['python']}.")
    print(f"Results: {results}; {len(charts)} charts: {out}/*.png")
    print(report.format_table())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat_lib", description="The Socket.IO chat of the notebook series.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the chat server")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve_parser.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 3000; 0 picks a free one)")
    serve_parser.add_argument("--store", default=":memory:",
                              help="SQLite file for the message log (default: in memory; with --redis-url, a Redis stream)")
    serve_parser.add_argument("--max-message-bytes", type=int, default=protocol.DEFAULT_MAX_MESSAGE_BYTES,
                              help="longest chat message, in UTF-8 bytes (default %(default)s)")
    serve_parser.add_argument("--max-payload-bytes", type=int, default=protocol.DEFAULT_MAX_PAYLOAD_BYTES,
                              help="largest polling POST or WebSocket frame; larger POSTs get 413 (default %(default)s)")
    serve_parser.add_argument("--cors-origin", action="append", help="allow a page from this origin (repeatable)")
    serve_parser.add_argument("--rate-limit", type=_rate_limit, default=ChatConfig.rate_limit, metavar="RATE/BURST",
                              help="events per second and burst per connection, or off (default 20/200)")
    serve_parser.add_argument("--rate-limit-per-address", type=_rate_limit, default=None, metavar="RATE/BURST",
                              help="the same, shared by all connections from one address (default off)")
    serve_parser.add_argument("--ping-interval", type=float, default=ChatConfig.ping_interval, metavar="SECONDS")
    serve_parser.add_argument("--ping-timeout", type=float, default=ChatConfig.ping_timeout, metavar="SECONDS")
    serve_parser.add_argument("--redis-url", help="join other server processes, on any machine, through this Redis; "
                              "without --store the message log lives there too (notebooks 07, 08)")
    serve_parser.add_argument("--transport", action="append", choices=["polling", "websocket"],
                              help="offer only this transport (repeatable; default both)")
    serve_parser.add_argument("--no-presence", action="store_true",
                              help="do not announce joins, leaves and the online list")
    serve_parser.add_argument("--allow-host", action="append", metavar="NAME",
                              help="accept this Host name too (repeatable; * for any); others get 421. "
                                   "Default: localhost and the bound address, any name when bound to 0.0.0.0")
    serve_parser.add_argument("--frame-ancestor", action="append", metavar="ORIGIN",
                              help="let a page from this origin show the chat in a frame (repeatable; "
                                   "default: JupyterLab on localhost)")
    serve_parser.add_argument("--max-sessions-per-address", type=_count_or_off, default=ChatConfig.max_sessions_per_address,
                              metavar="N", help="connections one client address may hold, or off (default %(default)s)")
    serve_parser.add_argument("--retain", type=_count_or_off, default=ChatConfig.retain_messages, metavar="N",
                              help="messages the log keeps, or off to keep all (default %(default)s)")
    serve_parser.add_argument("--ssl-certfile", help="serve https:// and wss:// with this certificate (PEM)")
    serve_parser.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    bench_parser = commands.add_parser("bench", help="measure long-polling against WebSocket (notebook 04)")
    bench_parser.add_argument("--quick", action="store_true", help="a tiny run (seconds) instead of the full suite")
    bench_parser.add_argument("--out", default="bench/results", help="folder for results.json and the charts")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return bench(args)
    if args.command == "serve":
        if args.port is None:
            args.port = _default_port()
        return serve(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
