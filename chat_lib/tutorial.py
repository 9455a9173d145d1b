"""The Node.js tutorial's chat server, in ten lines of Python (notebook 02).

The same lines as notebook 02 writes: a page, an ``AsyncServer``, connect and
disconnect, and ``'chat message'`` broadcast to everybody. Tests and
benchmarks use it as the plain python-socketio reference.
"""

from __future__ import annotations

from typing import Any

import socketio

from .server import STATIC_DIR

__all__ = ["create_tutorial_app"]


def create_tutorial_app(**server_options: Any) -> socketio.ASGIApp:
    """The tutorial's server as an ASGI app; ``server_options`` go to ``AsyncServer``.

    What the tutorial prints with ``console.log`` goes to the list
    ``app.server_log``; ``app.sio`` is the ``AsyncServer``.

    Example::

        BackgroundServer(create_tutorial_app()).start()
    """
    sio = socketio.AsyncServer(async_mode="asgi", **server_options)
    app = socketio.ASGIApp(sio, static_files={"/": str(STATIC_DIR / "index.html"), "/static": str(STATIC_DIR)})
    server_log = []  # what the tutorial prints with console.log

    @sio.event
    async def connect(sid, environ, auth=None):
        server_log.append("a user connected")

    @sio.event
    async def disconnect(sid, reason):
        server_log.append("user disconnected")

    @sio.on("chat message")
    async def chat_message(sid, msg):
        server_log.append(f"message: {msg}")
        await sio.emit("chat message", msg)  # no `to=`: everybody, the sender included

    app.sio, app.server_log = sio, server_log
    return app
