"""chat_lib: the package behind the Socket.IO chat notebook series.

Each module is one concept; see the README for the notebook that introduces it.
"""

from .background import BackgroundServer
from .client import ChatClient, ChatMessage
from .errors import ChatConnectionError, ChatError, MessageRejected, ServerStartError
from .server import ChatServer, create_app
from .store import MessageStore, StoredMessage
from .widget import ChatWidget

__version__ = "0.1.0"

__all__ = [
    "BackgroundServer",
    "ChatClient",
    "ChatConnectionError",
    "ChatError",
    "ChatMessage",
    "ChatServer",
    "ChatWidget",
    "MessageRejected",
    "MessageStore",
    "ServerStartError",
    "StoredMessage",
    "create_app",
]
