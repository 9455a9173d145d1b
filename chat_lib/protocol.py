"""The chat's wire protocol: event names, limits, and the checks both ends share.

The first event is the Node.js tutorial's: a client emits ``'chat message'``
with a string and every client receives ``'chat message'`` with that string.
Clients that say who they are (they send a Socket.IO ``auth`` object, as the
browser page, :class:`~chat_lib.client.ChatClient` and the widget do) receive
two more arguments, like the tutorial's last step: the message's offset in the
log and its metadata. The other events are the chat features of notebook 03.

Three kinds of client, told apart by the Socket.IO ``auth`` object they send
on connecting (the *audience* of a broadcast):

* ``plain``: no ``auth``, or one without ``serverOffset``. The tutorial's first
  ten lines. Receives each chat message as a bare string.
* ``tutorial``: ``auth`` is exactly ``{"serverOffset": n}``. The tutorial's
  final chapter. Receives ``(text, offset)``, and on connecting
  every public message after ``n`` (``null``: after none) in the same form.
* ``rich``: ``auth`` has ``serverOffset`` and more (``logId``, ``nickname``,
  ``token``: the page,
  :class:`~chat_lib.client.ChatClient`, the widget). Receives
  ``(text, offset, metadata)``, a ``welcome``, catch-up, rooms and private
  messages.

Identity: a nickname has one owner at a time. A rich client proves it is the
same person across reconnections with a secret ``token`` of its own choosing
(16 to 128 characters) in its ``auth``: the page keeps one in
``localStorage``, :class:`~chat_lib.client.ChatClient` in memory. With it, a
client that comes back within 30 s gets its nickname, rooms and rate limit
back, and nobody else can take them meanwhile. A client without a token is
known by its connection alone.

Any of them may send ``'chat message'`` in any of three shapes:
``text``; ``text, clientOffset`` (the tutorial's final client: the text is
stored once per ``clientOffset``, so its retries are harmless); or
``{"text", "id", "room"}`` (our clients; ``id`` plays ``clientOffset``).

Refusals (the rule for every event; :class:`~chat_lib.server.ChatNamespace`
applies it):

* A refusal that a retry cannot cure (empty, too long, wrong type, unknown
  room) is acknowledged with ``{"ok": False, "error": sentence}`` when the
  client asked for an acknowledgement, so that it stops retrying; it is sent
  as a ``'chat error'`` event ``{"event", "error"}`` when the client did not
  ask, and to tutorial clients always: their retries ask for the
  acknowledgement, and their code never sees it.
* A refusal that a retry may cure (the rate limit) is **not** acknowledged:
  the tutorial's client reads any acknowledgement as delivery, and would drop
  a message that waiting would have saved. The client hears it as a
  ``'chat error'`` event, and its own ack timeout and retries do the rest.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

__all__ = [
    "CHAT_MESSAGE",
    "CHAT_ERROR",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "CLIENT_EVENTS",
    "Audience",
    "audience_of",
    "DEFAULT_PORT",
    "MAX_NICKNAME_LENGTH",
    "validate_text",
    "validate_nickname",
    "canonical_nickname",
    "GUEST_PREFIX",
    "validate_room",
    "is_offset",
    "WELCOME",
    "USER_JOINED",
    "USER_LEFT",
    "ONLINE",
    "HEAD",
    "PRESENCE",
    "TYPING",
    "NICKNAME",
    "JOIN",
    "LEAVE",
    "PRIVATE_MESSAGE",
    "HISTORY",
    "MAX_ROOM_LENGTH",
    "MAX_HISTORY",
]

CHAT_MESSAGE = "chat message"  #: client -> server: text; server -> clients: text[, offset, meta]
CHAT_ERROR = "chat error"  #: server -> one client: {"event", "error"} when no ack was asked for
WELCOME = "welcome"  #: server -> a rich client: {"nickname", "offset" (the log's newest), "logId"}
PRESENCE = "presence"  #: server -> clients: what changed, {"joined": [names], "left": [names], "renamed": [[old, new]]}
ONLINE = "online"  #: server -> a newcomer: the sorted list of nicknames online, once
#: server -> rich clients, every few seconds when processes share Redis: {"offset", "logId"}, the
#: newest public offset in the log; a client behind it asks for ``history`` (Redis pub/sub can drop)
HEAD = "head"
USER_JOINED = "user joined"  #: a notice clients make of each name in a presence change's "joined"
USER_LEFT = "user left"  #: a notice clients make of each name in a presence change's "left"
TYPING = "typing"  #: client -> server: bool; server -> others: {"nickname", "typing"}
NICKNAME = "nickname"  #: client -> server: new nickname; ack {"ok", "nickname"}; as a notice: {"old", "nickname"}
JOIN = "join"  #: client -> server: room name
LEAVE = "leave"  #: client -> server: room name
PRIVATE_MESSAGE = "private message"  #: client -> server: {"to", "text"}; server -> both ends
#: client -> server: {"after", "count"}, {"count"} (the newest) or {"offsets"} (exactly those); ack:
#: {"ok", "messages", "more"}, public messages only, "more" when a size budget cut the answer short
HISTORY = "history"

#: The events a client may send; any other name is refused as unknown.
CLIENT_EVENTS = frozenset({CHAT_MESSAGE, TYPING, NICKNAME, JOIN, LEAVE, PRIVATE_MESSAGE, HISTORY})

DEFAULT_PORT = 3000
DEFAULT_MAX_MESSAGE_BYTES = 4096
MAX_NICKNAME_LENGTH = 32
MAX_ROOM_LENGTH = 64
MAX_HISTORY = 1000  #: messages in one history answer, and offsets in one history request

DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000  # Node's maxHttpBufferSize

Audience = Literal["plain", "tutorial", "rich"]


def audience_of(auth: object) -> Audience:
    """Which kind of client sent this ``auth`` object (see the module's docstring)."""
    if not isinstance(auth, dict) or "serverOffset" not in auth:
        return "plain"
    return "tutorial" if auth.keys() == {"serverOffset"} else "rich"


def validate_text(text: object, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> str:
    """Return ``text`` if it is an acceptable chat message, else raise ``ValueError``.

    The error message is the sentence the server sends back to the client.
    """
    if isinstance(text, (bytes, bytearray)):
        raise ValueError("A chat message must be text, not binary data.")
    if not isinstance(text, str):
        raise ValueError(f"A chat message must be a string, not {type(text).__name__}.")
    if not text.strip():
        raise ValueError("A chat message cannot be empty.")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("A chat message must be valid Unicode text.") from None
    if size > max_bytes:
        raise ValueError(f"A chat message may be at most {max_bytes} bytes; this one is {size}.")
    return text


MAX_OFFSET = 2**63 - 1  # SQLite's largest integer


def is_offset(value: object) -> bool:
    """Whether ``value`` can be an offset in the log: an integer from 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_OFFSET


GUEST_PREFIX = "guest-"  #: the server names clients that give no name; nobody may choose such a name


def validate_nickname(nickname: object) -> str:
    """Return the stripped nickname if it is acceptable, else raise ``ValueError``.

    Names are shown to people, so what looks alike must not be two names:
    control and format characters (zero-width spaces, bidirectional
    overrides) are refused, and so are names that mix Latin, Greek and
    Cyrillic letters ("bоb" with a Cyrillic o). :func:`canonical_nickname`
    then decides which names are the same.
    """
    if not isinstance(nickname, str):
        raise ValueError(f"A nickname must be a string, not {type(nickname).__name__}.")
    nickname = " ".join(nickname.split())
    if not nickname:
        raise ValueError("A nickname cannot be empty.")
    if len(nickname) > MAX_NICKNAME_LENGTH:
        raise ValueError(f"A nickname may be at most {MAX_NICKNAME_LENGTH} characters.")
    try:
        nickname.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("A nickname must be valid Unicode text.") from None
    if any(unicodedata.category(char)[0] == "C" for char in nickname):
        raise ValueError("A nickname cannot hold invisible or control characters.")
    scripts = {unicodedata.name(char, "").split(" ")[0] for char in nickname if char.isalpha()}
    if len(scripts & {"LATIN", "GREEK", "CYRILLIC"}) > 1:
        raise ValueError("A nickname cannot mix Latin, Greek and Cyrillic letters.")
    if canonical_nickname(nickname).startswith(GUEST_PREFIX):
        raise ValueError(f"Names starting with {GUEST_PREFIX!r} are given by the server; choose another.")
    return nickname


def canonical_nickname(nickname: str) -> str:
    """The form in which two nicknames are compared: "BOB", "bob" and "ｂｏｂ" are one name."""
    return unicodedata.normalize("NFKC", nickname).casefold()


def validate_room(room: object) -> str:
    """Return the room name if it is acceptable, else raise ``ValueError``."""
    if not isinstance(room, str) or not room.strip():
        raise ValueError("A room name must be a non-empty string.")
    room = room.strip()
    if len(room) > MAX_ROOM_LENGTH:
        raise ValueError(f"A room name may be at most {MAX_ROOM_LENGTH} characters.")
    try:
        room.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("A room name must be valid Unicode text.") from None
    return room
