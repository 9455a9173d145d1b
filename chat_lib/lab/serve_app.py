"""Serve one of the side-by-side benchmark's Python apps in a process of its own.

``python -m chat_lib.lab.serve_app tutorial HOST PORT`` serves the tutorial's
ten-line python-socketio server (:func:`chat_lib.tutorial.create_tutorial_app`);
``python -m chat_lib.lab.serve_app chat HOST PORT CONFIG_JSON`` a
:class:`~chat_lib.server.ChatServer` built from a
:class:`~chat_lib.config.ChatConfig`. Both run on the same uvicorn settings as
:class:`~chat_lib.background.BackgroundServer` (a socket bound with
``IPPROTO_TCP``, no permessage-deflate, a one-second graceful shutdown), print
``PORT n`` once they accept connections, and exit on SIGTERM or as soon as
their stdin closes: the parent holds the other end, a lifeline.

:mod:`chat_lib.lab.compare_servers` starts them; :mod:`chat_lib._child` is the
same for process-mode chat servers, which is why the tutorial app needs this one.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from ..background import _uvicorn_server, bind_socket
from ..errors import ServerStartError

__all__ = ["APPS", "build_app", "main"]

#: What this runner serves.
APPS = ("tutorial", "chat")


def build_app(kind: str, config_json: str | None = None) -> tuple[Any, Any]:
    """The ASGI app of ``kind`` and what must be closed after it (``None`` for the tutorial)."""
    if kind == "tutorial":
        from ..tutorial import create_tutorial_app

        return create_tutorial_app(), None
    if kind == "chat":
        from ..config import ChatConfig
        from ..server import ChatServer

        chat = ChatServer(ChatConfig.from_json(config_json or "{}"))
        return chat.app, chat
    raise ValueError(f"Serve one of {', '.join(APPS)}, not {kind!r}.")


def _exit_when_parent_dies() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit("usage: python -m chat_lib.lab.serve_app tutorial|chat HOST PORT [CONFIG_JSON]")
    kind, host, port = argv[:3]
    app, closing = build_app(kind, argv[3] if len(argv) > 3 else None)
    try:
        sock = bind_socket(host, int(port))
    except ServerStartError as exc:
        sys.exit(str(exc))
    server = _uvicorn_server(app)
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()
    original_startup = server.startup

    async def startup(sockets=None):
        await original_startup(sockets=sockets)
        print(f"PORT {sock.getsockname()[1]}", flush=True)

    server.startup = startup
    try:
        server.run(sockets=[sock])
    finally:
        if closing is not None:
            closing.close()  # the chat's log file


if __name__ == "__main__":
    main(sys.argv[1:])
