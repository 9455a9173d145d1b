"""Who is here: arrivals, departures, nicknames and "is typing" (notebook 03).

Each method below is written, word for word, in notebook 03; the notebook
adds it to a running server and tries it at once.
"""

from __future__ import annotations

from .. import protocol
from .members import nickname_room, room_key

__all__ = ["People"]


class People:
    """The handlers for ``connect``, ``disconnect``, ``nickname`` and ``typing``."""

    async def on_connect(self, sid, environ, auth=None):
        # The client counts as connected already, and add_member may wait for Redis:
        # whatever is sent meanwhile must reach it. A plain client has no catch-up,
        # so it hears broadcasts from now on; the others catch up from here.
        plain = protocol.audience_of(auth) == "plain"
        if plain:
            await self.enter_room(sid, "plain")
        after = None if plain else self.start_offset(auth)
        member = await self.add_member(sid, auth)
        if not plain:
            await self.enter_room(sid, nickname_room(member.nickname))
            for room in member.rooms:  # back within the grace period: its rooms too
                await self.enter_room(sid, room_key(room))
            await self.catch_up(member, after)
        if self.config.presence:
            await self.notices.joined(sid, member.nickname, self.is_only_connection(member))

    async def on_disconnect(self, sid, reason=None):
        member = await self.remove_member(sid)
        if member is None:  # it never finished connecting
            return
        if reason == self.server.reason.CLIENT_DISCONNECT:
            await self.release_long_poll(sid)
        if member.typing:  # else the others would see "X is typing" forever
            await self.emit(protocol.TYPING, {"nickname": member.nickname, "typing": False})
        if self.config.presence:
            self.notices.left(member.nickname, self.is_only_connection(member))

    async def on_nickname(self, member, nickname):
        new, old = protocol.validate_nickname(nickname), member.nickname
        if new != old:
            member.nickname = await self.claimed(new, member.token)
            await self.presence.release(old, member.token)
            if member.audience != "plain":
                await self.leave_room(member.sid, nickname_room(old))
                await self.enter_room(member.sid, nickname_room(new))
            self.notices.renamed(old, new)
        return {"ok": True, "nickname": new}

    async def on_typing(self, member, typing):
        if not isinstance(typing, bool):
            raise ValueError("typing takes true or false.")
        member.typing = typing
        await self.emit(protocol.TYPING, {"nickname": member.nickname, "typing": typing}, skip_sid=member.sid)
