"""The HTTP in front of Socket.IO: clear 4xx answers where python-engineio would fail, and the page's headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

__all__ = ["HttpGuard", "LOOPBACK_HOSTS", "content_security_policy"]

logger = logging.getLogger("chat_lib.server.guard")

#: Host names that always reach a server on this machine, and only it.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Addresses that bind every interface.
_ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})
#: Seconds a long-polling POST may take to arrive whole.
BODY_TIMEOUT_SECONDS = 30


class HttpGuard:
    """ASGI middleware: clear 4xx answers where python-engineio would fail, and the page's headers.

    * The ``Host`` header must name this machine's loopback (``localhost``,
      ``127.0.0.1``, ``[::1]``), the bound address, or a name in
      ``allowed_hosts``; anything else gets 421, HTTP and WebSocket alike.
      Without this, a foreign page whose name resolves to 127.0.0.1 (DNS
      rebinding) is same-origin with the chat, reads it and posts to it. With
      ``allowed_hosts=None`` (the default) a server bound to every interface
      (``0.0.0.0``) or to another non-loopback address accepts any name: it
      serves a network whose names it cannot know (a reverse proxy, a LAN).
      So does a server under JupyterHub, whose proxy forwards the browser's
      Host (the hub's name) and whose users' browsers are not on this machine.
      ``"*"`` in ``allowed_hosts`` accepts any name, always.
    * A long-polling POST must be UTF-8 text, else 400: Engine.IO 4 sends
      polling payloads as text (binary goes base64), and python-engineio
      answers a body that is not UTF-8 with an internal error and a 200.
    * A long-polling POST larger than ``max_body_bytes`` gets 413: python-
      engineio would answer it 200 and drop every message in it. One that
      takes more than 30 s to arrive gets 408.
    * JSONP polling (``j=`` in the query) gets 400: the page never uses it,
      and a script tag is how another site would read the chat.
    * A WebSocket anywhere but ``/socket.io/`` is refused with 403: python-
      engineio would answer it with a plain HTTP response, which uvicorn
      turns into a 500.
    * Other paths than ``/``, ``/socket.io/`` and the files in ``static_dir``
      get 404 (python-engineio answers a folder or ``*`` with a 500).
    * Every answer says ``X-Content-Type-Options: nosniff``; the page gets a
      Content-Security-Policy (:func:`content_security_policy`).

    :param app: the python-socketio ASGI app.
    :param max_body_bytes: the largest polling POST (and WebSocket message).
    :param allowed_hosts: further Host names, or ``None`` (see above).
    :param frame_ancestors: origins besides the page's own that may frame it.
    :param static_dir: the folder served under ``/static/``; its
                       ``index.html`` is the page at ``/``.

    :attr:`bound_host` is the address the server listens on;
    :func:`chat_lib.background._uvicorn_server` sets it (default loopback).
    """

    def __init__(
        self,
        app: Any,
        max_body_bytes: int,
        *,
        allowed_hosts: tuple[str, ...] | None = None,
        frame_ancestors: tuple[str, ...] = (),
        static_dir: str | Path | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = None if allowed_hosts is None else frozenset(_host_name(h) for h in allowed_hosts)
        self.bound_host = "127.0.0.1"
        self.static_dir = Path(static_dir).resolve() if static_dir is not None else None
        self._under_jupyterhub = bool(os.environ.get("JUPYTERHUB_SERVICE_PREFIX"))
        page = self.static_dir / "index.html" if self.static_dir is not None else None
        policy = content_security_policy(page.read_text("utf-8") if page and page.exists() else "", frame_ancestors)
        self._page_headers = [(b"content-security-policy", policy.encode())]

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request with this ``Host`` header is for us (see the class docstring)."""
        if host is None:
            return True  # HTTP/1.0: no browser sends a request without a Host
        name = _host_name(host)
        if name in LOOPBACK_HOSTS or name == _host_name(self.bound_host):
            return True
        if self.allowed_hosts is not None:
            return name in self.allowed_hosts or "*" in self.allowed_hosts
        return self._under_jupyterhub or not _is_loopback(self.bound_host)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        path = scope["path"]
        if not self.host_allowed(_header(scope, b"host")):
            logger.info("refused Host %r", _header(scope, b"host"))
            await _refuse(scope, receive, send, 421, "This server does not answer to that host name.")
            return
        if scope["type"] == "websocket":
            if not path.startswith("/socket.io"):
                await receive()  # websocket.connect
                await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn answers 403
                return
            await self.app(scope, receive, send)
            return
        send = _with_headers(send, self._page_headers if path == "/" else [])
        if not path.startswith("/socket.io"):
            if path != "/" and not self._is_static_file(path):
                await _plain_response(send, 404, "Not found.")
                return
            await self.app(scope, receive, send)
            return
        if "j" in parse_qs(scope.get("query_string", b"").decode("latin-1")):
            await _plain_response(send, 400, "JSONP polling is not supported.")
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
                body = await self._read_body(receive)
        except TimeoutError:
            await _plain_response(send, 408, "The request body took too long to arrive.")
            return
        if body is None:
            return  # the client left
        if len(body) > self.max_body_bytes:
            await _plain_response(send, 413, "Polling payload too large.")
            return
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

    async def _read_body(self, receive: Any) -> bytes | None:
        """The whole body, or ``None`` if the client left; stops early past the limit."""
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes or not message.get("more_body"):
                return body

    def _is_static_file(self, path: str) -> bool:
        if self.static_dir is None or not path.startswith("/static/"):
            return False
        target = (self.static_dir / unquote(path[len("/static/"):])).resolve()
        return target.is_relative_to(self.static_dir) and target.is_file()


def content_security_policy(page: str, frame_ancestors: tuple[str, ...] = ()) -> str:
    """The page's Content-Security-Policy: its own origin only, plus the hashes of its inline code.

    The first inline script of ``index.html`` must stay inline (it fixes the
    page's address before any relative URL is read), so each inline
    ``<script>`` and ``<style>`` is allowed by its SHA-256, computed from the
    page as it is now. ``frame-ancestors`` lets the page's own origin and
    ``frame_ancestors`` show it in a frame (JupyterLab, notebook 05).
    """
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page, re.S)
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page, re.S)

    def hashes(blocks: list[str]) -> str:
        return "".join(
            f" 'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'" for block in blocks
        )

    ancestors = " ".join(("'self'", *frame_ancestors))
    return (
        "default-src 'self'; "
        f"script-src 'self'{hashes(scripts)}; "
        f"style-src 'self'{hashes(styles)}; "
        "img-src 'self' data:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _host_name(host: str) -> str:
    """``Host`` header or address to a bare name: no port, lower case, no final dot; IPv6 in brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    if host.count(":") > 1:  # a bare IPv6 address (a bound host)
        return f"[{host}]"
    return host.rsplit(":", 1)[0].rstrip(".")


def _is_loopback(address: str) -> bool:
    name = _host_name(address)
    if name in _ANY_ADDRESS:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: whatever it is, it is not only this machine


def _with_headers(send: Any, extra: list[tuple[bytes, bytes]]) -> Any:
    async def send_with_headers(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"x-content-type-options", b"nosniff"), *extra]}
        await send(message)

    return send_with_headers


async def _refuse(scope: dict, receive: Any, send: Any, status: int, text: str) -> None:
    """An HTTP answer to an HTTP request or to a WebSocket handshake (where the server lets us)."""
    if scope["type"] == "http":
        await _plain_response(_with_headers(send, []), status, text)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        headers = [(b"content-type", b"text/plain"), (b"x-content-type-options", b"nosniff")]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": text.encode()})
    else:
        await send({"type": "websocket.close", "code": 1008})  # 403


async def _plain_response(send: Any, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})
