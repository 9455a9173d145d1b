"""The message log in Redis Streams: one log for every process on every machine.

The SQLite log of notebook 06 is a file: processes on one machine can share
it, machines cannot. A Redis *stream* is the data structure Redis made for logs:
entries with increasing ids, appended at the end, read by range. This store
keeps the chat's log in one stream, with the interface of
:class:`~chat_lib.store.MessageStore` (:class:`~chat_lib.log.MessageLog`):

* **one sequence of offsets**: a counter (``INCR``) gives the offset, and the
  entry's stream id is ``<offset>-0``, so catch-up is one ``XRANGE``;
* **an id stored once, atomically**: one Lua script looks the message id up in
  a hash, and only if it is missing increments the counter, appends the entry
  and records the id. Redis runs a script alone, so two processes that
  receive the same retry at the same moment cannot both store it;
* **capped retention**: the script drops the oldest entries (and their ids)
  beyond ``max_messages``.

Redis must keep its data across a restart for this log to be durable: run it
with ``appendonly yes`` (each write is in the append-only file before Redis
answers, which survives a killed redis-server; ``appendfsync always`` survives
a power cut too).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import redis

from .errors import LogUnavailable, ServerStartError
from .store import StoredMessage

__all__ = ["StreamStore", "LogUnavailable"]

logger = logging.getLogger("chat_lib.stream_store")


# KEYS: stream, ids (hash message id -> offset), counter
# ARGV: message id, nickname, text, room ('' when has_room is '0'), has_room, sent_at, max_messages
_APPEND = """
local offset = redis.call('HGET', KEYS[2], ARGV[1])
local is_new = 0
if not offset then
    is_new = 1
    offset = redis.call('INCR', KEYS[3])
    local id = offset .. '-0'
    if ARGV[5] == '1' then
        redis.call('XADD', KEYS[1], id, 'id', ARGV[1], 'nickname', ARGV[2], 'text', ARGV[3],
                   'sent_at', ARGV[6], 'room', ARGV[4])
    else
        redis.call('XADD', KEYS[1], id, 'id', ARGV[1], 'nickname', ARGV[2], 'text', ARGV[3],
                   'sent_at', ARGV[6])
    end
    redis.call('HSET', KEYS[2], ARGV[1], offset)
    local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[7])
    if excess > 0 then
        for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
            redis.call('HDEL', KEYS[2], entry[2][2])
            redis.call('XDEL', KEYS[1], entry[1])
        end
    end
