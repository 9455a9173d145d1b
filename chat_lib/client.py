"""ChatClient: an asyncio client for the chat server.

It is what the notebooks, the widget, the benchmarks and the tests use. It
wraps python-socketio's ``AsyncClient`` and adds what a chat needs:

* a transport choice: ``"polling"``, ``"websocket"`` or ``"auto"`` (start on
  polling, upgrade to WebSocket, as browsers do);
* :meth:`ChatClient.send` gives each message an id and waits for the server's
  acknowledgement, retrying through reconnections, so a message is delivered
  once even if the connection drops (the server stores each id once);
* on every (re)connection it tells the server the last offset it has seen, and
  the server replays what it missed before live messages;
* received messages, notices, the online list and who is typing, kept on the
  client and announced to listeners (the widget is one);
* a quick :meth:`ChatClient.disconnect` on both transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import socketio

from . import protocol
from .errors import ChatConnectionError, MessageRejected

__all__ = ["ChatClient", "ChatMessage", "Transport", "quiet_unclosed_connections"]

logger = logging.getLogger("chat_lib.client")

Transport = Literal["auto", "polling", "websocket"]
Status = Literal["disconnected", "connecting", "connected", "reconnecting"]


@dataclass(frozen=True)
class ChatMessage:
    """A message as a client received it.

    ``offset`` is its place in the server's log (``None`` for a private message
    or a server that does not send one); ``private`` marks a private message.
    """

    text: str
    nickname: str | None = None
    offset: int | None = None
    message_id: str | None = None
    room: str | None = None
    sent_at: float | None = None
    private: bool = False
    recipient: str | None = None
    received_at: float = 0.0  #: ``time.perf_counter()`` when it arrived


Listener = Callable[[str, Any], None]


class ChatClient:
    """A chat client on the kernel's (or any) asyncio event loop.

    :param url: the server, e.g. ``"http://127.0.0.1:3000"``; or a list of
                servers of one group (notebook 07): reconnection attempts go
                round the list, so a client whose server died moves on.
    :param nickname: the name others see; the server picks one if ``None``.
    :param transport: ``"auto"`` (polling, then upgrade), ``"polling"`` or ``"websocket"``.
    :param reconnection: reconnect by itself, with backoff, when the connection drops.
    :param ack_timeout: seconds to wait for each acknowledgement before retrying.

    Example::

        async with ChatClient(server.url, nickname="ada") as ada:
            await ada.send("hello")
            message = await ada.wait_for_message()

    Introduced in notebook 02.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        nickname: str | None = None,
        transport: Transport = "auto",
        reconnection: bool = True,
        ack_timeout: float = 5.0,
    ) -> None:
        if transport not in ("auto", "polling", "websocket"):
            raise ValueError(f"transport must be 'auto', 'polling' or 'websocket', not {transport!r}.")
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("Give at least one server URL.")
        self.nickname = nickname
        self.requested_transport: Transport = transport
        self.ack_timeout = ack_timeout
        self.messages: list[ChatMessage] = []  #: every chat and private message received, in order
        self.notices: list[dict] = []  #: joins, leaves, nickname changes, errors without an ack
        self.online: list[str] = []  #: nicknames online, as the server last said
        self.typing: set[str] = set()  #: nicknames typing now
        self.last_offset: int | None = None  #: the newest public offset received
        self.status: Status = "disconnected"
        self.reconnects = 0  #: how many times the connection came back
        self._seen_offsets: set[int] = set()
        self._log_id: str | None = None  # which server log our offsets belong to
        self._closing = False  # disconnect() in progress: a drop now is not a failure
        self._listeners: list[Listener] = []
        self._new_message = asyncio.Condition()
        self._connected = asyncio.Event()
        self._welcomed = asyncio.Event()
        self._sio = _RotatingAsyncClient(
            self.urls,
            reconnection=reconnection, reconnection_delay=0.5, reconnection_delay_max=5, randomization_factor=0.5
        )
        self._register_handlers()

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

    def __repr__(self) -> str:
        return f"<ChatClient {self.nickname or '?'} {self.status} {self.transport or ''} {len(self.messages)} messages>"

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

    def _auth(self) -> dict:
        # Called on every (re)connection, so the server replays what we missed.
        # serverOffset None: a newcomer, who starts at the log's head.
        auth: dict[str, Any] = {"serverOffset": self.last_offset, "logId": self._log_id}
        if self.nickname is not None:
            auth["nickname"] = self.nickname
        return auth

    async def connect(self, timeout: float = 10.0, welcome_timeout: float = 1.0) -> ChatClient:
        """Connect, and wait until the server accepted and welcomed us; returns ``self``.

        The chat server's ``'welcome'`` (our nickname, the log's newest offset)
        follows the connection at once; a server that does not send one (the
        tutorial's plain server) costs ``welcome_timeout`` seconds here.
        Connecting a client that is connected, or reconnecting, does nothing
        (a notebook cell run twice must not break it).
        """
        if self._sio.connected or self.status == "reconnecting":
            return self
        transports = ["polling", "websocket"] if self.requested_transport == "auto" else [self.requested_transport]
        self._set_status("connecting")
        self._closing = False
        self._welcomed.clear()
        try:
            await self._sio.connect(
                self.urls[0], transports=transports, auth=self._auth, wait_timeout=timeout
            )
        except socketio.exceptions.ConnectionError as exc:
            self._set_status("disconnected")
            await self._sio.eio.disconnect(abort=True)  # closes the HTTP session a failed attempt leaves open
            hint = ""
            if self.requested_transport == "websocket":
                hint = " If a proxy blocks WebSocket, try transport='polling' or 'auto'."
            raise ChatConnectionError(f"Cannot connect to {self.url}: {exc}.{hint}") from exc
        try:
            await asyncio.wait_for(self._welcomed.wait(), welcome_timeout)
        except asyncio.TimeoutError:
            logger.info("%s sent no welcome: a plain Socket.IO chat server", self.url)
        return self

    async def disconnect(self) -> None:
        """Leave the chat; idempotent.

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

    async def __aenter__(self) -> ChatClient:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    # -- sending -----------------------------------------------------------------

    async def _call(self, event: str, data: Any, timeout: float | None, retry: bool = True) -> Any:
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
                # The connection dropped, or the ack got lost: send again. The
                # server knows the message id, so a retry is never stored twice.
                logger.info("no acknowledgement for %r yet; retrying", event)
                await asyncio.sleep(0.05)

    async def send(self, text: str, *, room: str | None = None, timeout: float | None = 30.0) -> dict:
        """Send a chat message and wait until the server has stored it.

        Messages sent while the connection is down wait for it to come back.
        :returns: the server's acknowledgement, ``{"ok": True, "offset": n, "id": ...}``.
        :raises MessageRejected: the server refused the message (the reason is the text).
        """
        data: dict[str, Any] = {"text": text, "id": uuid.uuid4().hex}
        if room is not None:
            data["room"] = room
        answer = await self._call(protocol.CHAT_MESSAGE, data, timeout)
        return _checked(answer)

    async def send_private(self, nickname: str, text: str, timeout: float | None = 10.0) -> dict:
        """Send a private message to everyone online under ``nickname``."""
        return _checked(await self._call(protocol.PRIVATE_MESSAGE, {"to": nickname, "text": text}, timeout, retry=False))

    async def set_nickname(self, nickname: str) -> str:
        """Change nickname; returns the name the server accepted."""
        answer = _checked(await self._call(protocol.NICKNAME, nickname, 10.0, retry=False))
        self.nickname = answer["nickname"]
        return self.nickname

    async def join(self, room: str) -> list[ChatMessage]:
        """Join a room; returns its recent messages."""
        answer = _checked(await self._call(protocol.JOIN, room, 10.0, retry=False))
        return [_from_record(record) for record in answer["history"]]

    async def leave(self, room: str) -> None:
        """Leave a room."""
        _checked(await self._call(protocol.LEAVE, room, 10.0, retry=False))

    async def history(self, count: int = 50) -> list[ChatMessage]:
        """The last ``count`` public messages in the server's log."""
        answer = _checked(await self._call(protocol.HISTORY, {"count": count}, 10.0))
        return [_from_record(record) for record in answer["messages"]]

    async def set_typing(self, typing: bool) -> None:
        """Tell the others whether we are typing."""
        if self._sio.connected:
            await self._sio.emit(protocol.TYPING, typing)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit any event (for experiments in notebook 03)."""
        await self._sio.emit(event, args[0] if len(args) == 1 else tuple(args))

    # -- receiving ---------------------------------------------------------------

    async def wait_for_message(
        self, predicate: Callable[[ChatMessage], bool] | None = None, *, after: int = 0, timeout: float = 5.0
    ) -> ChatMessage:
        """Return the first received message matching ``predicate``, waiting for it if needed.

        :param after: look only at ``messages[after:]``; pass ``len(client.messages)``
                      to wait for the next message to arrive.
        """
        start = after

        def match() -> ChatMessage | None:
            for message in self.messages[start:]:
                if predicate is None or predicate(message):
                    return message
            return None

        async with self._new_message:
            try:
                await asyncio.wait_for(self._new_message.wait_for(lambda: match() is not None), timeout)
            except asyncio.TimeoutError:
                raise ChatConnectionError(f"No matching message arrived within {timeout} s.") from None
        found = match()
        assert found is not None
        return found

    async def wait_for_count(self, count: int, timeout: float = 10.0) -> list[ChatMessage]:
        """Wait until ``count`` messages have been received in all; returns them."""
        async with self._new_message:
            try:
                await asyncio.wait_for(self._new_message.wait_for(lambda: len(self.messages) >= count), timeout)
            except asyncio.TimeoutError:
                raise ChatConnectionError(
                    f"Only {len(self.messages)} of {count} messages arrived within {timeout} s."
                ) from None
        return self.messages[:count]

    async def __aiter__(self) -> AsyncIterator[ChatMessage]:
        """Iterate over messages as they arrive (forever; break out of the loop)."""
        index = len(self.messages)
        while True:
            message = await self.wait_for_message(after=index, timeout=float("inf"))
            index = self.messages.index(message, index) + 1
            yield message

    async def _add_message(self, message: ChatMessage) -> None:
        self.messages.append(message)
        async with self._new_message:
            self._new_message.notify_all()
        self._announce("message", message)

    def _register_handlers(self) -> None:
        sio = self._sio

        @sio.event
        async def connect() -> None:
            if self.status == "reconnecting":
                self.reconnects += 1
            self._connected.set()
            self._set_status("connected")

        @sio.event
        async def disconnect(reason: Any = None) -> None:
            self._connected.clear()
            self.typing.clear()
            client_side = self._closing or reason == sio.reason.CLIENT_DISCONNECT
            # python-socketio reconnects only if Engine.IO still thought itself
            # connected (a lost connection), not when the server said goodbye.
            server_side = reason == sio.reason.SERVER_DISCONNECT
            will_retry = sio.reconnection and not (client_side or server_side) and sio.eio.state == "connected"
            self._set_status("reconnecting" if will_retry else "disconnected")

        @sio.on(protocol.CHAT_MESSAGE)
        async def chat_message(text: Any, offset: Any = None, meta: Any = None) -> None:
            meta = meta if isinstance(meta, dict) else {}
            if isinstance(offset, int):
                if offset in self._seen_offsets:
                    return  # a replay of something we already have
                self._seen_offsets.add(offset)
                if meta.get("room") is None:
                    self.last_offset = max(self.last_offset or 0, offset)
            await self._add_message(
                ChatMessage(
                    text=text,
                    nickname=meta.get("nickname"),
                    offset=offset if isinstance(offset, int) else None,
                    message_id=meta.get("message_id"),
                    room=meta.get("room"),
                    sent_at=meta.get("sent_at"),
                    received_at=time.perf_counter(),
                )
            )

        @sio.on(protocol.PRIVATE_MESSAGE)
        async def private_message(note: dict) -> None:
            await self._add_message(
                ChatMessage(
                    text=note.get("text", ""),
                    nickname=note.get("from"),
                    sent_at=note.get("sent_at"),
                    private=True,
                    recipient=note.get("to"),
                    received_at=time.perf_counter(),
                )
            )

        def notice(kind: str) -> Callable[[Any], None]:
            def handler(data: Any) -> None:
                entry = {"kind": kind, **(data if isinstance(data, dict) else {"data": data})}
                self.notices.append(entry)
                self._announce("notice", entry)

            return handler

        for event in (protocol.USER_JOINED, protocol.USER_LEFT, protocol.NICKNAME, protocol.JOIN, protocol.LEAVE,
                      protocol.CHAT_ERROR):
            sio.on(event, notice(event))

        @sio.on(protocol.WELCOME)
        def welcome(data: dict) -> None:
            self.nickname = data.get("nickname", self.nickname)
            if data.get("logId") != self._log_id:
                # A new log (first contact, or a server restarted without its
                # file): our offsets are meaningless there; start at its head.
                self._log_id = data.get("logId")
                self._seen_offsets.clear()
                self.last_offset = None
            if self.last_offset is None and isinstance(data.get("offset"), int):
                self.last_offset = data["offset"]
            self._welcomed.set()

        @sio.on(protocol.ONLINE)
        def online(names: list) -> None:
            self.online = list(names)
            self._announce("online", self.online)

        @sio.on(protocol.TYPING)
        def typing(data: dict) -> None:
            (self.typing.add if data.get("typing") else self.typing.discard)(data.get("nickname"))
            self._announce("typing", set(self.typing))


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


class _RotatingAsyncClient(socketio.AsyncClient):
    """An AsyncClient whose reconnection attempts go round a list of servers."""

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


def _checked(answer: Any) -> dict:
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error") if isinstance(answer, dict) else f"unexpected answer {answer!r}"
        raise MessageRejected(error)
    return answer


def _from_record(record: dict) -> ChatMessage:
    return ChatMessage(
        text=record["text"],
        nickname=record["nickname"],
        offset=record["offset"],
        message_id=record["message_id"],
        room=record["room"],
        sent_at=record["sent_at"],
    )
