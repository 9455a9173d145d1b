"""MessageList: what the widget's message list shows, and which lines are the reader's own."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..client import ChatClient, ChatMessage
from .entries import ChatEntry, notice_entry

__all__ = ["MessageList"]


class MessageList:
    """The entries of the message list, oldest first, at most ``max_entries`` of them.

    :param client: whose nickname marks a message as the reader's own.
    :param max_entries: how many entries it keeps; older ones scroll away.
    :param on_change: called after every change (the widget redraws and wakes its waits).
    :param earlier: messages the client received before the widget existed.
    """

    def __init__(
        self, client: ChatClient, max_entries: int, on_change: Callable[[], None],
        earlier: Iterable[ChatMessage] = (),
    ) -> None:
        self._client = client
        self.max_entries = max_entries
        self._on_change = on_change
        self._sent_ids: set[str] = set()
        self._pending_plain: list[str] = []  # texts we sent to a plain server, not yet echoed
        self._last_status = client.status
        self.entries: list[ChatEntry] = [self.entry_for(message) for message in list(earlier)[-max_entries:]]

    def add(self, entry: ChatEntry, before: int | None = None) -> None:
        """Add ``entry`` at the end, or in front of the entry at index ``before``."""
        self.entries.insert(len(self.entries) if before is None else before, entry)
        del self.entries[: -self.max_entries]  # in place: waits hold this very list
        self._on_change()

    def add_message(self, message: ChatMessage) -> None:
        before = None
        if message.from_log and message.offset is not None:
            # Fetched late, to fill a gap (a broadcast that never came): show it
            # where it belongs, in front of the first message that came after it.
            before = next((index for index, entry in enumerate(self.entries)
                           if entry.offset is not None and entry.offset > message.offset), None)
        self.add(self.entry_for(message), before)

    def add_notice(self, notice: dict) -> None:
        self.add(notice_entry(notice))

    def add_status(self, status: str) -> None:
        """The connection's status changed: say so when it is news to the reader."""
        previous, self._last_status = self._last_status, status
        if status == "reconnecting":
            self.add(ChatEntry("status", "Connection lost; reconnecting…"))
        elif status == "connected" and previous == "reconnecting":
            self.add(ChatEntry("status", "Reconnected."))
        elif status == "disconnected" and previous in ("connected", "reconnecting"):
            self.add(ChatEntry("status", "Disconnected."))

    def sent(self, message_id: str) -> None:
        """We sent the message ``message_id``: its entry is ours, now or when it arrives."""
        self._sent_ids.add(message_id)
        # The broadcast can arrive before the acknowledgement: mark it now.
        for entry in self.entries:
            if entry.message_id == message_id and not entry.mine:
                entry.mine = True
        self._on_change()

    def sent_plain(self, text: str) -> None:
        """We sent ``text`` to a plain server, which will echo it back without a name or id."""
        self._pending_plain.append(text)

    def entry_for(self, message: ChatMessage) -> ChatEntry:
        at = message.sent_at or time.time()
        if message.private:
            return ChatEntry("private", message.text, nickname=message.nickname, recipient=message.recipient,
                             mine=message.nickname == self._client.nickname, at=at)
        if message.offset is None and message.nickname is None and message.text in self._pending_plain:
            self._pending_plain.remove(message.text)  # the plain server echoed what we sent
            mine = True
        else:
            mine = message.message_id in self._sent_ids or (
                message.nickname is not None and message.nickname == self._client.nickname
            )
        text = message.text if isinstance(message.text, str) else repr(message.text)
        return ChatEntry("message", text, nickname=message.nickname, mine=mine, room=message.room,
                         message_id=message.message_id, at=at, offset=message.offset)