end
local id = offset .. '-0'
return {is_new, redis.call('XRANGE', KEYS[1], id, id)}
"""


class StreamStore:
    """An append-only log of chat messages in a Redis stream, shared by every server on that Redis.

    :param url: the Redis server, ``redis://host:port/db``.
    :param name: the prefix of the log's keys; servers with the same Redis
                 and name share one log.
    :param max_messages: how many messages the log keeps; the oldest go first.
    :param timeout: seconds to wait for Redis before :class:`LogUnavailable`.

    Example::

        store = StreamStore("redis://127.0.0.1:6379/0")
        message, is_new = store.append("m-1", "ada", "hello")
        store.since(0)        # [StoredMessage(offset=1, ...)]

    ``python -m chat_lib serve --redis-url URL`` without ``--store`` uses it.
    Introduced in notebook 08.
    """

    def __init__(self, url: str, *, name: str = "chat_lib:log", max_messages: int = 100_000,
                 timeout: float = 2.0) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1.")
        self.url = url
        self.name = name
        self.max_messages = max_messages
        self._stream, self._ids, self._counter = f"{name}:stream", f"{name}:ids", f"{name}:offset"
        self._redis = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._append = self._redis.register_script(_APPEND)
        self._closed = threading.Event()
        try:
            # The first server to start names the log; the others read that name.
            self._redis.set(f"{name}:log_id", uuid.uuid4().hex, nx=True)
            self.log_id: str = self._redis.get(f"{name}:log_id")
        except (redis.exceptions.RedisError, ValueError) as exc:
            self._redis.close()
            raise ServerStartError(
                f"Cannot reach Redis at {url}: {exc}. Start a redis-server (chat_lib.LocalRedis starts one) "
                "or fix the URL."
            ) from exc

    def __repr__(self) -> str:
        return f"<StreamStore {self.name} on {self.url}>"

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise LogUnavailable(
                f"The message log (Redis at {self.url}) is unreachable, so nothing was {what}: {exc}. "
                "Try again once Redis is back."
            ) from exc

    def append(
        self, message_id: str, nickname: str, text: str, room: str | None = None
    ) -> tuple[StoredMessage, bool]:
        """Store a message unless its id is already stored.

        :returns: the stored message and ``True`` if it is new, or the message
                  stored earlier under that id and ``False``.
        :raises LogUnavailable: Redis did not answer; the message may be sent again.
        """
        args = [message_id, nickname, text, room or "", "0" if room is None else "1", repr(time.time()),
                self.max_messages]
        is_new, entries = self._call("stored", self._append, keys=[self._stream, self._ids, self._counter],
                                     args=args)
        entry_id, fields = entries[0]  # a script's reply: the fields come as a flat list
        return _message((entry_id, dict(zip(fields[::2], fields[1::2])))), bool(is_new)

    def since(self, offset: int, limit: int = 1000, room: str | None = None) -> list[StoredMessage]:
        """Messages after ``offset`` in one room (``None``: the public chat), oldest first."""
        found: list[StoredMessage] = []
        start = f"{offset + 1}-0"
        while len(found) < limit:
            entries = self._call("read", self._redis.xrange, self._stream, start, "+", count=max(limit, 100))
            found.extend(message for message in map(_message, entries) if message.room == room)
            if len(entries) < max(limit, 100):
                break
            start = "(" + entries[-1][0]
        return found[:limit]

    def at(self, offsets: list[int], room: str | None = None) -> list[StoredMessage]:
        """The messages of one room (``None``: the public chat) at these offsets, oldest first.

        Offsets held by another room, or trimmed away, are simply not in the answer.
        """
        def read_each() -> list[list]:
            pipe = self._redis.pipeline(transaction=False)  # one round trip for them all
            for offset in sorted(set(offsets)):
                pipe.xrange(self._stream, f"{offset}-0", f"{offset}-0")
            return pipe.execute()

        found = (entry for entries in self._call("read", read_each) for entry in entries)
        return [message for message in map(_message, found) if message.room == room]

    def recent(self, count: int = 50, room: str | None = None) -> list[StoredMessage]:
        """The last ``count`` messages of a room, oldest first."""
        found: list[StoredMessage] = []
        end = "+"
        while len(found) < count:
            entries = self._call("read", self._redis.xrevrange, self._stream, end, "-", count=max(count, 100))
            found.extend(message for message in map(_message, entries) if message.room == room)
            if len(entries) < max(count, 100):
                break
            end = "(" + entries[-1][0]
        return list(reversed(found[:count]))

    def last_offset(self) -> int:
        """The newest offset in the log, 0 when it is empty."""
        return int(self._call("read", self._redis.get, self._counter) or 0)

    def __len__(self) -> int:
        return self._call("read", self._redis.xlen, self._stream)

    def close(self) -> None:
        """Close the connection to Redis; idempotent. The log stays in Redis."""
        if not self._closed.is_set():
            self._closed.set()
            self._redis.close()

    def delete(self) -> None:
        """Remove the whole log from Redis (tests, demos)."""
        self._redis.delete(self._stream, self._ids, self._counter, f"{self.name}:log_id")


def _message(entry: tuple[str, dict[str, str]]) -> StoredMessage:
    entry_id, fields = entry
    return StoredMessage(
        offset=int(entry_id.split("-")[0]),
        message_id=fields["id"],
        nickname=fields["nickname"],
        text=fields["text"],
        room=fields.get("room"),
        sent_at=float(fields["sent_at"]),
    )
