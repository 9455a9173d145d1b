"""The message log's interface: what the server asks of any log, SQLite or Redis Streams.

The server calls the methods below and reads one attribute. :class:`MessageLog`
names them, so that a new log (a database, a stream) can be checked against
them (``isinstance(log, MessageLog)``) and tested with the same suite
(``tests/test_store.py`` runs against every log). Two logs implement it:

* :class:`~chat_lib.store.MessageStore`: SQLite, one machine (notebook 06);
* :class:`~chat_lib.stream_store.StreamStore`: Redis Streams, any number of
  processes on any number of machines that share one Redis (notebook 08).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .store import StoredMessage

__all__ = ["MessageLog"]


@runtime_checkable
class MessageLog(Protocol):
    """An append-only log of chat messages: one sequence of offsets, each message id stored once.

    Introduced in notebook 08.
    """

    #: Names this log: offsets from another log mean nothing here.
    log_id: str

    def append(
        self, message_id: str, nickname: str, text: str, room: str | None = None
    ) -> tuple[StoredMessage, bool]:
        """Store a message unless its id is stored; return it and whether it is new."""
        ...

    def since(self, offset: int, limit: int = 1000, room: str | None = None) -> list[StoredMessage]:
        """Messages after ``offset`` in one room (``None``: the public chat), oldest first."""
        ...

    def at(self, offsets: list[int], room: str | None = None) -> list[StoredMessage]:
        """The messages of one room at these offsets, oldest first; others are left out."""
        ...

    def recent(self, count: int = 50, room: str | None = None) -> list[StoredMessage]:
        """The last ``count`` messages of a room, oldest first."""
        ...

    def last_offset(self) -> int:
        """The newest offset in the log, 0 when it is empty."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None:
        """Let go of the file or connection; idempotent."""
        ...
