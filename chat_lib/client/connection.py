"""Connection: a Socket.IO connection that knows its status, comes back by itself, and calls with acknowledgements.

:class:`~chat_lib.client.ChatClient` is a :class:`Connection` plus the chat.
Underneath is python-socketio's ``AsyncClient`` (:class:`RotatingAsyncClient`,
which goes round a list of servers when it reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import aiohttp
import socketio

from .. import protocol
from ..errors import ChatConnectionError
from ..overrides import ChatSocketClient, allow_polling_payloads

__all__ = ["Connection", "Listener", "RotatingAsyncClient", "Status", "Transport", "quiet_unclosed_connections"]

logger = logging.getLogger("chat_lib.client")

Transport = Literal["auto", "polling", "websocket"]
Status = Literal["disconnected", "connecting", "connected", "reconnecting"]
Listener = Callable[[str, Any], None]


class Connection:
    """A Socket.IO connection with a status, reconnection, and calls that wait through outages.

    :param url: the server, or a list of servers of one group: reconnection
                attempts go round the list.
    :param transport: ``"auto"`` (polling, then upgrade), ``"polling"`` or ``"websocket"``.
    :param reconnection: reconnect by itself, with backoff, when the connection drops.
    :param ack_timeout: seconds to wait for each acknowledgement before retrying.
    """

    def __init__(
        self, url: str | Sequence[str], *, transport: Transport = "auto", reconnection: bool = True,
        ack_timeout: float = 5.0,
    ) -> None:
        if transport not in ("auto", "polling", "websocket"):
            raise ValueError(f"transport must be 'auto', 'polling' or 'websocket', not {transport!r}.")
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("Give at least one server URL.")
        # The server may answer a long-poll with a burst of up to its payload
        # limit; python-engineio would drop more than 16 packets of it.
        allow_polling_payloads(protocol.DEFAULT_MAX_PAYLOAD_BYTES)
        self.requested_transport: Transport = transport
        self.ack_timeout = ack_timeout
        self.status: Status = "disconnected"
        self.reconnects = 0  #: how many times the connection came back
        self._closing = False  # disconnect() in progress: a drop now is not a failure
        self._listeners: list[Listener] = []
        self._connected = asyncio.Event()
        self._sio = RotatingAsyncClient(
            self.urls,
            reconnection=reconnection, reconnection_delay=0.5, reconnection_delay_max=5, randomization_factor=0.5
        )
        self._sio.on("connect", self._on_connect)
        self._sio.on("disconnect", self._on_disconnect)

    # -- state -----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server this client is (or was last) connected to."""
        return self._sio.connection_url or self.urls[0]

    @property
    def connected(self) -> bool:
        return self._sio.connected

    @property
    def sid(self) -> str | None:
        """This connection's Socket.IO id."""
        return self._sio.get_sid()

    @property
    def transport(self) -> str | None:
        """The transport in use now: ``"polling"`` or ``"websocket"``."""
        eio = self._sio.eio
        # The Engine.IO layer knows first: the Socket.IO client marks itself
        # connected only after our connect handler has run.
        return eio.current_transport if eio.state == "connected" else None

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(kind, data)`` on every change; kinds: ``"message"``,
        ``"notice"``, ``"online"``, ``"typing"``, ``"status"``."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``; nothing happens if it was not added."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _announce(self, kind: str, data: Any) -> None:
        for listener in self._listeners:
            try:
                listener(kind, data)
            except Exception:  # a broken listener must not break the connection
                logger.exception("chat listener failed on %s", kind)

    def _set_status(self, status: Status) -> None:
        if status != self.status:
            self.status = status
            self._announce("status", status)

    # -- connecting --------------------------------------------------------------

    def _auth(self) -> dict | None:
        """The Socket.IO ``auth`` object, asked for on every (re)connection."""
        return None

    async def connect(self, timeout: float = 10.0) -> Connection:
        """Connect; returns ``self``. Connecting while connected or reconnecting does nothing."""
        if self._sio.connected or self.status == "reconnecting":
            return self
        transports = ["polling", "websocket"] if self.requested_transport == "auto" else [self.requested_transport]
        self._set_status("connecting")
        self._closing = False
        try:
            await self._sio.connect(self.urls[0], transports=transports, auth=self._auth, wait_timeout=timeout)
        except socketio.exceptions.ConnectionError as exc:
            self._set_status("disconnected")
            await self._sio.eio.disconnect(abort=True)  # closes the HTTP session a failed attempt leaves open
            hint = ""
            if self.requested_transport == "websocket":
                hint = " If a proxy blocks WebSocket, try transport='polling' or 'auto'."
            raise ChatConnectionError(f"Cannot connect to {self.url}: {exc}.{hint}") from exc
        return self

    async def disconnect(self) -> None:
        """Leave; idempotent.

        On polling, python-socketio waits for the pending long-poll to return;
        the chat server releases it at once, but against a plain
        python-socketio server this takes up to its ping interval (25 s).
        """
        self._closing = True
        if self._sio.connected:
            try:
                await self._sio.disconnect()
            except (aiohttp.ClientError, OSError) as exc:
                # The connection broke while we said goodbye (a server dying
                # as we leave): we are gone either way; drop what is left.
                logger.info("connection broke during disconnect: %s", exc)
                await self._sio.eio.disconnect(abort=True)
        else:
            await self._sio.shutdown()  # stops a reconnection loop, if one runs
            # A loop stopped between attempts leaves its HTTP session open (aiohttp
            # then warns "Unclosed client session"); this closes it.
            await self._sio.eio.disconnect(abort=True)
        self._set_status("disconnected")

    async def _on_connect(self) -> None:
        if self.status == "reconnecting":
            self.reconnects += 1
        self._connected.set()
        self._set_status("connected")

    async def _on_disconnect(self, reason: Any = None) -> None:
        sio = self._sio
        self._connected.clear()
        client_side = self._closing or reason == sio.reason.CLIENT_DISCONNECT
        # python-socketio reconnects only if Engine.IO still thought itself
        # connected (a lost connection), not when the server said goodbye.
        server_side = reason == sio.reason.SERVER_DISCONNECT
        will_retry = sio.reconnection and not (client_side or server_side) and sio.eio.state == "connected"
        self._set_status("reconnecting" if will_retry else "disconnected")

    # -- calling -----------------------------------------------------------------

    async def call(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Emit ``event`` with ``args`` and return the server's acknowledgement, as it came.

        One attempt, and the answer is not checked: for experiments (notebook
        03) and tests; the chat's own methods retry and check. A refusal that
        a retry may cure (the rate limit) is not acknowledged (see
        :mod:`chat_lib.protocol`): it ends in the timeout.

        :param timeout: seconds to wait for the answer; ``ack_timeout`` by default.
        :raises ChatConnectionError: not connected, or no answer within ``timeout``.
        """
        timeout = self.ack_timeout if timeout is None else timeout
        if not self._sio.connected:
            raise ChatConnectionError(f"Not connected to {self.url}; call connect() first.")
        try:
            return await self._sio.call(event, _socketio_data(args), timeout=timeout)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            raise ChatConnectionError(f"No answer from {self.url} for {event!r} within {timeout} s.") from None

    async def emit(self, event: str, *args: Any) -> None:
        """Emit any event, without waiting for an answer (for experiments in notebook 03)."""
        await self._sio.emit(event, _socketio_data(args))

    async def _request(self, event: str, data: Any, timeout: float | None, retry: bool = True) -> Any:
        """Emit with an ack, retrying through reconnections until ``timeout``.

        Only what the server de-duplicates (chat messages, by id) may be sent
        twice; other events (``retry=False``) get one attempt once connected.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.status == "disconnected":
                raise ChatConnectionError(f"Not connected to {self.url}; call connect() first.")
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                # While reconnecting, wait for the connection to come back.
                await asyncio.wait_for(self._connected.wait(), remaining)
                return await self._sio.call(event, data, timeout=min(self.ack_timeout, remaining or self.ack_timeout))
            except asyncio.TimeoutError:
                raise ChatConnectionError(f"No answer from {self.url} for {event!r} within {timeout} s.") from None
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                if not retry:
                    raise ChatConnectionError(
                        f"No answer from {self.url} for {event!r}: the connection dropped or the server is busy."
                    ) from None
                # The connection dropped, the ack got lost, or the rate limit
                # held it back: send again. The server knows the message id,
                # so a retry is never stored twice.
                logger.info("no acknowledgement for %r yet; retrying", event)
                await asyncio.sleep(0.05)


def _socketio_data(args: tuple) -> Any:
    # python-socketio sends a tuple as several arguments, anything else as one.
    return args[0] if len(args) == 1 else tuple(args)


class RotatingAsyncClient(ChatSocketClient):
    """An ``AsyncClient`` whose reconnection attempts go round a list of servers (notebook 07)."""

    def __init__(self, urls: list[str], **options: Any) -> None:
        super().__init__(**options)
        self.chat_urls = urls
        self._url_index = 0

    async def connect(self, url: str, *args: Any, **kwargs: Any) -> None:
        if self._reconnect_task is not None and len(self.chat_urls) > 1:
            # Called from python-socketio's reconnection loop: try the next server.
            self._url_index = (self._url_index + 1) % len(self.chat_urls)
            url = self.chat_urls[self._url_index]
        await super().connect(url, *args, **kwargs)


class _DropUnclosedReports(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Unclosed connection", "Unclosed response"))


@contextlib.contextmanager
def quiet_unclosed_connections() -> Iterator[None]:
    """Silence aiohttp's "Unclosed connection/response" reports for a while.

    python-engineio's client never reads the body of its polling POST answers,
    and connections a crash cuts are never closed by their owner: aiohttp
    reports each when it is collected, into whatever notebook cell runs then.
    Harmless, and noisy when a benchmark or a drill makes hundreds of them on
    purpose; only those messages, and only inside the block, are dropped.
    """
    quiet = _DropUnclosedReports()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addFilter(quiet)
    try:
        yield
    finally:
        asyncio_logger.removeFilter(quiet)
