"""ChatClient: an asyncio client for the chat server.

It is what the notebooks, the widget, the benchmarks and the tests use. It
wraps python-socketio's ``AsyncClient`` and adds what a chat needs:

* a transport choice: ``"polling"``, ``"websocket"`` or ``"auto"`` (start on
  polling, upgrade to WebSocket, as browsers do);
* :meth:`ChatClient.send` gives each message an id and waits for the server's
  acknowledgement, retrying through reconnections, so a message is delivered
  once even if the connection drops (the server stores each id once);
* on every (re)connection it tells the server the last offset it has seen, and
  the server replays what it missed before live messages;
* received messages, notices, the online list and who is typing, kept on the
  client and announced to listeners (the widget is one);
* a quick :meth:`ChatClient.disconnect` on both transports.

One concept per module:

* :mod:`~chat_lib.client.connection`: :class:`Connection`, a Socket.IO
  connection with a status, reconnection and :meth:`~Connection.call`;
* :mod:`~chat_lib.client.chat_client`: :class:`ChatClient`, a connection that
  speaks the chat (send, rooms, nicknames, catch-up);
* :mod:`~chat_lib.client.inbox`: :class:`Inbox`, what it received, and the waits on it;
* :mod:`~chat_lib.client.message`: :class:`ChatMessage`, one received message.
"""

from __future__ import annotations

from .chat_client import ChatClient
from .connection import Connection, Status, Transport, quiet_unclosed_connections
from .inbox import Inbox
from .message import ChatMessage

__all__ = ["ChatClient", "ChatMessage", "Connection", "Inbox", "Status", "Transport", "quiet_unclosed_connections"]
