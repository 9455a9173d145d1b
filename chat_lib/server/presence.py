"""Who is online: this process's members, or every process's through Redis.

Both kinds answer the same three calls, so the handlers never ask which one
they have: :meth:`changed` after a join, leave or rename, :meth:`everyone`
for the list, :meth:`close` at the end.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .members import Member

__all__ = ["LocalPresence", "RedisPresence"]

logger = logging.getLogger("chat_lib.server.presence")


class LocalPresence:
    """The members of this process, which is the whole chat."""

    def __init__(self, members: dict[str, Member]) -> None:
        self.members = members

    async def changed(self) -> None:
        """Nothing to share: the members dict is the truth."""

    async def everyone(self) -> list[str]:
        """Sorted nicknames, one entry per connection."""
        return sorted(member.nickname for member in self.members.values())

    async def close(self) -> None:
        pass


class RedisPresence(LocalPresence):
    """The members of every process on one Redis.

    Each process keeps a hash ``chat_lib:online:<server id>`` (sid -> nickname)
    that expires unless refreshed: a killed process's people vanish from the
    list after :attr:`TTL` seconds.
    """

    KEY = "chat_lib:online"
    TTL = 6  # seconds

    def __init__(self, members: dict[str, Member], url: str, server_id: str) -> None:
        import redis.asyncio

        super().__init__(members)
        self.redis = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.key = f"{self.KEY}:{server_id}"
        self._refresher: asyncio.Task | None = None

    async def changed(self) -> None:
        """Write this process's members, under a key that expires if we die."""
        if self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_forever())
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.key)
                if self.members:
                    pipe.hset(self.key, mapping={sid: m.nickname for sid, m in self.members.items()})
                    pipe.expire(self.key, self.TTL)
                await pipe.execute()
        except Exception as exc:  # Redis lost: the list goes stale, the chat goes on
            logger.warning("Redis unreachable (%s); the online list may be stale", exc)

    async def everyone(self) -> list[str]:
        try:
            names: list[str] = []
            async for key in self.redis.scan_iter(match=f"{self.KEY}:*"):
                names.extend(value.decode() for value in await self.redis.hvals(key))
            return sorted(names)
        except Exception as exc:
            logger.warning("Redis unreachable (%s); showing this server's clients only", exc)
            return await super().everyone()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.TTL / 3)
            await self.changed()

    async def close(self) -> None:
        """Stop refreshing and forget our entries; idempotent."""
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        try:
            await self.redis.delete(self.key)
        except Exception:  # pragma: no cover - they expire by themselves
            pass
        await self.redis.aclose()


def presence_for(members: dict[str, Member], redis_url: str | None, server_id: str) -> Any:
    return RedisPresence(members, redis_url, server_id) if redis_url else LocalPresence(members)
