"""The chat server, as features: see :mod:`.app` for how they fit together."""

from .app import STATIC_DIR, Chat, ChatServer, create_app
from .members import Member
from .messages import Messages
from .namespace import ChatNamespace
from .people import People
from .rooms import MAX_ROOMS_PER_CLIENT, Rooms

__all__ = ["STATIC_DIR", "MAX_ROOMS_PER_CLIENT", "Chat", "ChatNamespace", "ChatServer", "Member", "Messages", "People", "Rooms", "create_app"]
