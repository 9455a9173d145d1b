"""The Socket.IO chat server: the Node.js tutorial's app, in Python, and more.

:class:`ChatServer` wraps a python-socketio ``AsyncServer`` in ASGI mode. Its
ASGI app serves the browser page at ``/``, the pinned Socket.IO JavaScript
client under ``/static/vendor/``, and the Socket.IO endpoint at ``/socket.io/``;
uvicorn serves it (``python -m chat_lib serve``, or
:class:`~chat_lib.background.BackgroundServer` from a notebook or a test).

The core is the tutorial's: ``'chat message'`` with a string is broadcast as
``'chat message'`` to everybody, sender included. Around it: input checks with
clear errors, a per-connection rate limit, a message log with offsets and
catch-up (:mod:`chat_lib.store`), nicknames, join/leave notices, who is online,
"X is typing", rooms and private messages. Notebooks 02 and 03 build it up.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import engineio
import socketio

from . import protocol
from .store import MessageStore, StoredMessage

__all__ = ["ChatServer", "create_app", "STATIC_DIR"]

logger = logging.getLogger("chat_lib.server")

STATIC_DIR = Path(__file__).parent / "static"

# Clients whose ``auth`` object has the key ``serverOffset`` (None for a
# newcomer) get the rich form of each broadcast (text, offset, metadata); the
# rest get the tutorial's bare string.
_RICH = "clients:rich"
_PLAIN = "clients:plain"

# Whether the event being handled asked for an acknowledgement. python-socketio
# does not tell the handler, and an error must go back the way the client listens.
_ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=False)


class _AckAwareServer(socketio.AsyncServer):
    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        # Each event runs in its own task, so the variable is private to it.
        _ack_requested.set(id is not None)
        return await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)

    async def _handle_eio_message(self, eio_sid, data):
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except (RecursionError, ValueError) as exc:
            # A packet json cannot decode (e.g. thousands of nested arrays):
            # there is nobody to answer, so drop that client, quietly and at once.
            logger.warning("dropping %s: undecodable packet (%s)", eio_sid, type(exc).__name__)
            await self.eio.disconnect(eio_sid)


@dataclass
class _TokenBucket:
    """Allows ``burst`` events at once, refilled at ``rate`` per second."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class _Member:
    nickname: str
    rich: bool
    bucket: _TokenBucket | None
    rooms: set[str] = field(default_factory=set)
    typing: bool = False


