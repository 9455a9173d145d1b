"""Inbox: what a chat client has received, and the waits on it.

The server's events land here: chat and private messages (each public one
once, however often catch-up replays it), notices, who is online and who is
typing, and where the client stands in the server's log. Each change is
announced to the client's listeners.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio

from .. import protocol
from ..errors import ChatConnectionError
from .connection import Listener
from .message import ChatMessage

__all__ = ["Inbox"]

logger = logging.getLogger("chat_lib.client")


class Inbox:
    """What a client has received: messages, notices, who is online and typing, its log offset.

    :param announce: called as ``announce(kind, data)`` on every change.
    """

    def __init__(self, announce: Listener) -> None:
        self._announce = announce
        self.messages: list[ChatMessage] = []  #: every chat and private message received, in order
        self.notices: list[dict] = []  #: joins, leaves, nickname changes, errors without an ack
        self.online: list[str] = []  #: nicknames online, as the server last said
        self.typing: set[str] = set()  #: nicknames typing now
        self.last_offset: int | None = None  #: the newest public offset received
        self.log_id: str | None = None  #: which server log the offsets belong to
        self._seen_offsets: set[int] = set()
        # Every public message up to this offset was received, or looked up in the log.
        self._checked_through: int | None = None
        self._new_message = asyncio.Condition()

    def listen_to(self, sio: socketio.AsyncClient) -> None:
        """Register the handlers of the server's events (all but ``'welcome'``, connect and disconnect)."""
        sio.on(protocol.CHAT_MESSAGE, self.on_chat_message)
        sio.on(protocol.PRIVATE_MESSAGE, self.on_private_message)
        for event in (protocol.JOIN, protocol.LEAVE, protocol.CHAT_ERROR):
            sio.on(event, self._notice_handler(event))
        sio.on(protocol.ONLINE, self.on_online)
        sio.on(protocol.PRESENCE, self.on_presence)
        sio.on(protocol.TYPING, self.on_typing)

    # -- the log -------------------------------------------------------------------

    def start_log(self, log_id: str | None, head_offset: Any) -> None:
        """The server's welcome: which log it keeps, and its newest offset."""
        if log_id != self.log_id:
            # A new log (first contact, or a server restarted without its
            # file): our offsets are meaningless there; start at its head.
            self.log_id = log_id
            self._seen_offsets.clear()
            self.last_offset = self._checked_through = None
        if self.last_offset is None and isinstance(head_offset, int):
            self.last_offset = self._checked_through = head_offset

    def missing(self, head: int) -> list[int]:
        """The offsets up to ``head`` that this client neither received nor looked up, oldest first.

        A hole may be a broadcast that Redis pub/sub dropped, below newer
        messages that did arrive, or a message to a room this client is not
        in: which, only the log can tell (``history`` answers with public
        messages only).
        """
        checked = self._checked_through or 0
        holes = [offset for offset in range(checked + 1, head + 1) if offset not in self._seen_offsets]
        if not holes:
            self.mark_checked(head)
        return holes

    def mark_checked(self, offset: int) -> None:
        """Every public message up to ``offset`` is here: the log was read that far."""
        self._checked_through = max(self._checked_through or 0, offset)

    # -- the server's events -------------------------------------------------------

    async def on_chat_message(self, text: Any, offset: Any = None, meta: Any = None, *, from_log: bool = False) -> None:
        meta = meta if isinstance(meta, dict) else {}
        if isinstance(offset, int):
            if offset in self._seen_offsets:
                return  # a replay of something we already have
            self._seen_offsets.add(offset)
            if meta.get("room") is None:
                self.last_offset = max(self.last_offset or 0, offset)
        await self.add(
            ChatMessage(
                text=text,
                nickname=meta.get("nickname"),
                offset=offset if isinstance(offset, int) else None,
                message_id=meta.get("message_id"),
                room=meta.get("room"),
                sent_at=meta.get("sent_at"),
                received_at=time.perf_counter(),
                from_log=from_log,
            )
        )

    async def on_private_message(self, note: dict) -> None:
        await self.add(
            ChatMessage(
                text=note.get("text", ""),
                nickname=note.get("from"),
                sent_at=note.get("sent_at"),
                private=True,
                recipient=note.get("to"),
                received_at=time.perf_counter(),
            )
        )

    def _notice_handler(self, kind: str) -> Callable[[Any], None]:
        def handler(data: Any) -> None:
            entry = {"kind": kind, **(data if isinstance(data, dict) else {"data": data})}
            self.notices.append(entry)
            self._announce("notice", entry)

        return handler

    def on_online(self, names: list) -> None:
        self.online = list(names)
        self._announce("online", self.online)

    def on_presence(self, change: dict) -> None:
        """Apply what changed to the online list, and keep a notice of each change."""
        online = set(self.online)
        notices = [{"kind": protocol.USER_JOINED, "nickname": name} for name in change.get("joined", [])]
        online.update(name for name in change.get("joined", []))
        for old, new in change.get("renamed", []):
            online.discard(old)
            online.add(new)
            notices.append({"kind": protocol.NICKNAME, "old": old, "nickname": new})
        left = [name for name in change.get("left", []) if name in online]  # told twice: one notice
        online.difference_update(left)
        notices += [{"kind": protocol.USER_LEFT, "nickname": name} for name in left]
        for entry in notices:
            self.notices.append(entry)
            self._announce("notice", entry)
        self.on_online(sorted(online))

    def on_typing(self, data: dict) -> None:
        (self.typing.add if data.get("typing") else self.typing.discard)(data.get("nickname"))
        self._announce("typing", set(self.typing))

    async def add(self, message: ChatMessage) -> None:
        self.messages.append(message)
        async with self._new_message:
            self._new_message.notify_all()
        self._announce("message", message)

    # -- waiting -------------------------------------------------------------------

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
        """Messages as they arrive (forever; break out of the loop)."""
        index = len(self.messages)
        while True:
            message = await self.wait_for_message(after=index, timeout=float("inf"))
            index = self.messages.index(message, index) + 1
            yield message
