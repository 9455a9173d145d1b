"""Who is online, and who owns which nickname: this process alone, or every process through Redis.

Both kinds answer the same calls, so the handlers never ask which one they
have: :meth:`claim` a nickname for a client's token, :meth:`release` it when
the client leaves (its owner keeps it for :attr:`GRACE` seconds, so a flaky
link does not lose it), :meth:`changed` after a join, leave or rename,
:meth:`everyone` for the list, :meth:`close` at the end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..protocol import canonical_nickname
from .members import Member

__all__ = ["LocalPresence", "RedisPresence", "presence_for"]

logger = logging.getLogger("chat_lib.server.presence")


class LocalPresence:
    """The members of this process, which is the whole chat."""

    GRACE = 30.0  #: seconds a nickname stays its owner's after the owner left

    def __init__(self, members: dict[str, Member]) -> None:
        self.members = members
        self.held: dict[str, tuple[str, float]] = {}  # canonical name -> (owner's token, held until)

    async def claim(self, nickname: str, token: str) -> bool:
        """Make ``nickname`` the name of ``token``'s owner; ``False`` if somebody else has it."""
        name, now = canonical_nickname(nickname), time.monotonic()
        online = {member.token for member in self.members.values() if canonical_nickname(member.nickname) == name}
        owner, until = self.held.get(name, (token, now))
        return not (online - {token}) and (owner == token or until <= now)

    async def release(self, nickname: str, token: str) -> None:
        """Keep ``nickname`` for ``token``'s owner a little while after they left."""
        now = time.monotonic()
        self.held = {name: held for name, held in self.held.items() if held[1] > now}  # forget the expired
        self.held[canonical_nickname(nickname)] = (token, now + self.GRACE)

    async def changed(self) -> None:
        """Nothing to share: the members dict is the truth."""

    async def reachable(self, nickname: str) -> bool:
        """Whether a private message to ``nickname`` reaches somebody: only the page,
        ``ChatClient`` and the widget (rich clients) listen for them."""
        return any(m.nickname == nickname and m.audience == "rich" for m in self.members.values())

    async def everyone(self) -> list[str]:
        """The nicknames online, sorted, each once."""
        return sorted({member.nickname for member in self.members.values()})

    async def close(self) -> None:
        pass


class RedisPresence(LocalPresence):
    """The members of every process on one Redis, and one owner per nickname across them.

    Each process keeps a hash ``chat_lib:online:<server id>`` (sid -> nickname)
    that expires unless refreshed: a killed process's people vanish from the
    list after :attr:`TTL` seconds. A nickname is a key
    ``chat_lib:name:<canonical name>`` holding its owner's token, refreshed
    while its owner is online and left to expire :attr:`GRACE` seconds after.
    """

    KEY = "chat_lib:online"
    TTL = 6  # seconds

    def __init__(self, members: dict[str, Member], url: str, server_id: str) -> None:
        import redis.asyncio

        super().__init__(members)
        self.redis = redis.asyncio.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.key = f"{self.KEY}:{server_id}"
        self._refresher: asyncio.Task | None = None
        self._seen: dict[bytes, set[str]] = {}  # each process's key -> its names, at the last look
        self._closed = False
        #: called with the names that went with a process that died (its key expired unrefreshed)
        self.on_vanished: Any = None

    async def claim(self, nickname: str, token: str) -> bool:
        self._refresh_soon()  # with or without presence notices, owned names must be kept alive
        key = f"chat_lib:name:{canonical_nickname(nickname)}"
        try:
            if await self.redis.set(key, token, nx=True, ex=int(self.GRACE)):
                return True
            return await self.redis.get(key) == token.encode()
        except Exception as exc:  # Redis lost: this process's view decides
            logger.warning("Redis unreachable (%s); checking the nickname on this server only", exc)
            return await super().claim(nickname, token)

    async def release(self, nickname: str, token: str) -> None:
        """Nothing to do: the name's key expires by itself once nobody refreshes it."""

    async def reachable(self, nickname: str) -> bool:
        # Here we know each client's kind; of another process's, only the name.
        local = [m for m in self.members.values() if m.nickname == nickname]
        if local:
            return any(m.audience == "rich" for m in local)
        return nickname in await self.everyone()

    async def changed(self):
        """Write this process's members, under a key that expires if we die."""
        self._refresh_soon()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.key)
                if self.members:
                    pipe.hset(self.key, mapping={sid: m.nickname for sid, m in self.members.items()})
                    pipe.expire(self.key, self.TTL)
                for member in self.members.values():  # the names of the people online stay theirs
                    pipe.expire(f"chat_lib:name:{canonical_nickname(member.nickname)}", int(self.GRACE))
                await pipe.execute()
        except Exception as exc:  # Redis lost: the list goes stale, the chat goes on
            logger.warning("Redis unreachable (%s); the online list may be stale", exc)

    async def everyone(self):
        try:
            names = set()
            async for key in self.redis.scan_iter(match=f"{self.KEY}:*"):
                names.update(value.decode() for value in await self.redis.hvals(key))
            return sorted(names)
        except Exception as exc:
            logger.warning("Redis unreachable (%s); showing this server's clients only", exc)
            return sorted({member.nickname for member in self.members.values()})

    def _refresh_soon(self) -> None:
        if self._refresher is None and not self._closed:
            self._refresher = asyncio.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.TTL / 3)
            try:
                await self.changed()
                await self._look_for_the_vanished()
            except Exception:  # one bad round must not end the refreshing: names would expire
                logger.exception("refreshing the online list failed; trying again")

    async def _look_for_the_vanished(self) -> None:
        """Find the people of processes whose key expired: a killed process says no goodbyes."""
        try:
            now = {key: {v.decode() for v in await self.redis.hvals(key)}
                   async for key in self.redis.scan_iter(match=f"{self.KEY}:*")}
        except Exception:  # Redis lost: look again next time
            return
        gone = set().union(*(names for key, names in self._seen.items() if key not in now))
        gone -= set().union(*now.values())  # still online elsewhere (or left with a goodbye: clients know)
        self._seen = now
        if gone and self.on_vanished is not None:
            await self.on_vanished(sorted(gone))

    async def close(self) -> None:
        """Stop refreshing and forget our entries; idempotent."""
        self._closed = True
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