class ChatServer:
    """A chat server: a Socket.IO server plus its page, log and limits.

    :param max_message_bytes: longest accepted message, in UTF-8 bytes.
    :param store: a :class:`MessageStore`, or a path for one; default in memory.
    :param cors_allowed_origins: origins allowed to connect; ``None`` (the
                                 default) allows only the page's own origin,
                                 ``"*"`` allows all.
    :param rate_limit: ``(messages per second, burst)`` per connection, or
                       ``None`` for no limit (benchmarks).
    :param ping_interval: seconds between Engine.IO pings. Short intervals let
                          polling clients notice a stop quickly (notebooks).
    :param ping_timeout: seconds without a pong before a client is dropped.
    :param redis_url: a Redis server that joins several server processes
                      (``redis://127.0.0.1:6379/0``): broadcasts, rooms,
                      private messages and the online list then reach every
                      process on it (notebook 07). Checked at start.
    :param transports: the transports offered, default both; ``["polling"]``
                       plays a server where WebSocket is not available.
    :param presence: announce joins, leaves and the online list to everybody
                     (default). Each announcement reaches every client, so N
                     connections cost N² messages: fan-out benchmarks with
                     hundreds of clients switch it off (notebook 04).

    Example::

        chat = ChatServer()
        uvicorn.run(chat.app, host="127.0.0.1", port=3000)

    Introduced in notebook 02.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = protocol.DEFAULT_MAX_MESSAGE_BYTES,
        store: MessageStore | str | Path | None = None,
        cors_allowed_origins: str | list[str] | None = None,
        rate_limit: tuple[float, float] | None = (20.0, 200.0),
        ping_interval: float = 25,
        ping_timeout: float = 20,
        redis_url: str | None = None,
        transports: list[str] | None = None,
        presence: bool = True,
    ) -> None:
        if max_message_bytes < 1:
            raise ValueError("max_message_bytes must be at least 1.")
        self.max_message_bytes = max_message_bytes
        self._owns_store = not isinstance(store, MessageStore)  # close only what we opened
        self.store = store if isinstance(store, MessageStore) else MessageStore(store or ":memory:")
        self.rate_limit = rate_limit
        self.presence = presence
        self.redis_url = redis_url
        self.server_id = uuid.uuid4().hex[:12]
        client_manager = _redis_manager(redis_url) if redis_url else None
        self._redis = _async_redis(redis_url) if redis_url else None
        self._online_refresher: Any = None
        self.sio = _AckAwareServer(
            async_mode="asgi",
            # None: only the page's own origin (python-engineio's default); note
            # that [] would switch the check off altogether.
            cors_allowed_origins=cors_allowed_origins,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            # Emits from the connect handler (catch-up) need the connection accepted first.
            always_connect=True,
            client_manager=client_manager,
            transports=transports,
            # Room for the longest message plus JSON framing, not megabytes.
            max_http_buffer_size=max(64 * 1024, 8 * max_message_bytes),
        )
        self.app = _HttpGuard(
            socketio.ASGIApp(
                self.sio,
                static_files={
                    "/": {"filename": str(STATIC_DIR / "index.html"), "content_type": "text/html"},
                    "/static": str(STATIC_DIR),
                },
                on_startup=self._startup,
            ),
            max_body_bytes=self.sio.eio.max_http_buffer_size,
        )
        self._members: dict[str, _Member] = {}
        self._register_handlers()

    async def _startup(self) -> None:
        """ASGI lifespan start-up: with Redis, subscribe before the first client comes.

        python-socketio subscribes lazily, on the first connection; a message
        published by another process before the subscription is complete would
        never reach this process's clients.
        """
        if self._redis is None:
            return
        channel = self.sio.manager.channel
        before = dict(await self._redis.pubsub_numsub(channel)).get(channel.encode(), 0)
        self.sio.manager_initialized = True
        self.sio.manager.initialize()
        for _ in range(250):
            if dict(await self._redis.pubsub_numsub(channel)).get(channel.encode(), 0) > before:
                return
            await self.sio.sleep(0.02)
        logger.warning("not subscribed to Redis channel %r after 5 s", channel)

    # -- helpers -------------------------------------------------------------

    @property
    def online(self) -> list[str]:
        """Nicknames of this process's clients, sorted, one entry per connection."""
        return sorted(member.nickname for member in self._members.values())

    async def online_everywhere(self) -> list[str]:
        """Nicknames of the clients of every process on the same Redis (or of this one)."""
        if self._redis is None:
            return self.online
        try:
            names: list[str] = []
            async for key in self._redis.scan_iter(match=f"{_ONLINE_KEY}:*"):
                names.extend(value.decode() for value in await self._redis.hvals(key))
            return sorted(names)
        except Exception as exc:  # Redis lost: say so, show what this process knows
            logger.warning("Redis unreachable (%s); showing this server's clients only", exc)
            return self.online

    async def _publish_online(self) -> None:
        """Write this process's members to Redis, under a key that expires if we die."""
        if self._redis is None:
            return
        key = f"{_ONLINE_KEY}:{self.server_id}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                if self._members:
                    pipe.hset(key, mapping={sid: m.nickname for sid, m in self._members.items()})
                    pipe.expire(key, _ONLINE_TTL)
                await pipe.execute()
        except Exception as exc:
            logger.warning("Redis unreachable (%s); the online list may be stale", exc)

    async def _refresh_online_forever(self) -> None:
        while True:
            await self.sio.sleep(_ONLINE_TTL / 3)
            await self._publish_online()

    async def _refuse(self, sid: str, event: str, error: str) -> dict:
        """Log a refusal and return it as an ack, or emit it if no ack was asked for."""
        logger.info("refused %r from %s: %s", event, sid, error)
        answer = {"ok": False, "error": error}
        if not _ack_requested.get():
            await self.sio.emit(protocol.CHAT_ERROR, {"event": event, "error": error}, to=sid)
        return answer

    def _allowed(self, member: _Member) -> bool:
        return member.bucket is None or member.bucket.take()

    async def _release_long_poll(self, sid: str) -> None:
        """Answer a leaving polling client's pending GET at once.

        python-engineio does not answer it when the client says goodbye, and
        python-socketio's client waits for it: up to the ping interval.
        """
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            await self.sio.eio.send_packet(eio_sid, engineio.packet.Packet(engineio.packet.NOOP))

    async def _broadcast_online(self) -> None:
        await self._publish_online()
        await self.sio.emit(protocol.ONLINE, await self.online_everywhere())

    async def _catch_up(self, sid: str, after: int) -> None:
        """Send ``sid`` every public message after ``after``, then let live ones in.

        Live broadcasts go to the room ``_RICH``; the client joins it only after
        a read that finds nothing new, with no ``await`` in between, so each
        message reaches it exactly once and in order.
        """
        while True:
            missed = self.store.since(after)
            if not missed:
                await self.sio.enter_room(sid, _RICH)  # does not suspend
                break
            for message in missed:
                await self.sio.emit(protocol.CHAT_MESSAGE, _rich_args(message), to=sid)
            after = missed[-1].offset
        if self._redis is not None:
            # Another process may have stored a message just before we joined
            # the room, and its broadcast (through Redis) may have passed us by:
            # send it again; clients drop offsets they already have.
            for message in self.store.since(after):
                await self.sio.emit(protocol.CHAT_MESSAGE, _rich_args(message), to=sid)

    # -- handlers ------------------------------------------------------------

    def _register_handlers(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict, auth: Any = None) -> None:
            # The tutorial's final page sends auth {serverOffset}; so do ours.
            rich = isinstance(auth, dict) and "serverOffset" in auth
            nickname = f"guest-{sid[:4]}"
            if isinstance(auth, dict) and auth and not rich:
                hint = 'An auth object needs the key "serverOffset" (None for a newcomer) to use the chat\'s features.'
                await self.sio.emit(protocol.CHAT_ERROR, {"event": "connect", "error": hint}, to=sid)
            if rich and auth.get("nickname") is not None:
                try:
                    nickname = protocol.validate_nickname(auth["nickname"])
                except ValueError as exc:
                    await self.sio.emit(protocol.CHAT_ERROR, {"event": "connect", "error": str(exc)}, to=sid)
            bucket = _TokenBucket(*self.rate_limit) if self.rate_limit else None
            self._members[sid] = _Member(nickname, rich, bucket)
            if self._redis is not None and self._online_refresher is None:
                self._online_refresher = self.sio.start_background_task(self._refresh_online_forever)
            logger.info("%s connected as %r (%s)", sid, nickname, "rich" if rich else "plain")
            if rich:
                after = auth.get("serverOffset")
                if auth.get("logId") not in (None, self.store.log_id):
                    after = None  # offsets from another log mean nothing here
                welcome = {"nickname": nickname, "offset": self.store.last_offset(), "logId": self.store.log_id}
                if protocol.is_offset(after):
                    await self.sio.emit(protocol.WELCOME, welcome, to=sid)
                    await self._catch_up(sid, after)
                else:
                    # A newcomer starts at the log's head: enter the room with no
                    # suspension after reading it, so nothing falls in between.
                    await self.sio.enter_room(sid, _RICH)
                    await self.sio.emit(protocol.WELCOME, welcome, to=sid)
                await self.sio.enter_room(sid, _nick_room(nickname))
            else:
                await self.sio.enter_room(sid, _PLAIN)
            if self.presence:
                await self.sio.emit(protocol.USER_JOINED, {"nickname": nickname}, skip_sid=sid)
                await self._broadcast_online()

        @sio.event
        async def disconnect(sid: str, reason: Any = None) -> None:
            member = self._members.pop(sid, None)
            if member is None:
                return
            logger.info("%s (%r) disconnected: %s", sid, member.nickname, reason)
            if reason == self.sio.reason.CLIENT_DISCONNECT:
                await self._release_long_poll(sid)
            if member.typing:  # else the others would see "X is typing" forever
                await self.sio.emit(protocol.TYPING, {"nickname": member.nickname, "typing": False})
            if self.presence:
                await self.sio.emit(protocol.USER_LEFT, {"nickname": member.nickname})
                await self._broadcast_online()

        @sio.on(protocol.CHAT_MESSAGE)
        async def chat_message(sid: str, *args: Any) -> dict:
            member = self._members.get(sid)
            if member is None:
                return {"ok": False, "error": "Not connected."}
            if not self._allowed(member):
                return await self._refuse(sid, protocol.CHAT_MESSAGE, _SLOW_DOWN)
            if len(args) != 1:
                return await self._refuse(sid, protocol.CHAT_MESSAGE, "Send one message at a time.")
            payload = args[0]
            message_id = room = None
            if isinstance(payload, dict):
                message_id, room = payload.get("id"), payload.get("room")
                payload = payload.get("text")
            try:
                text = protocol.validate_text(payload, self.max_message_bytes)
                if message_id is not None and not (isinstance(message_id, str) and 0 < len(message_id) <= 64):
                    raise ValueError("A message id must be a string of 1 to 64 characters.")
                if room is not None:
                    room = protocol.validate_room(room)
                    if room not in member.rooms:
                        raise ValueError(f"Join the room {room!r} before sending to it.")
            except ValueError as exc:
                return await self._refuse(sid, protocol.CHAT_MESSAGE, str(exc))
            message, is_new = self.store.append(message_id or uuid.uuid4().hex, member.nickname, text, room)
            if not is_new and (message.text, message.nickname, message.room) != (text, member.nickname, room):
                return await self._refuse(
                    sid, protocol.CHAT_MESSAGE, "This message id is already used; send again with a new id."
                )
            if is_new:
                await self._deliver(message)
            return {"ok": True, "offset": message.offset, "id": message.message_id}

        @sio.on(protocol.NICKNAME)
        async def nickname(sid: str, *args: Any) -> dict:
            member = self._members.get(sid)
            try:
                new = protocol.validate_nickname(args[0] if len(args) == 1 else None)
            except ValueError as exc:
                return await self._refuse(sid, protocol.NICKNAME, str(exc))
            if member is None:
                return {"ok": False, "error": "Not connected."}
            if not self._allowed(member):  # each change is two broadcasts to everybody
                return await self._refuse(sid, protocol.NICKNAME, _SLOW_DOWN)
            old, member.nickname = member.nickname, new
            if old == new:
                return {"ok": True, "nickname": new}
            if member.rich:
                await self.sio.leave_room(sid, _nick_room(old))
                await self.sio.enter_room(sid, _nick_room(new))
            await self.sio.emit(protocol.NICKNAME, {"old": old, "nickname": new})
            await self._broadcast_online()
            return {"ok": True, "nickname": new}

        @sio.on(protocol.TYPING)
        async def typing(sid: str, *args: Any) -> None:
            member = self._members.get(sid)
            if member is None or len(args) != 1 or not isinstance(args[0], bool):
                return
            if not self._allowed(member):
                return
            member.typing = args[0]
            notice = {"nickname": member.nickname, "typing": args[0]}
            await self.sio.emit(protocol.TYPING, notice, skip_sid=sid)

        @sio.on(protocol.JOIN)
        async def join(sid: str, *args: Any) -> dict:
            member = self._members.get(sid)
            try:
                room = protocol.validate_room(args[0] if len(args) == 1 else None)
            except ValueError as exc:
                return await self._refuse(sid, protocol.JOIN, str(exc))
            if member is None or not member.rich:
                return await self._refuse(sid, protocol.JOIN, "Rooms need a client that sends auth.")
            if not self._allowed(member):
                return await self._refuse(sid, protocol.JOIN, _SLOW_DOWN)
            if room not in member.rooms and len(member.rooms) >= MAX_ROOMS_PER_CLIENT:
                return await self._refuse(
                    sid, protocol.JOIN, f"You are in {MAX_ROOMS_PER_CLIENT} rooms; leave one before joining another."
                )
            member.rooms.add(room)
            await self.sio.enter_room(sid, _room_key(room))
            await self.sio.emit(protocol.JOIN, {"nickname": member.nickname, "room": room}, to=_room_key(room))
            return {"ok": True, "room": room, "history": [m.as_dict() for m in self.store.recent(50, room)]}

        @sio.on(protocol.LEAVE)
        async def leave(sid: str, *args: Any) -> dict:
            member = self._members.get(sid)
            room = args[0] if len(args) == 1 else None
            # Strip as join does; a list or dict is unhashable and must be refused, not crash.
            room = room.strip() if isinstance(room, str) else room
            if member is None or not isinstance(room, str) or room not in member.rooms:
                return await self._refuse(sid, protocol.LEAVE, f"You are not in the room {room!r}.")
            if not self._allowed(member):
                return await self._refuse(sid, protocol.LEAVE, _SLOW_DOWN)
            member.rooms.discard(room)
            await self.sio.emit(protocol.LEAVE, {"nickname": member.nickname, "room": room}, to=_room_key(room))
            await self.sio.leave_room(sid, _room_key(room))
            return {"ok": True, "room": room}

        @sio.on(protocol.PRIVATE_MESSAGE)
        async def private_message(sid: str, *args: Any) -> dict:
            member = self._members.get(sid)
            if member is None:
                return {"ok": False, "error": "Not connected."}
            if not self._allowed(member):
                return await self._refuse(sid, protocol.PRIVATE_MESSAGE, _SLOW_DOWN)
            payload = args[0] if len(args) == 1 else None
            if not isinstance(payload, dict):
                return await self._refuse(sid, protocol.PRIVATE_MESSAGE, 'Send {"to": nickname, "text": message}.')
            try:
                text = protocol.validate_text(payload.get("text"), self.max_message_bytes)
            except ValueError as exc:
                return await self._refuse(sid, protocol.PRIVATE_MESSAGE, str(exc))
            recipient = payload.get("to")
            if not isinstance(recipient, str) or recipient not in await self.online_everywhere():
                return await self._refuse(sid, protocol.PRIVATE_MESSAGE, f"Nobody called {recipient!r} is online.")
            note = {"from": member.nickname, "to": payload["to"], "text": text, "sent_at": time.time()}
            # A list of rooms reaches each client once, even one in both.
            await self.sio.emit(protocol.PRIVATE_MESSAGE, note, to=[_nick_room(recipient), sid])
            return {"ok": True}

        @sio.on(protocol.HISTORY)
        async def history(sid: str, *args: Any) -> Any:
            member = self._members.get(sid)
            if member is not None and not self._allowed(member):
                return await self._refuse(sid, protocol.HISTORY, _SLOW_DOWN)
            request = args[0] if len(args) == 1 else None
            if not isinstance(request, dict):
                return await self._refuse(sid, protocol.HISTORY, 'Ask with {"after": offset} or {"count": n}.')
            after, count = request.get("after"), request.get("count", 50)
            if not isinstance(count, int) or not 0 < count <= 1000:
                return await self._refuse(sid, protocol.HISTORY, "count must be an integer from 1 to 1000.")
            if after is not None and not protocol.is_offset(after):
                return await self._refuse(sid, protocol.HISTORY, "after must be an offset: an integer from 0.")
            if after is not None:
                messages = self.store.since(after, limit=count)
            else:
                messages = self.store.recent(count)
            return {"ok": True, "messages": [m.as_dict() for m in messages]}

        @sio.on("*")
        async def unknown_event(event: str, sid: str, *args: Any) -> dict:
            return await self._refuse(sid, event, f"This server has no event called {event!r}.")

    async def _deliver(self, message: StoredMessage) -> None:
        """Broadcast a stored message: rich form to rich clients, bare text to the rest."""
        if message.room is not None:
            await self.sio.emit(protocol.CHAT_MESSAGE, _rich_args(message), to=_room_key(message.room))
            return
        await self.sio.emit(protocol.CHAT_MESSAGE, _rich_args(message), to=_RICH)
        await self.sio.emit(protocol.CHAT_MESSAGE, message.text, to=_PLAIN)

    def close(self) -> None:
        """Close the message log (if we opened it) and forget our online entries in Redis; idempotent."""
        if self._owns_store:
            self.store.close()
        if self.redis_url is not None:
            import redis

            try:
                redis.Redis.from_url(self.redis_url, socket_timeout=2).delete(f"{_ONLINE_KEY}:{self.server_id}")
            except redis.exceptions.RedisError:
                pass  # they expire by themselves


