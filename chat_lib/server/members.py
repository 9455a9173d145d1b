"""A connected client as the server knows it, and its rate limit."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..protocol import Audience

__all__ = ["Member", "TokenBucket", "nickname_room", "room_key"]


@dataclass
class TokenBucket:
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
class Member:
    """One connection in the chat: who it is, what it hears, what it may still send."""

    sid: str
    nickname: str
    audience: Audience
    token: str
    bucket: TokenBucket | None = None
    address_bucket: TokenBucket | None = None  #: shared by every connection from its address, if limited
    rooms: set[str] = field(default_factory=set)
    typing: bool = False
    left_at: float = 0.0  #: when it disconnected (monotonic), for the grace period

    def allowed(self) -> bool:
        """Take one event from the rate limits (its own, its address's); ``False`` when one is spent."""
        return (self.bucket is None or self.bucket.take()) and (
            self.address_bucket is None or self.address_bucket.take()
        )


def room_key(room: str) -> str:
    """The Socket.IO room of a chat room (apart from the server's own rooms)."""
    return f"room:{room}"


def nickname_room(nickname: str) -> str:
    """The room every non-plain client sits in under its nickname.

    A private message reaches it through the client manager, whichever
    process it is on (notebook 07).
    """
    return f"nickname:{nickname}"
