"""ChatMessage: one message as a client received it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChatMessage", "message_from_record"]


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
    from_log: bool = False  #: read from the log to fill a gap (a broadcast that never came), not pushed


def message_from_record(record: dict) -> ChatMessage:
    """A message from the log, as the server's ``history`` and ``join`` answers carry it."""
    return ChatMessage(
        text=record["text"],
        nickname=record["nickname"],
        offset=record["offset"],
        message_id=record["message_id"],
        room=record["room"],
        sent_at=record["sent_at"],
    )