class _HttpGuard:
    """ASGI middleware: clear 4xx answers where python-engineio would fail.

    * A long-polling POST must be UTF-8 text, else 400: Engine.IO 4 sends
      polling payloads as text (binary goes base64), and python-engineio
      answers a body that is not UTF-8 with an internal error and a 200.
    * A WebSocket anywhere but ``/socket.io/`` is refused with 403: python-
      engineio would answer it with a plain HTTP response, which uvicorn
      turns into a 500.
    """

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not scope["path"].startswith("/socket.io"):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: uvicorn answers 403
            return
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith("/socket.io"):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _plain_response(send, 413, "Polling payload too large.")
                return
            if not message.get("more_body"):
                break
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await _plain_response(send, 400, "Polling payloads must be UTF-8 text.")
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _plain_response(send: Any, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": text.encode()})


def _rich_args(message: StoredMessage) -> tuple[str, int, dict]:
    # A tuple is sent as several Socket.IO arguments: (text, offset, metadata),
    # so the tutorial's (msg, serverOffset) handlers work unchanged.
    return message.text, message.offset, message.as_dict()


def _room_key(room: str) -> str:
    return f"room:{room}"


def _nick_room(nickname: str) -> str:
    # Every rich client sits in a room named after its nickname, so a private
    # message reaches it through the client manager, whichever process it is on.
    return f"nickname:{nickname}"


_ONLINE_KEY = "chat_lib:online"  # one hash per server process: sid -> nickname
_ONLINE_TTL = 6  # seconds; a killed process's entries vanish after this
MAX_ROOMS_PER_CLIENT = 50
_SLOW_DOWN = "Too many messages; slow down."


def _redis_manager(url: str) -> socketio.AsyncRedisManager:
    """A Redis client manager, after checking that Redis answers (a clear error now, not retries later)."""
    import redis

    from .errors import ServerStartError

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except (redis.exceptions.RedisError, ValueError) as exc:
        raise ServerStartError(
            f"Cannot reach Redis at {url}: {exc}. Start a redis-server (chat_lib.LocalRedis starts one) "
            "or fix the URL."
        ) from exc
    return socketio.AsyncRedisManager(url)


def _async_redis(url: str) -> Any:
    import redis.asyncio

    return redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def create_app(**options: Any) -> Any:
    """Return the ASGI app of a new :class:`ChatServer`; ``options`` are its parameters."""
    return ChatServer(**options).app
