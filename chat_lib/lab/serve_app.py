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

import sys
from typing import Any

from ..background import serve_in_child

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


def main(argv: list[str]) -> None:
    if len(argv) < 3:
        sys.exit("usage: python -m chat_lib.lab.serve_app tutorial|chat HOST PORT [CONFIG_JSON]")
    kind, host, port = argv[:3]
    serve_in_child(host, port, lambda: build_app(kind, argv[3] if len(argv) > 3 else None))


if __name__ == "__main__":
    main(sys.argv[1:])
