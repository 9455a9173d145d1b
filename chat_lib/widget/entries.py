"""ChatEntry: one line of the widget's message list, and how it is drawn (always escaped)."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .. import protocol

__all__ = ["ChatEntry", "EntryKind", "entry_html", "notice_entry"]

EntryKind = Literal["message", "private", "notice", "status", "error"]

ENTRY_STYLES = {
    "message": "",
    "mine": "background:#e8f0fe;",
    "private": "background:#fdf4ff;",
    "notice": "color:#666;font-style:italic;",
    "status": "color:#b45309;font-style:italic;",
    "error": "color:#b91c1c;",
}


@dataclass
class ChatEntry:
    """One line of the widget's message list, as the reader sees it.

    ``at`` is wall-clock time (seconds since the epoch): the server's time for
    a message that carries one, else the time it arrived.
    """

    kind: EntryKind
    text: str
    nickname: str | None = None
    mine: bool = False
    room: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    at: float = field(default_factory=time.time)
    offset: int | None = None  #: its place in the server's log, for a message that has one

    @property
    def line(self) -> str:
        """The entry as one line of plain text, without the time: ``"ada: hello"``."""
        if self.kind == "private":
            return f"{self.nickname} → {self.recipient} (private): {self.text}"
        if self.kind != "message":
            return self.text
        who = self.nickname or ("you" if self.mine else "someone")
        where = f"[{self.room}] " if self.room else ""
        return f"{where}{who}: {self.text}"


def notice_entry(notice: dict) -> ChatEntry:
    """The line a client's notice (joined, left, renamed, an error) shows as."""
    kind = notice.get("kind")
    who = notice.get("nickname", "?")
    if kind == protocol.USER_JOINED:
        return ChatEntry("notice", f"{who} joined")
    if kind == protocol.USER_LEFT:
        return ChatEntry("notice", f"{who} left")
    if kind == protocol.NICKNAME:
        return ChatEntry("notice", f"{notice.get('old')} is now {who}")
    if kind == protocol.JOIN:
        return ChatEntry("notice", f"{who} joined the room {notice.get('room')}")
    if kind == protocol.LEAVE:
        return ChatEntry("notice", f"{who} left the room {notice.get('room')}")
    if kind == protocol.CHAT_ERROR:
        return ChatEntry("error", str(notice.get("error")))
    return ChatEntry("notice", f"{kind}: {notice.get('data', notice)}")


def entry_html(entry: ChatEntry) -> str:
    """One entry as HTML; every piece of text goes through html.escape."""
    style = ENTRY_STYLES["mine" if entry.mine and entry.kind == "message" else entry.kind]
    when = datetime.fromtimestamp(entry.at).strftime("%H:%M:%S")
    clock = f'<span style="color:#888;font-size:.75em;margin-left:.5em">{when}</span>'
    if entry.kind in ("message", "private"):
        who = entry.nickname or ("you" if entry.mine else "")
        if entry.kind == "private":
            who = f"{entry.nickname} → {entry.recipient} (private)"
        elif entry.room:
            who = f"[{entry.room}] {who}"
        body = (f'<span style="font-weight:600;margin-right:.4em">{html.escape(who)}</span>'
                f'<span class="chat-lib-text">{html.escape(entry.text)}</span>')
    else:
        body = f'<span class="chat-lib-text">{html.escape(entry.text)}</span>'
    return (f'<div class="chat-lib-entry chat-lib-{entry.kind}{" chat-lib-mine" if entry.mine else ""}" '
            f'style="padding:2px 8px;white-space:pre-wrap;overflow-wrap:anywhere;{style}">{body}{clock}</div>')
