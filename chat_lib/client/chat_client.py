"""ChatClient: connect on a chosen transport, send with acknowledgement, receive, catch up (notebook 02)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from .. import protocol
from ..errors import ChatConnectionError, MessageRejected
from .connection import Connection, Transport
from .inbox import Inbox
from .message import ChatMessage, message_from_record

__all__ = ["ChatClient"]

logger = logging.getLogger("chat_lib.client")


class ChatClient(Connection):
    """A chat client on the kernel's (or any) asyncio event loop.

    A :class:`~chat_lib.client.connection.Connection` (status, reconnection,
    :meth:`call`) that speaks the chat: it sends with ids and retries, and
    keeps what it received in its :attr:`inbox` (also readable here:
    :attr:`messages`, :attr:`notices`, :attr:`online`, :attr:`typing`,
    :attr:`last_offset`).

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
        super().__init__(url, transport=transport, reconnection=reconnection, ack_timeout=ack_timeout)
        self.nickname = nickname
        self.inbox = Inbox(self._announce)  #: what this client received
        self._token = secrets.token_urlsafe(24)  # in memory only: this client object is the person
        self.inbox.listen_to(self._sio)
        self._welcomed = asyncio.Event()
        self._sio.on(protocol.WELCOME, self._on_welcome)
        self._sio.on(protocol.HEAD, self._on_head)
        self._filling_gap = False

    # -- what it received (the inbox) -------------------------------------------------

    messages = property(lambda self: self.inbox.messages, doc="Every chat and private message received, in order.")
    notices = property(lambda self: self.inbox.notices, doc="Joins, leaves, nickname changes, errors without an ack.")
    online = property(lambda self: self.inbox.online, doc="Nicknames online, as the server last said.")
    typing = property(lambda self: self.inbox.typing, doc="Nicknames typing now.")

    @property
    def last_offset(self) -> int | None:
        """The newest public offset received: catch-up on reconnection starts after it."""
        return self.inbox.last_offset

    @last_offset.setter
    def last_offset(self, offset: int | None) -> None:
        self.inbox.last_offset = offset

    def __repr__(self) -> str:
        return f"<ChatClient {self.nickname or '?'} {self.status} {self.transport or ''} {len(self.messages)} messages>"

    async def wait_for_message(
        self, predicate: Callable[[ChatMessage], bool] | None = None, *, after: int = 0, timeout: float = 5.0
    ) -> ChatMessage:
        """Return the first received message matching ``predicate``, waiting for it if needed.

        :param after: look only at ``messages[after:]``; pass ``len(client.messages)``
                      to wait for the next message to arrive.
        """
        return await self.inbox.wait_for_message(predicate, after=after, timeout=timeout)

    async def wait_for_count(self, count: int, timeout: float = 10.0) -> list[ChatMessage]:
        """Wait until ``count`` messages have been received in all; returns them."""
        return await self.inbox.wait_for_count(count, timeout)

    def __aiter__(self) -> AsyncIterator[ChatMessage]:
        """Iterate over messages as they arrive (forever; break out of the loop)."""
        return self.inbox.__aiter__()

    # -- connecting --------------------------------------------------------------

    def _auth(self) -> dict:
        # Called on every (re)connection, so the server replays what we missed.
        # serverOffset None: a newcomer, who starts at the log's head.
        # The token proves we are the same person after a reconnection: the server
        # gives our nickname, rooms and rate limit back to it, and to nobody else.
        auth: dict[str, Any] = {"serverOffset": self.inbox.last_offset, "logId": self.inbox.log_id, "token": self._token}
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
        self._welcomed.clear()
        await super().connect(timeout)
        try:
            await asyncio.wait_for(self._welcomed.wait(), welcome_timeout)
        except asyncio.TimeoutError:
            logger.info("%s sent no welcome: a plain Socket.IO chat server", self.url)
        return self

    async def __aenter__(self) -> ChatClient:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.inbox.typing.clear()  # nobody is typing to a client that cannot hear
        await super()._on_disconnect(reason)

    def _on_welcome(self, data: dict) -> None:
        self.nickname = data.get("nickname", self.nickname)
        self.inbox.start_log(data.get("logId"), data.get("offset"))
        self._welcomed.set()

    async def _on_head(self, head: Any) -> None:
        """The log may hold public messages we never received (broadcasts Redis pub/sub dropped): fetch them.

        Gaps below our newest offset count too: while both servers' people talk,
        each client keeps receiving its own server's messages past the holes.
        """
        if self._filling_gap or not isinstance(head, dict) or head.get("logId") != self.inbox.log_id:
            return
        if not isinstance(head.get("offset"), int):
            return
        self._filling_gap = True
        try:
            missing = self.inbox.missing(head["offset"])
            while missing:
                # Ask for exactly the holes: a message to a room we are not in leaves
                # one too, and re-reading every public message after it would be waste.
                asked = missing[: protocol.MAX_HISTORY]
                answer = await self.call(protocol.HISTORY, {"offsets": asked})
                if not isinstance(answer, dict) or not answer.get("ok") or head["logId"] != self.inbox.log_id:
                    return  # the log is unavailable, or another one now; the next head will tell us again
                records = answer.get("messages") or []
                for record in records:
                    await self.inbox.on_chat_message(record["text"], record["offset"], record, from_log=True)
                if answer.get("more") and records:  # a size budget cut the answer short: the rest comes next
                    asked = [offset for offset in asked if offset <= records[-1]["offset"]]
                self.inbox.mark_checked(asked[-1])  # settled, even if a later request fails
                missing = missing[len(asked) :]
            self.inbox.mark_checked(head["offset"])
        except ChatConnectionError:
            pass  # the next head will tell us again
        finally:
            self._filling_gap = False

    # -- sending -----------------------------------------------------------------

    async def send(self, text: str, *, room: str | None = None, timeout: float | None = 30.0) -> dict:
        """Send a chat message and wait until the server has stored it.

        Messages sent while the connection is down wait for it to come back.
        :returns: the server's acknowledgement, ``{"ok": True, "offset": n, "id": ...}``.
        :raises MessageRejected: the server refused the message (the reason is the text).
        """
        # Time first, then chance: unique, and in the order sent, which keeps the
        # server's index of ids growing at its end (a random id costs it twice).
        data: dict[str, Any] = {"text": text, "id": f"{time.time_ns():x}-{secrets.token_hex(8)}"}
        if room is not None:
            data["room"] = room
        return _checked(await self._request(protocol.CHAT_MESSAGE, data, timeout))

    async def send_private(self, nickname: str, text: str, timeout: float | None = 10.0) -> dict:
        """Send a private message to everyone online under ``nickname``."""
        data = {"to": nickname, "text": text}
        return _checked(await self._request(protocol.PRIVATE_MESSAGE, data, timeout, retry=False))

    async def set_nickname(self, nickname: str) -> str:
        """Change nickname; returns the name the server accepted."""
        answer = _checked(await self._request(protocol.NICKNAME, nickname, 10.0, retry=False))
        self.nickname = answer["nickname"]
        return self.nickname

    async def join(self, room: str) -> list[ChatMessage]:
        """Join a room; returns its recent messages."""
        answer = _checked(await self._request(protocol.JOIN, room, 10.0, retry=False))
        return [message_from_record(record) for record in answer["history"]]

    async def leave(self, room: str) -> None:
        """Leave a room."""
        _checked(await self._request(protocol.LEAVE, room, 10.0, retry=False))

    async def history(self, count: int = 50) -> list[ChatMessage]:
        """The last ``count`` public messages in the server's log."""
        answer = _checked(await self._request(protocol.HISTORY, {"count": count}, 10.0))
        return [message_from_record(record) for record in answer["messages"]]

    async def set_typing(self, typing: bool) -> None:
        """Tell the others whether we are typing."""
        if self._sio.connected:
            await self._sio.emit(protocol.TYPING, typing)


def _checked(answer: Any) -> dict:
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error") if isinstance(answer, dict) else f"unexpected answer {answer!r}"
        raise MessageRejected(error)
    return answer
