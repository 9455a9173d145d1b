"""Chat messages: check, store once, deliver; catch-up and history (notebooks 03 and 06).

Each method below is written, word for word, in notebook 03 (the message and
its delivery) or 06 (the log, catch-up and history).
"""

from __future__ import annotations

from .. import protocol
from .members import room_key

__all__ = ["Messages"]


class Messages:
    """The handlers for ``'chat message'`` and ``history``, and the catch-up on connecting."""

    async def on_chat_message(self, member, message, client_offset=None):
        text, message_id, room = self.read_message(member, message, client_offset)
        stored, is_new = self.store.append(message_id, member.nickname, text, room)
        if (stored.text, stored.nickname, stored.room) != (text, member.nickname, room):
            raise ValueError("This message id is already used; send again with a new id.")
        if is_new:
            await self.deliver(stored)
        return {"ok": True, "offset": stored.offset, "id": stored.message_id}

    def read_message(self, member, message, client_offset):
        """The three shapes of protocol.py, as (text, id, room); raise ValueError if wrong."""
        message_id, room = client_offset, None
        if isinstance(message, dict):
            message, message_id, room = message.get("text"), message.get("id"), message.get("room")
        text = protocol.validate_text(message, self.config.max_message_bytes)
        if message_id is None:
            message_id = self.new_message_id()
        if not (isinstance(message_id, str) and 0 < len(message_id) <= 64):
            raise ValueError("A message id must be a string of 1 to 64 characters.")
        if room is not None:
            room = protocol.validate_room(room)
            if room not in member.rooms:
                raise ValueError(f"Join the room {room!r} before sending to it.")
        return text, message_id, room

    async def deliver(self, message):
        """Broadcast a stored message to everybody, each audience in its own form."""
        if message.room is not None:
            await self.emit(protocol.CHAT_MESSAGE, as_sent_to("rich", message), to=room_key(message.room))
            return
        # One broadcast, in each audience's form (with Redis: one publish, not three).
        forms = {audience: as_sent_to(audience, message) for audience in ("rich", "tutorial", "plain")}
        await self.emit_forms(protocol.CHAT_MESSAGE, forms)

    async def catch_up(self, member, after):
        """Send ``member`` every message after offset ``after``, then let live ones in."""
        if member.audience == "rich":
            welcome = {"nickname": member.nickname, "offset": after, "logId": self.store.log_id}
            await self.emit(protocol.WELCOME, welcome, to=member.sid)
        for room in member.rooms:  # the rooms it is back in; a live message may come twice, clients drop repeats
            for message in self.store.since(after, room=room):
                await self.emit(protocol.CHAT_MESSAGE, as_sent_to("rich", message), to=member.sid)
        while missed := self.store.since(after, limit=500):
            for message in missed:
                await self.emit(protocol.CHAT_MESSAGE, as_sent_to(member.audience, message), to=member.sid)
            after = missed[-1].offset
            if not await self.paced(member.sid):  # a page at a time, as fast as the client reads
                return
        # No await since the read that found nothing new: no message falls in between.
        await self.enter_room(member.sid, member.audience)
        if self.config.redis_url:
            # Another process may have stored a message just before we entered the
            # room, its broadcast passing us by: send it again (clients drop repeats).
            for message in self.store.since(after):
                await self.emit(protocol.CHAT_MESSAGE, as_sent_to(member.audience, message), to=member.sid)

    async def on_history(self, member, request):
        if not isinstance(request, dict):
            raise ValueError('Ask with {"after": offset}, {"count": n} or {"offsets": [...]}.')
        if "offsets" in request:  # a client filling the holes in what it received
            offsets = request["offsets"]
            if not isinstance(offsets, list) or not 0 < len(offsets) <= MAX_HISTORY:
                raise ValueError(f"offsets must be a list of 1 to {MAX_HISTORY} offsets.")
            if not all(map(protocol.is_offset, offsets)):
                raise ValueError("offsets must hold offsets: integers from 0.")
            messages = self.store.at(offsets)
        else:
            after, count = request.get("after"), request.get("count", 50)
            if not isinstance(count, int) or not 0 < count <= MAX_HISTORY:
                raise ValueError(f"count must be an integer from 1 to {MAX_HISTORY}.")
            if after is not None and not protocol.is_offset(after):
                raise ValueError("after must be an offset: an integer from 0.")
            messages = self.store.recent(count) if after is None else self.store.since(after, limit=count)
        page = within_bytes(messages, MAX_HISTORY_BYTES)
        return {"ok": True, "messages": [m.as_dict() for m in page], "more": len(page) < len(messages)}


MAX_HISTORY = protocol.MAX_HISTORY  #: messages in one history answer, offsets in one request
MAX_HISTORY_BYTES = 256 * 1024  #: text in one history answer; for the rest, ask again past its last offset


def within_bytes(messages, budget):
    """The first of ``messages`` whose texts fit in ``budget`` UTF-8 bytes (at least one)."""
    for count, message in enumerate(messages):
        budget -= len(message.text.encode())
        if budget < 0:
            return messages[: max(count, 1)]
    return messages


def as_sent_to(audience, message):
    """A stored message in the form its audience expects (protocol.py).

    A tuple is sent as several Socket.IO arguments.
    """
    if audience == "rich":
        return message.text, message.offset, message.meta()
    if audience == "tutorial":
        return message.text, message.offset
    return message.text
