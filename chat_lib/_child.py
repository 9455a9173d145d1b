"""Entry point of a process-mode :class:`~chat_lib.background.BackgroundServer`.

``python -m chat_lib._child HOST PORT``, with a :class:`~chat_lib.config.ChatConfig` as
JSON on the first line of stdin (not on the command line, which any local user can
read: a ``redis_url`` may carry a password), binds, prints ``PORT n`` once it is
ready to accept, and serves until SIGTERM, or until its stdin
closes: the parent holds the other end, so when the parent dies, however it
dies, this process follows (:func:`~chat_lib.background.serve_in_child`).
"""

from __future__ import annotations

import sys

from .background import serve_in_child
from .config import ChatConfig
from .server import ChatServer


def main(host: str, port: str) -> None:
    config = ChatConfig.from_json(sys.stdin.readline())

    def build() -> tuple[object, ChatServer]:
        chat = ChatServer(config)
        return chat.app, chat

    serve_in_child(host, port, build)


if __name__ == "__main__":
    main(*sys.argv[1:3])
