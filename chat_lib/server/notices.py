"""Join, leave and rename notices, coalesced: presence that costs O(1) per change.

Sending everybody the whole online list on every join costs N messages of up
to N names per join: N² messages and N³ bytes to fill a room of N people. So
the others get only what changed, as one ``'presence'`` event
``{"joined": [...], "left": [...], "renamed": [[old, new], ...]}``, and a
burst of changes within :attr:`PresenceNotices.window` seconds travels as one
event. Only a newcomer gets the whole list (``'online'``), once, at once,
capped at :data:`MAX_ONLINE_LIST` names.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import protocol

__all__ = ["PresenceNotices", "MAX_ONLINE_LIST"]

MAX_ONLINE_LIST = 1000  #: names in a newcomer's list; a bigger room shows the first ones and the count


class PresenceNotices:
    """Collects presence changes and sends them at most once per ``window`` seconds.

    The first change after a quiet spell goes out at once; changes that follow
    within the window wait for its end and go out together.

    :param namespace: the chat namespace that emits them.
    :param window: seconds between two presence events.
    """

    def __init__(self, namespace: Any, window: float = 0.1) -> None:
        self.namespace = namespace
        self.window = window
        self._joined: list[str] = []
        self._left: list[str] = []
        self._renamed: list[list[str]] = []
        self._newcomers: list[str] = []
        self._last_sent = 0.0
        self._flush: asyncio.Task | None = None

    async def joined(self, sid: str, nickname: str, first_connection: bool) -> None:
        """``sid`` arrived: it gets the whole list now; the others hear of its name if it is new online."""
        self._newcomers.append(sid)  # it has the list: the next change is not for it
        if first_connection:
            self._joined.append(nickname)
        self._schedule()
        await self.namespace.emit(protocol.ONLINE, await self.online(), to=sid)

    async def online(self) -> list[str]:
        """Everybody online (this process's people included, even before they are shared), capped."""
        names = set(await self.namespace.presence.everyone())
        names.update(member.nickname for member in self.namespace.members.values())
        return sorted(names)[:MAX_ONLINE_LIST]

    def left(self, nickname: str, last_connection: bool) -> None:
        if last_connection:
            self._left.append(nickname)
            self._schedule()

    def renamed(self, old: str, new: str) -> None:
        self._renamed.append([old, new])
        self._schedule()

    def _schedule(self) -> None:
        if self._flush is None or self._flush.done():
            self._flush = asyncio.ensure_future(self._send_after(self._last_sent + self.window - time.monotonic()))

    async def _send_after(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        self._last_sent = time.monotonic()
        newcomers, self._newcomers = self._newcomers, []
        change = {"joined": self._joined, "left": self._left, "renamed": self._renamed}
        self._joined, self._left, self._renamed = [], [], []
        await self.namespace.presence.changed()
        if any(change.values()):
            await self.namespace.emit(protocol.PRESENCE, change, skip_sid=newcomers or None)

    async def settle(self) -> None:
        """Wait until every change so far has been sent (tests, shutdown)."""
        while self._flush is not None and not self._flush.done():
            await self._flush
