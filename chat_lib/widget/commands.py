"""What typed text means, as in the browser page: ``/msg``, ``/join``, ``/leave``, ``#room`` (notebook 03)."""

from __future__ import annotations

import re

from ..client import ChatClient

__all__ = ["send_as_typed"]

# The browser page's syntax, so both faces agree.
PRIVATE = re.compile(r"^/msg\s+(\S+)\s+(.+)$", re.DOTALL)
ROOM_COMMAND = re.compile(r"^/(join|leave)\s+(\S+)\s*$")
ROOM_MESSAGE = re.compile(r"^#(\S+)\s+(.+)$", re.DOTALL)


async def send_as_typed(client: ChatClient, text: str, *, timeout: float | None) -> tuple[dict, str | None]:
    """Do what ``text`` asks, on a server that speaks this series' protocol.

    ``/msg name text`` sends a private message, ``/join room`` and ``/leave
    room`` enter and leave a room, ``#room text`` sends to a room; anything
    else is a chat message.

    :returns: the server's acknowledgement, and the id of the chat message sent
              (``None`` for a command or a private message).
    :raises MessageRejected: the server refused.
    """
    private = PRIVATE.match(text)
    if private:
        return await client.send_private(private[1], private[2], timeout=timeout), None
    command = ROOM_COMMAND.match(text)
    if command:
        if command[1] == "join":
            await client.join(command[2])
        else:
            await client.leave(command[2])
        return {"ok": True, "room": command[2]}, None
    room_message = ROOM_MESSAGE.match(text)
    if room_message:
        answer = await client.send(room_message[2], room=room_message[1], timeout=timeout)
    else:
        answer = await client.send(text, timeout=timeout)
    return answer, answer["id"]
