"""The base of the chat's handlers: what every event goes through, once.

python-socketio calls a namespace's ``on_<event>`` method for each event.
:class:`ChatNamespace` does the same (``'chat message'`` calls
``on_chat_message``), and before it runs a handler it does what every handler
would otherwise repeat: it finds the member who sent the event, refuses an
event nobody may send, takes one token from the member's rate limit, and
checks the number of arguments. A handler refuses by raising ``ValueError``
with a sentence for the client; the refusal goes back as the acknowledgement,
or as a ``'chat error'`` event when the client asked for none
(:mod:`chat_lib.protocol` says which).

The handlers themselves are small feature classes (notebooks 03 and 06 write
them): :class:`~chat_lib.server.ChatServer` composes them with this base.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import engineio
import socketio

from .. import protocol
from ..errors import LogUnavailable
from ..overrides import ack_requested
from .members import Member, TokenBucket
from .notices import PresenceNotices

if TYPE_CHECKING:
    from .app import ChatServer

__all__ = ["ChatNamespace", "SLOW_DOWN"]

logger = logging.getLogger("chat_lib.server")

SLOW_DOWN = "Too many messages; slow down."


class ChatNamespace(socketio.AsyncNamespace):
    """The default namespace ``/``, its members, and the rules every event follows.

    :param chat: the server whose store, presence and options the handlers use.
    """

    def __init__(self, chat: ChatServer) -> None:
        super().__init__("/")
        self.chat = chat
        self.config = chat.config
        self.members: dict[str, Member] = chat.members
        self.departed: dict[str, Member] = {}  # token -> who left lately, to give back on return
        self._message_count = itertools.count(1)
        self.address_buckets: dict[str, TokenBucket] = {}
        self.notices = PresenceNotices(self, chat.config.presence_window)

    @property
    def store(self) -> Any:
        return self.chat.store

    @property
    def presence(self) -> Any:
        return self.chat.presence

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":  # only python-socketio raises these (see overrides)
            try:
                return await super().trigger_event(event, *args)
            except LogUnavailable:
                # Its catch-up failed: better gone (it reconnects, and catches up then)
                # than connected and outside the live room.
                logger.warning("the message log is unavailable; dropping %s, which will come back", args[0])
                await self.server.disconnect(args[0])
                return None
        if event == "disconnect":
            return await super().trigger_event(event, *args)
        sid, *args = args
        member = self.members.get(sid)
        handler = getattr(self, "on_" + event.replace(" ", "_"), None)
        try:
            if member is None:
                raise ValueError("Not connected to the chat.")
            if not member.allowed():  # every event costs, unknown ones too
                # A retry may cure this, so no acknowledgement (protocol.py says why).
                await self.tell_error(sid, event, SLOW_DOWN)
                return self.server.not_handled
            if event not in protocol.CLIENT_EVENTS or handler is None:
                raise ValueError(f"This server has no event called {event!r}.")
            fewest, most = arity(handler)
            if not fewest <= len(args) + 1 <= most:  # the member, then what the client sent
                raise ValueError(f"Wrong number of arguments for {event!r}.")
            return await handler(member, *args)
        except LogUnavailable:
            # Nothing was stored, and a retry may succeed once Redis is back: no ack (protocol.py).
            logger.warning("the message log is unavailable; %r from %s not handled", event, sid)
            await self.tell_error(sid, event, "The message log is unavailable; your message was not stored yet.")
            return self.server.not_handled
        except ValueError as exc:
            logger.info("refused %r from %s: %s", event, sid, exc)
            # The tutorial's client asks for acknowledgements through its retries,
            # and its code never sees them: it hears refusals as events.
            if not ack_requested.get() or (member is not None and member.audience == "tutorial"):
                await self.tell_error(sid, event, str(exc))
            return {"ok": False, "error": str(exc)}

    async def emit_forms(self, event: str, forms: dict[str, Any]) -> None:
        """Emit ``event`` to several rooms, each with its own data (room -> data): one broadcast.

        With Redis it is one publish for all the rooms, where an emit per room
        would be a publish each, for every process to decode.
        """
        await self.server.manager.emit_forms(event, forms, self.namespace)

    async def tell_error(self, sid: str, event: str, error: str) -> None:
        """Send one client a ``'chat error'`` event: the refusal of an event that asked for no answer."""
        await self.emit(protocol.CHAT_ERROR, {"event": event, "error": error}, to=sid)

    async def add_member(self, sid: str, auth: Any) -> Member:
        """Make the connection ``sid`` a member: who it is, what it hears, what it may send.

        A client that comes back with its ``token`` within the grace period
        gets its nickname, rooms and rate limit back. A nickname in ``auth``
        that is not acceptable, or that somebody else owns, is refused with a
        ``'chat error'``, and the member gets a guest name.
        """
        audience = protocol.audience_of(auth)
        token = auth.get("token") if audience == "rich" else None
        if token is not None and not (isinstance(token, str) and 16 <= len(token) <= 128):
            await self.tell_error(sid, "connect", "A token must be a string of 16 to 128 characters; ignored.")
            token = None
        token = token or f"connection:{sid}"  # without one, a client is known by this connection alone
        member = self.departed.pop(token, None) or self.twin(token) or Member(sid, "", audience, token, self.new_bucket())
        member.sid, member.audience, member.typing = sid, audience, False
        if audience == "plain" and isinstance(auth, dict) and auth:
            hint = 'An auth object needs the key "serverOffset" (None for a newcomer) to use the chat\'s features.'
            await self.tell_error(sid, "connect", hint)
        wanted = auth.get("nickname") if audience != "plain" else None
        if wanted is not None and wanted != member.nickname:  # its own name (a guest's too) needs no check
            try:
                member.nickname = await self.claimed(protocol.validate_nickname(wanted), token)
            except ValueError as exc:
                await self.tell_error(sid, "connect", str(exc))
        if not member.nickname or not await self.presence.claim(member.nickname, token):
            member.nickname = await self.guest_name(sid, token)
        member.address_bucket = self.address_bucket(sid)
        member.allowed()  # connecting costs like a message: reconnect loops do not refill the limit
        self.members[sid] = member
        logger.info("%s connected as %r (%s)", sid, member.nickname, audience)
        return member

    def twin(self, token: str) -> Member | None:
        """A new member like a connection of the same token still online (another tab, or a
        reconnection that came before the server noticed the old connection was gone)."""
        for other in self.members.values():
            if other.token == token:
                return Member("", other.nickname, other.audience, token, other.bucket, set(other.rooms))
        return None

    async def remove_member(self, sid: str) -> Member | None:
        """Forget the connection ``sid``; keep its owner's name, rooms and rate limit for the grace period.

        A client without a token cannot come back as itself: its name is free at once.
        """
        member = self.members.pop(sid, None)
        if member is not None and not member.token.startswith("connection:"):
            now = time.monotonic()
            self.departed = {token: m for token, m in self.departed.items() if m.left_at > now - self.presence.GRACE}
            member.left_at = now
            self.departed[member.token] = member
            await self.presence.release(member.nickname, member.token)  # held for its owner, who may come back
        return member

    def is_only_connection(self, member: Member) -> bool:
        """Whether ``member`` is the only connection online under its nickname."""
        name = protocol.canonical_nickname(member.nickname)
        return not any(
            protocol.canonical_nickname(other.nickname) == name and other.sid != member.sid
            for other in self.members.values()
        )

    async def claimed(self, nickname: str, token: str) -> str:
        """``nickname``, now owned by ``token``; ``ValueError`` if somebody else owns it."""
        if not await self.presence.claim(nickname, token):
            raise ValueError(f"The nickname {nickname!r} is taken; choose another.")
        return nickname

    async def guest_name(self, sid: str, token: str) -> str:
        for length in (4, 8, len(sid)):  # the short name, unless two connections' ids begin alike
            name = f"{protocol.GUEST_PREFIX}{sid[:length]}"
            if await self.presence.claim(name, token):
                return name
        return name

    def new_message_id(self) -> str:
        """An id for a message sent without one: this server's, then a count.

        Unique across restarts (the server id is new at each start), and
        increasing, so the log's index of ids grows at its end: a random id
        costs SQLite more than twice the time to store.
        """
        # The count, zero-padded, keeps them in order; the random tail keeps a
        # client from storing the next ones first and so blocking them.
        return f"{self.chat.server_id}-{next(self._message_count):012d}-{secrets.token_hex(4)}"

    def address_bucket(self, sid: str) -> TokenBucket | None:
        """The rate limit that every connection from ``sid``'s address shares, if there is one."""
        if self.config.rate_limit_per_address is None:
            return None
        address = (self.server.get_environ(sid) or {}).get("REMOTE_ADDR", "")
        if address not in self.address_buckets and len(self.address_buckets) > 10_000:
            self.address_buckets.clear()  # a flood of addresses: forget them rather than grow
        return self.address_buckets.setdefault(address, TokenBucket(*self.config.rate_limit_per_address))

    def new_bucket(self) -> TokenBucket | None:
        return TokenBucket(*self.config.rate_limit) if self.config.rate_limit else None

    def start_offset(self, auth: dict) -> int:
        """Where a client's catch-up starts: its ``serverOffset``, or the log's head for a newcomer.

        Offsets from another log (a ``logId`` that is not ours) mean nothing here.
        """
        after = auth.get("serverOffset")
        if auth.get("logId") not in (None, self.store.log_id) or not protocol.is_offset(after):
            return self.store.last_offset()
        return after

    async def paced(self, sid: str, most: int = 500) -> bool:
        """Wait until the client ``sid`` has read all but ``most`` of what was sent to it.

        Catch-up sends the log in pages; without this, a client that asks for
        everything from offset 0 and then never reads (a polling session that
        stops polling) would make the server hold the whole log in its queue.
        :returns: ``False`` if the client left, or read nothing for a ping timeout.
        """
        eio_sid = self.server.manager.eio_sid_from_sid(sid, "/")
        socket = self.server.eio.sockets.get(eio_sid)
        deadline = time.monotonic() + self.config.ping_interval + self.config.ping_timeout
        while socket is not None and not socket.closed and socket.queue.qsize() > most:
            if time.monotonic() > deadline:  # it reads nothing: drop it, it may come back and catch up
                await self.server.disconnect(sid)
                return False
            await asyncio.sleep(0.01)
        return socket is not None and not socket.closed and sid in self.members

    async def release_long_poll(self, sid: str) -> None:
        """Answer a leaving polling client's pending GET at once.

        python-engineio does not answer it when the client says goodbye, and
        python-socketio's client waits for it: up to the ping interval.
        """
        eio_sid = self.server.manager.eio_sid_from_sid(sid, "/")
        if eio_sid is not None:
            await self.server.eio.send_packet(eio_sid, engineio.packet.Packet(engineio.packet.NOOP))


@functools.lru_cache(maxsize=256)
def _arity(function: Any) -> tuple[int, int]:
    parameters = list(inspect.signature(function).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 0, 2**31
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return sum(p.default is p.empty for p in positional), len(positional)


def arity(handler: Any) -> tuple[int, int]:
    """How many positional arguments a bound handler takes, at least and at most (cached: per event).

    ``inspect.signature(...).bind`` says the same, at a cost of some 70 µs a message.
    """
    function = getattr(handler, "__func__", None)
    if function is None:
        return _arity(handler)
    fewest, most = _arity(function)
    return fewest - 1, most - 1  # self is bound already
