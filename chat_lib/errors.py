"""The errors chat_lib raises: one small tree under :class:`ChatError`.

Third-party errors (python-socketio, OSError from a bind) are converted at the
boundary with ``raise ... from exc`` so that a notebook cell shows one clear
sentence that says what to do.
"""

from __future__ import annotations

__all__ = ["ChatError", "ServerStartError", "ChatConnectionError", "MessageRejected", "LogUnavailable"]


class ChatError(Exception):
    """Base class of every error chat_lib raises on purpose."""


class ServerStartError(ChatError):
    """A background server could not start (port taken, crash at start-up, timeout)."""


class ChatConnectionError(ChatError):
    """A client could not connect, or lost its connection while waiting for an answer."""


class MessageRejected(ChatError):
    """The server refused a message; ``str(exc)`` is the server's explanation."""


class LogUnavailable(ChatError):
    """The message log's Redis did not answer: nothing was stored or read, and a retry may succeed."""
