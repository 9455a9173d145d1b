"""Entry point of a process-mode :class:`~chat_lib.background.BackgroundServer`.

``python -m chat_lib._child HOST PORT``, with a :class:`~chat_lib.config.ChatConfig` as
JSON on the first line of stdin (not on the command line, which any local user can
read: a ``redis_url`` may carry a password), binds, prints ``PORT n`` once it is
ready to accept, and serves until SIGTERM, or until its stdin
closes: the parent holds the other end, so when the parent dies, however it
dies, this process follows.
"""

from __future__ import annotations

import os
import sys
import threading

from .background import _uvicorn_server, bind_socket
from .config import ChatConfig
from .errors import ServerStartError
from .server import ChatServer


def _exit_when_parent_dies() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


def main(host: str, port: str) -> None:
    config = ChatConfig.from_json(sys.stdin.readline())
    try:
        sock = bind_socket(host, int(port))
    except ServerStartError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    chat = ChatServer(config)
    server = _uvicorn_server(chat.app, host)
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()

    # uvicorn calls startup() before serving; announce the port once it is listening.
    original_startup = server.startup

    async def startup(sockets=None):
        await original_startup(sockets=sockets)
        print(f"PORT {sock.getsockname()[1]}", flush=True)

    server.startup = startup
    try:
        server.run(sockets=[sock])
    finally:
        chat.close()  # the log file


if __name__ == "__main__":
    main(*sys.argv[1:3])
