"""One object for every option of a chat server.

:class:`ChatConfig` is what the command line builds, what
:class:`~chat_lib.background.BackgroundServer` takes, and what reaches a
process-mode server whole (as JSON), like uvicorn's ``Config``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Literal

from . import protocol

__all__ = ["ChatConfig"]

Transport = Literal["polling", "websocket"]


@dataclass(frozen=True)
class ChatConfig:
    """The options of a :class:`~chat_lib.server.ChatServer`.

    :param max_message_bytes: longest accepted chat message, in UTF-8 bytes.
    :param max_payload_bytes: largest long-polling POST or WebSocket frame the
                              server reads (1 MB, Node's ``maxHttpBufferSize``).
                              A larger POST gets 413, never a silent 200.
    :param store: SQLite file of the message log; ``None`` keeps it in memory,
                  or with ``redis_url`` in a Redis stream (notebook 08).
    :param cors_allowed_origins: origins allowed to connect; ``None`` allows
                                 only the page's own origin, ``"*"`` all.
    :param rate_limit: ``(messages per second, burst)`` per connection, or
                       ``None`` for no limit (benchmarks).
    :param rate_limit_per_address: the same, shared by every connection from
                                   one address: reconnecting or opening more
                                   sockets does not refill it. Off by default,
                                   since tests and benchmarks open many clients
                                   from 127.0.0.1; behind a proxy every client
                                   has the proxy's address.
    :param ping_interval: seconds between Engine.IO pings. Short intervals let
                          polling clients notice a stop quickly (notebooks).
    :param ping_timeout: seconds without a pong before a client is dropped.
    :param redis_url: a Redis server that joins several server processes
                      (notebook 07); checked at start.
    :param transports: the transports offered, default both; ``("polling",)``
                       plays a server where WebSocket is not available.
    :param presence: announce joins, leaves and the online list (default).
    :param presence_window: seconds over which joins, leaves and renames are
                            gathered into one ``'presence'`` event.
    :param allowed_hosts: further names the ``Host`` header may carry, besides
                          ``localhost``, ``127.0.0.1``, ``[::1]`` and the bound
                          address; any other gets 421 (DNS rebinding). ``None``
                          (default) and bound to every interface (``0.0.0.0``)
                          or under JupyterHub, whose proxy forwards the
                          browser's Host: any name. ``("*",)``: any name, always.
    :param frame_ancestors: origins besides the page's own that may show it in
                            a frame (CSP ``frame-ancestors``); by default a
                            JupyterLab on this machine without the proxy.
    :param max_sessions_per_address: most connections one client address may
                                     hold at once (401 beyond); ``None``: no cap
                                     (tests and benchmarks with many clients,
                                     servers behind a reverse proxy).
    :param retain_messages: how many messages the log keeps; older ones are
                            deleted as new ones come. ``None``: all.

    Example::

        config = ChatConfig(store="chat.sqlite3", rate_limit=None)
        ChatServer(config)
    """

    max_message_bytes: int = protocol.DEFAULT_MAX_MESSAGE_BYTES
    max_payload_bytes: int = protocol.DEFAULT_MAX_PAYLOAD_BYTES
    store: str | None = None
    cors_allowed_origins: str | tuple[str, ...] | None = None
    rate_limit: tuple[float, float] | None = (20.0, 200.0)
    rate_limit_per_address: tuple[float, float] | None = None
    ping_interval: float = 25
    ping_timeout: float = 20
    redis_url: str | None = None
    transports: tuple[Transport, ...] | None = None
    presence: bool = True
    presence_window: float = 0.1
    allowed_hosts: tuple[str, ...] | None = None
    frame_ancestors: tuple[str, ...] = ("http://localhost:*", "http://127.0.0.1:*")
    max_sessions_per_address: int | None = 100
    retain_messages: int | None = 100_000

    def __post_init__(self) -> None:
        # Lists from callers (and from JSON) become tuples: the config is hashable and frozen.
        for name in ("cors_allowed_origins", "rate_limit", "rate_limit_per_address", "transports", "allowed_hosts",
                     "frame_ancestors"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if self.store is not None:
            object.__setattr__(self, "store", str(self.store))
        if self.max_message_bytes < 1:
            raise ValueError("max_message_bytes must be at least 1.")
        if self.max_payload_bytes < 4 * self.max_message_bytes:
            raise ValueError("max_payload_bytes must hold at least four of the longest messages.")
        if self.rate_limit is not None and (len(self.rate_limit) != 2 or min(self.rate_limit) <= 0):
            raise ValueError("rate_limit must be (messages per second, burst), both above 0, or None.")
        if self.transports is not None and not set(self.transports) <= {"polling", "websocket"}:
            raise ValueError("transports may hold only 'polling' and 'websocket'.")
        if isinstance(self.allowed_hosts, str) or isinstance(self.frame_ancestors, str):
            raise ValueError("allowed_hosts and frame_ancestors are lists of names, not one string.")
        for name in ("max_sessions_per_address", "retain_messages"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, or None for no limit.")

    def replace(self, **changes: object) -> ChatConfig:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChatConfig:
        return cls(**json.loads(text))
