"""Rooms and private messages (notebook 03).

Each method below is written, word for word, in notebook 03.
"""

from __future__ import annotations

import time

from .. import protocol
from .members import nickname_room, room_key

__all__ = ["Rooms", "MAX_ROOMS_PER_CLIENT"]

MAX_ROOMS_PER_CLIENT = 50


class Rooms:
    """The handlers for ``join``, ``leave`` and ``'private message'``."""

    async def on_join(self, member, room):
        room = protocol.validate_room(room)
        if member.audience != "rich":
            raise ValueError("Rooms need a client that sends auth.")
        if room not in member.rooms and len(member.rooms) >= MAX_ROOMS_PER_CLIENT:
            raise ValueError(f"You are in {MAX_ROOMS_PER_CLIENT} rooms; leave one before joining another.")
        member.rooms.add(room)
        await self.enter_room(member.sid, room_key(room))
        await self.emit(protocol.JOIN, {"nickname": member.nickname, "room": room}, to=room_key(room))
        return {"ok": True, "room": room, "history": [m.as_dict() for m in self.store.recent(50, room)]}

    async def on_leave(self, member, room):
        if not isinstance(room, str) or room.strip() not in member.rooms:
            raise ValueError(f"You are not in the room {room!r}.")
        room = room.strip()
        member.rooms.discard(room)
        await self.emit(protocol.LEAVE, {"nickname": member.nickname, "room": room}, to=room_key(room))
        await self.leave_room(member.sid, room_key(room))
        return {"ok": True, "room": room}

    async def on_private_message(self, member, note):
        if not isinstance(note, dict):
            raise ValueError('Send {"to": nickname, "text": message}.')
        text = protocol.validate_text(note.get("text"), self.config.max_message_bytes)
        recipient = note.get("to")
        if not isinstance(recipient, str) or recipient not in await self.presence.everyone():
            raise ValueError(f"Nobody called {recipient!r} is online.")
        if not await self.presence.reachable(recipient):
            raise ValueError(f"{recipient} uses a client without private messages; write in the chat instead.")
        sent = {"from": member.nickname, "to": recipient, "text": text, "sent_at": time.time()}
        # A list of rooms reaches each client once, even one in both.
        await self.emit(protocol.PRIVATE_MESSAGE, sent, to=[nickname_room(recipient), member.sid])
        return {"ok": True}
