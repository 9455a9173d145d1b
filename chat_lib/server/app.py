"""The chat server: python-socketio's ``AsyncServer``, the page, the log and the handlers.

:class:`ChatServer` composes the feature classes that notebooks 03 and 06 write
(:class:`People`, :class:`Messages`, :class:`Rooms`) with the rules every
event follows (:class:`ChatNamespace`) into one namespace, and serves it with
the page at ``/`` and the pinned Socket.IO JavaScript client under
``/static/vendor/``. uvicorn serves its ASGI :attr:`~ChatServer.app`
(``python -m chat_lib serve``, or :class:`~chat_lib.background.BackgroundServer`).

The core is the tutorial's: ``'chat message'`` with a string is broadcast as
``'chat message'`` to everybody, sender included.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import socketio

from .. import protocol
from ..config import ChatConfig
from ..log import MessageLog
from ..overrides import ChatManager, ChatRedisManager, ChatSocketServer, allow_polling_payloads
from ..store import MessageStore
from .guard import HttpGuard
from .members import Member
from .messages import Messages
from .namespace import ChatNamespace
from .people import People
from .presence import presence_for
from .rooms import Rooms

__all__ = ["ChatServer", "Chat", "create_app", "STATIC_DIR"]

logger = logging.getLogger("chat_lib.server")

STATIC_DIR = Path(__file__).parent.parent / "static"

TRIM_EVERY = 100  #: messages between two trims of the log
HEAD_INTERVAL = 2.0  #: seconds between two announcements of the log's head (with Redis)


class Chat(People, Messages, Rooms, ChatNamespace):
    """Every feature of the chat, in one namespace: the handlers of notebooks 03 and 06."""

    async def deliver(self, message):
        await super().deliver(message)
        self.chat.trim_log()  # retention: the log does not grow without end


class ChatServer:
    """A chat server: a Socket.IO server plus its page, log, presence and limits.

    :param config: a :class:`~chat_lib.config.ChatConfig`; or give its options
                   as keywords (``ChatServer(rate_limit=None)``).
    :param store: a log (:class:`~chat_lib.log.MessageLog`: a :class:`MessageStore`,
                  a :class:`~chat_lib.stream_store.StreamStore`) to use instead of
                  the config's (it stays open when the server closes), or a path.
    :param namespace: the handlers' class; default :class:`Chat`, all of them.
                      Notebook 03 starts from :class:`ChatNamespace` alone and
                      adds one handler per step.

    Example::

        chat = ChatServer(store="chat.sqlite3")
        uvicorn.run(chat.app, host="127.0.0.1", port=3000)

    Introduced in notebook 02.
    """

    def __init__(
        self,
        config: ChatConfig | None = None,
        *,
        store: MessageLog | str | Path | None = None,
        namespace: type[ChatNamespace] = Chat,
        **options: Any,
    ) -> None:
        if isinstance(store, (str, Path)):
            options["store"], store = store, None
        self.config = config = (config or ChatConfig()).replace(**options)
        self._owns_store = store is None  # close only what we opened
        self.store = store if store is not None else _open_log(config)
        self.server_id = uuid.uuid4().hex[:12]
        self.members: dict[str, Member] = {}
        self._since_trim = 0
        self._head_announcer: asyncio.Task | None = None
        self.presence = presence_for(self.members, config.redis_url, self.server_id)
        allow_polling_payloads(config.max_payload_bytes)
        self.sio = ChatSocketServer(
            async_mode="asgi",
            # None: only the page's own origin (python-engineio's default); note
            # that [] would switch the check off altogether.
            cors_allowed_origins=_as_list(config.cors_allowed_origins),
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            # Emits from the connect handler (catch-up) need the connection accepted first.
            # The client then counts as connected while the handler still runs:
            # People.on_connect makes sure nothing sent meanwhile passes it by.
            always_connect=True,
            client_manager=_redis_manager(config.redis_url) if config.redis_url else ChatManager(),
            transports=_as_list(config.transports),
            max_http_buffer_size=config.max_payload_bytes,
            max_sessions_per_address=config.max_sessions_per_address,
        )
        self.namespace = namespace(self)
        if hasattr(self.presence, "on_vanished"):
            self.presence.on_vanished = self._announce_vanished
        self.sio.register_namespace(self.namespace)
        self.app = HttpGuard(
            socketio.ASGIApp(
                self.sio,
                static_files={
                    "/": {"filename": str(STATIC_DIR / "index.html"), "content_type": "text/html"},
                    "/static": str(STATIC_DIR),
                },
                on_startup=self._start,
                on_shutdown=self._stop,
            ),
            max_body_bytes=config.max_payload_bytes,
            allowed_hosts=config.allowed_hosts,
            frame_ancestors=config.frame_ancestors,
            static_dir=STATIC_DIR,
        )

    @property
    def online(self) -> list[str]:
        """Nicknames of this process's clients, sorted, one entry per connection."""
        return sorted(member.nickname for member in self.members.values())

    async def online_everywhere(self) -> list[str]:
        """Nicknames of the clients of every process on the same Redis (or of this one)."""
        return await self.presence.everyone()

    async def _start(self) -> None:
        await self._startup()
        if self.config.redis_url:
            self._head_announcer = asyncio.create_task(self._announce_head_forever())

    async def _stop(self) -> None:
        if self._head_announcer is not None:
            self._head_announcer.cancel()
        await self.presence.close()

    async def _announce_vanished(self, names: list[str]) -> None:
        """Each process tells its own clients who left with a process that died."""
        change = {"joined": [], "left": names, "renamed": []}
        await self.sio.emit(protocol.PRESENCE, change, ignore_queue=True)

    async def _announce_head_forever(self) -> None:
        """Tell this process's clients, every :data:`HEAD_INTERVAL` seconds, where the log ends.

        Redis pub/sub delivers at most once: while its connection is down (a
        Redis restart), broadcasts from the other processes reach nobody here,
        though they are in the log. A client that learns the log is ahead of it
        asks for what it missed (``history``), so the gap closes within seconds.
        """
        while True:
            await asyncio.sleep(HEAD_INTERVAL)
            try:
                newest = self.store.recent(1)
            except Exception as exc:  # the log's Redis is down too: nothing to announce
                logger.info("no head to announce: %s", exc)
                continue
            if newest:
                head = {"offset": newest[0].offset, "logId": self.store.log_id}
                await self.sio.emit(protocol.HEAD, head, to="rich", ignore_queue=True)  # our clients only

    async def _startup(self) -> None:
        """ASGI lifespan start-up: with Redis, subscribe before the first client comes.

        python-socketio subscribes lazily, on the first connection; a message
        published by another process before the subscription is complete would
        never reach this process's clients.
        """
        if not self.config.redis_url:
            return
        redis = self.presence.redis
        channel = self.sio.manager.channel
        before = dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0)
        self.sio.manager_initialized = True
        self.sio.manager.initialize()
        for _ in range(250):
            if dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) > before:
                return
            await self.sio.sleep(0.02)
        logger.warning("not subscribed to Redis channel %r after 5 s", channel)

    def trim_log(self) -> None:
        """Keep about the newest ``config.retain_messages`` messages in the log (``--retain``).

        A delete is a write of its own, as dear as storing the message, so it
        runs once per :data:`TRIM_EVERY` messages: the log holds at most that
        many more. A Redis stream log caps itself as it appends.
        """
        self._since_trim += 1
        if self._since_trim < min(TRIM_EVERY, self.config.retain_messages or 1):
            return
        self._since_trim = 0
        if self.config.retain_messages is not None and hasattr(self.store, "trim"):
            self.store.trim(self.config.retain_messages)

    def close(self) -> None:
        """Close the message log, if we opened it; idempotent.

        Our online entries in Redis are forgotten at the ASGI shutdown (or expire).
        """
        if self._owns_store:
            self.store.close()


def _open_log(config: ChatConfig) -> MessageLog:
    """The config's log: a SQLite file (or memory); with Redis and no file, a Redis stream (notebook 08)."""
    if config.redis_url and config.store is None:
        from ..stream_store import StreamStore

        if config.retain_messages is None:
            return StreamStore(config.redis_url, max_messages=2**62)  # keep all (Redis takes a 64-bit count)
        return StreamStore(config.redis_url, max_messages=config.retain_messages)
    return MessageStore(config.store or ":memory:")


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _redis_manager(url: str) -> ChatRedisManager:
    """A Redis client manager, after checking that Redis answers (a clear error now, not retries later)."""
    import redis

    from ..errors import ServerStartError

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.exceptions.RedisError, ValueError) as exc:
        raise ServerStartError(
            f"Cannot reach Redis at {url}: {exc}. Start a redis-server (chat_lib.LocalRedis starts one) "
            "or fix the URL."
        ) from exc
    return ChatRedisManager(url)


def create_app(config: ChatConfig | None = None, **options: Any) -> Any:
    """Return the ASGI app of a new :class:`ChatServer`."""
    return ChatServer(config, **options).app
