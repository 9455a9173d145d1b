"""The message log: every accepted chat message, with an increasing offset.

The server writes each message here *before* broadcasting it, so the offset it
broadcasts is durable. A client that comes back tells the server the last offset
it saw and gets what it missed (notebook 06). Each message also carries a
client-chosen id, stored once: a retried message is found again, not duplicated.

SQLite in WAL mode serves one server process, or the few processes of a
:class:`~chat_lib.cluster.ServerGroup` sharing one file (its lock orders their
writes, so offsets stay one sequence); ``":memory:"`` gives a throw-away log
for demos and tests.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MessageStore", "StoredMessage"]

# The offset is the row id: SQLite gives a new row one more than the largest.
# Not AUTOINCREMENT, which keeps a counter in a table of its own: each insert
# then costs about a third more on disk (40 -> 28 us), and a refused retry
# used up a number, a hole that clients across processes look up (notebook 08).
# No offset is used twice: trim() always keeps the newest message.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    "offset"   INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    nickname   TEXT NOT NULL,
    text       TEXT NOT NULL,
    room       TEXT,
    sent_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS log_identity (log_id TEXT NOT NULL);
"""


def _retry_while_locked(prepare, patience: float = 10.0):
    """Call ``prepare()`` until SQLite stops answering "database is locked".

    Switching a new file to WAL needs it alone for a moment, and SQLite says
    "locked" at once, without waiting its busy timeout, when another process
    is opening the same file: servers of one group starting together do (8
    processes opening one new file on 2 busy cores: 3 of 800 failed).
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            return prepare()
        except sqlite3.OperationalError as err:
            if err.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@dataclass(frozen=True)
class StoredMessage:
    """One chat message as the log keeps it and as clients receive its metadata."""

    offset: int
    message_id: str
    nickname: str
    text: str
    room: str | None
    sent_at: float

    def meta(self) -> dict:
        """What a broadcast carries besides the text and the offset (its third argument)."""
        return {"message_id": self.message_id, "nickname": self.nickname, "room": self.room, "sent_at": self.sent_at}

    def as_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies, and this runs for every message sent.
        return {
            "offset": self.offset, "message_id": self.message_id, "nickname": self.nickname,
            "text": self.text, "room": self.room, "sent_at": self.sent_at,
        }


class MessageStore:
    """An append-only log of chat messages in a SQLite file.

    :param path: the SQLite file, created if missing; ``":memory:"`` (the
                 default) keeps the log in memory for the life of the store.

    Example::

        store = MessageStore("chat.sqlite3")
        message, is_new = store.append("m-1", "ada", "hello")
        store.since(0)        # [StoredMessage(offset=1, ...)]

    Introduced in notebook 06.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        # One connection shared by the server's event loop and any thread that
        # reads history; the lock keeps SQLite's cursor use serialised.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # Offsets only mean something within one log: a client that comes back
        # to a server with a new log must not skip "already seen" offsets.
        try:
            self.log_id: str = _retry_while_locked(self._prepare)
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> str:
        """Set up the file (WAL, tables) and return the log's id, making one if new."""
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (not a power cut).
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        # One transaction: servers starting together on a new file agree on one id.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT log_id FROM log_identity").fetchone()
            if row is None:
                row = (uuid.uuid4().hex,)
                self._db.execute("INSERT INTO log_identity VALUES (?)", row)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite may have rolled back by itself
                self._db.execute("ROLLBACK")
            raise
        return row[0]

    def append(
        self, message_id: str, nickname: str, text: str, room: str | None = None
    ) -> tuple[StoredMessage, bool]:
        """Store a message unless its id is already stored.

        :returns: the stored message and ``True`` if it is new, or the message
                  stored earlier under that id and ``False``.
        """
        with self._lock:
            cursor = self._db.execute(
                'INSERT INTO messages (message_id, nickname, text, room, sent_at) '
                'VALUES (?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING '
                'RETURNING "offset", message_id, nickname, text, room, sent_at',
                (message_id, nickname, text, room, time.time()),
            )
            row = cursor.fetchone()
            if row is not None:
                return StoredMessage(*row), True
            row = self._db.execute(
                'SELECT "offset", message_id, nickname, text, room, sent_at '
                "FROM messages WHERE message_id = ?",
                (message_id,),
            ).fetchone()
            return StoredMessage(*row), False

    def since(self, offset: int, limit: int = 1000, room: str | None = None) -> list[StoredMessage]:
        """Messages after ``offset`` in one room (``None``: the public chat), oldest first."""
        with self._lock:
            rows = self._db.execute(
                'SELECT "offset", message_id, nickname, text, room, sent_at FROM messages '
                'WHERE "offset" > ? AND room IS ? ORDER BY "offset" LIMIT ?',
                (offset, room, limit),
            ).fetchall()
        return [StoredMessage(*row) for row in rows]

    def at(self, offsets: list[int], room: str | None = None) -> list[StoredMessage]:
        """The messages of one room (``None``: the public chat) at these offsets, oldest first.

        Offsets held by another room, or trimmed away, are simply not in the answer.
        """
        if not offsets:
            return []
        with self._lock:
            rows = self._db.execute(
                'SELECT "offset", message_id, nickname, text, room, sent_at FROM messages '
                f'WHERE "offset" IN ({",".join("?" * len(offsets))}) AND room IS ? ORDER BY "offset"',
                (*offsets, room),
            ).fetchall()
        return [StoredMessage(*row) for row in rows]

    def recent(self, count: int = 50, room: str | None = None) -> list[StoredMessage]:
        """The last ``count`` messages of a room, oldest first."""
        with self._lock:
            rows = self._db.execute(
                'SELECT "offset", message_id, nickname, text, room, sent_at FROM messages '
                'WHERE room IS ? ORDER BY "offset" DESC LIMIT ?',
                (room, count),
            ).fetchall()
        return [StoredMessage(*row) for row in reversed(rows)]

    def trim(self, keep: int) -> int:
        """Delete the oldest messages, keeping at most the newest ``keep``; how many were deleted.

        Offsets are never reused, so the newest offset stays and catch-up
        simply starts at the oldest message kept. A retry of a message that
        was trimmed away would be stored again, as new: ``keep`` should hold
        far more than a client's retry window. The server calls this after
        each new message when ``retain_messages`` is set (``--retain``).
        """
        if keep < 1:
            raise ValueError("keep must be at least 1.")
        with self._lock:
            cursor = self._db.execute(
                'DELETE FROM messages WHERE "offset" <= (SELECT COALESCE(MAX("offset"), 0) FROM messages) - ?',
                (keep,),
            )
            return cursor.rowcount

    def last_offset(self) -> int:
        """The newest offset in the log, 0 when it is empty."""
        with self._lock:
            return self._db.execute('SELECT COALESCE(MAX("offset"), 0) FROM messages').fetchone()[0]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._db.close()

