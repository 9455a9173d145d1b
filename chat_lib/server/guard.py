"""The HTTP in front of Socket.IO: clear 4xx answers where python-engineio would fail."""

from __future__ import annotations

from typing import Any

__all__ = ["HttpGuard"]


class HttpGuard:
    """ASGI middleware: clear 4xx answers where python-engineio would fail.

    * A long-polling POST must be UTF-8 text, else 400: Engine.IO 4 sends
      polling payloads as text (binary goes base64), and python-engineio
      answers a body that is not UTF-8 with an internal error and a 200.
    * A WebSocket anywhere but ``/socket.io/`` is refused with 403: python-
      engineio would answer it with a plain HTTP response, which uvicorn
      turns into a 500.
    * A long-polling POST larger than ``max_body_bytes`` gets 413: python-
      engineio would answer it 200 and drop every message in it.
    """

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not scope["path"].startswith("/socket.io"):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn answers 403
            return
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/socket.io"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _plain_response(send, 413, "Polling payload too large.")
                return
            if not message.get("more_body"):
                break
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await _plain_response(send, 400, "Polling payloads must be UTF-8 text.")
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _plain_response(send: Any, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


