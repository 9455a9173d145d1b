"""ChatWidget: the wiring between a ChatClient and the chat box (notebook 05)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .. import protocol
from ..client import ChatClient, Transport
from ..errors import ChatConnectionError
from .commands import send_as_typed
from .controls import Controls
from .entries import ChatEntry
from .message_list import MessageList
from .view import ChatView
from .waits import Waits, entry_finder

__all__ = ["ChatWidget"]

logger = logging.getLogger("chat_lib.widget")


class ChatWidget:
    """A chat box in the notebook, thin over a :class:`~chat_lib.client.ChatClient`.

    Create it with a server URL (it makes its own client) or with a client you
    made, display it (it shows :attr:`box`, an ``ipywidgets.VBox`` you can also
    put inside your own layouts), and connect it with ``await widget.connect()`` (a cell
    may ``await`` at top level) or :meth:`connect_in_background` from plain
    code. Callbacks run on the kernel's event loop, so the chat stays live
    between cells.

    The programmatic face, for notebooks and tests: :meth:`send` a message as
    if typed, read :attr:`entries` / :attr:`lines` (what the list shows),
    :meth:`wait_for` an entry, :meth:`wait_for_status`, :meth:`wait_until`
    any condition, and :meth:`disconnect`.

    :param client_or_url: a :class:`ChatClient`, or the server URL to make one for.
    :param nickname: the name to ask for (only with a URL).
    :param transport: ``"auto"``, ``"polling"`` or ``"websocket"`` (only with a URL).
    :param height: CSS height of the message list.
    :param max_entries: how many entries the list keeps; older ones scroll away.
    :param detect_timeout: seconds to wait for the server's greeting before
                           treating it as a plain tutorial server.

    Example::

        chat = ChatWidget(server.url, nickname="ada")
        await chat.connect()
        chat                      # shows the chat box
        await chat.send("hello")  # as if typed and Enter pressed

    Introduced in notebook 05.
    """

    def __init__(
        self, client_or_url: ChatClient | str, *, nickname: str | None = None, transport: Transport = "auto",
        height: str = "260px", max_entries: int = 500, detect_timeout: float = 1.0,
    ) -> None:
        if isinstance(client_or_url, ChatClient):
            if nickname is not None:
                raise ValueError("Pass the nickname to the ChatClient you made, not to the widget.")
            self.client = client_or_url
        else:
            self.client = ChatClient(client_or_url, nickname=nickname, transport=transport)
        self.detect_timeout = detect_timeout
        #: ``True``: the server speaks this series' protocol; ``False``: the bare
        #: tutorial protocol; ``None``: not known yet.
        self.rich_server: bool | None = None
        self._waits = Waits()
        self._list = MessageList(self.client, max_entries, self._on_list_change, earlier=self.client.messages)
        self.entries = self._list.entries  #: what the message list shows, oldest first

        # A box, not a subclass of one: ipywidgets' Widget already has a send()
        # (custom messages to the browser), and ours means "send a chat message".
        self.view = view = ChatView(self.client, height, on_settled=self.wake)
        # Its controls by name, for notebooks and tests: chat.input, chat.message_list, ...
        self.box, self.status_line, self.nickname_box, self.online_line = (
            view.box, view.status_line, view.nickname_box, view.online_line)
        self.message_list, self.typing_line, self.input, self.send_button = (
            view.message_list, view.typing_line, view.input, view.send_button)
        self.controls = Controls(self)
        self.client.add_listener(self._on_client_event)
        self.view.draw_all(self.entries, self.rich_server)

    # -- state, for code -----------------------------------------------------------

    status = property(lambda self: self.client.status, doc='The connection status: "connected", "reconnecting", ...')
    transport = property(lambda self: self.client.transport, doc='"polling" or "websocket" while connected, else None.')
    nickname = property(lambda self: self.client.nickname, doc="The nickname the server gave us.")
    online = property(lambda self: list(self.client.online), doc="Who is online (empty on a plain server).")
    lines = property(lambda self: [entry.line for entry in self.entries],
                     doc="The message list as plain text, one line per entry, without times.")

    @property
    def status_text(self) -> str:
        """The status line as plain text: ``"connected via websocket"``."""
        if self.client.status == "connected" and self.client.transport:
            return f"connected via {self.client.transport}"
        return self.client.status

    def __repr__(self) -> str:
        return f"<ChatWidget {self.nickname or '?'}: {self.status_text}, {len(self.entries)} entries>"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        # Displaying the chat displays its box; the plain-text form says what it is.
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle

    def close(self) -> None:
        """Remove the chat box from the page (the connection stays; see :meth:`disconnect`)."""
        self.client.remove_listener(self._on_client_event)  # a closed box must not be updated
        self.view.close()

    # -- connecting ----------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> ChatWidget:
        """Connect the client (if it is not connected yet) and learn what the server speaks.

        :returns: ``self``, so a cell can end with ``await chat.connect()`` to show it.
        :raises ChatConnectionError: the server cannot be reached.
        """
        if self.client.status == "disconnected":
            try:
                # The client waits for the server's 'welcome' itself.
                await self.client.connect(timeout, welcome_timeout=self.detect_timeout)
            except ChatConnectionError as exc:
                self.show(ChatEntry("error", str(exc)))
                raise
            await self._detect_server(wait=0.0)
        else:
            await self._detect_server()
        if self.rich_server:
            # The server sends who is online right after its welcome: wait for
            # it, so a connected widget shows the whole picture.
            try:
                await self._waits.wait(lambda: True if self.client.online else None, self.detect_timeout,
                                       "the online list")
            except ChatConnectionError:
                logger.info("%s sent no online list", self.client.url)
        return self

    def connect_in_background(self, timeout: float = 10.0) -> asyncio.Task:
        """Schedule :meth:`connect` on the running event loop and return its task.

        For code that cannot ``await``; a failure shows in the message list.
        """
        return self.controls.schedule(self.connect(timeout))

    async def disconnect(self) -> None:
        """Leave the chat (the widget stays on screen, showing "disconnected"); idempotent."""
        self.controls.typing.cancel_timer()
        await self.client.disconnect()
        self.view.draw_status(self.rich_server)

    async def _detect_server(self, wait: float | None = None) -> bool:
        # The series' server sends 'welcome' (which sets last_offset) and then
        # 'online' to every newcomer; the tutorial's server sends neither.
        if self.rich_server is None:
            try:
                await self._waits.wait(lambda: True if self.client.last_offset is not None else None,
                                       self.detect_timeout if wait is None else wait, "the server's greeting")
                self.rich_server = True
            except ChatConnectionError:
                self.rich_server = False
                logger.info("no greeting from %s: using the plain 'chat message' protocol", self.client.url)
            self.view.draw_all(self.entries, self.rich_server)
        return self.rich_server

    # -- sending -------------------------------------------------------------------

    async def send(self, text: str, *, timeout: float | None = 30.0) -> dict | None:
        """Send ``text`` as if it were typed into the box and Enter pressed.

        As in the browser page, ``/msg name text`` sends a private message,
        ``/join room`` and ``/leave room`` enter and leave a room, and
        ``#room text`` sends to a room.
        While the connection is being re-established the message waits for it
        (the client retries); when the chat is disconnected it raises.

        :returns: the server's acknowledgement, or ``None`` on a plain server (it has none).
        :raises MessageRejected: the server refused the message.
        :raises ChatConnectionError: the chat is disconnected, or no answer within ``timeout``.
        """
        if self.client.status == "disconnected":
            raise ChatConnectionError("The chat is disconnected: call `await widget.connect()` first.")
        self.controls.typing.stop()
        if not await self._detect_server():
            # The tutorial's protocol: a bare string, no acknowledgement.
            if not self.client.connected:
                raise ChatConnectionError("The chat is not connected right now; wait for it to reconnect.")
            self._list.sent_plain(text)
            await self.client.emit(protocol.CHAT_MESSAGE, text)
            return None
        answer, message_id = await send_as_typed(self.client, text, timeout=timeout)
        if message_id is not None:
            self._list.sent(message_id)
        return answer

    # -- receiving -----------------------------------------------------------------

    def _on_client_event(self, kind: str, data: Any) -> None:
        """The client's listener: turn each change into what the reader sees."""
        if kind == "message":
            self._list.add_message(data)
        elif kind == "notice":
            self._list.add_notice(data)
        elif kind == "online":
            self.controls.show_nickname()
            self.view.draw_online()
        elif kind == "typing":
            self.view.draw_typing()
        elif kind == "status":
            self._on_status(data)
        self.wake()

    def _on_status(self, status: str) -> None:
        self._list.add_status(status)
        self.view.draw_typing()
        self.view.draw_status(self.rich_server)

    def show(self, entry: ChatEntry) -> None:
        """Add a line to the message list (a message, a notice, an error)."""
        self._list.add(entry)

    def _on_list_change(self) -> None:
        self.view.draw_messages(self.entries)
        self.wake()

    # -- waiting -------------------------------------------------------------------

    async def wait_for(
        self, match: str | Callable[[ChatEntry], bool] | None = None, *, after: int = 0, timeout: float = 5.0
    ) -> ChatEntry:
        """Return the first entry that matches, waiting for it if needed.

        :param match: a substring of the entry's :attr:`ChatEntry.line`, a
                      predicate, or ``None`` for any entry.
        :param after: skip the first ``after`` entries of now; ``len(widget.entries)``
                      waits for a new one (one fetched late from the log too).
        :raises ChatConnectionError: nothing matching appeared within ``timeout`` seconds.
        """
        return await self._waits.wait(entry_finder(self.entries, match, after), timeout,
                                      f"an entry matching {match!r}")

    async def wait_for_status(self, status: str, timeout: float = 10.0) -> str:
        """Wait until the connection status is ``status``; returns it.

        ``"connected"`` counts once the transport is known, so :attr:`status_text` names it.
        """

        def reached() -> str | None:
            if self.client.status != status or (status == "connected" and not self.client.transport):
                return None
            return status

        return await self._waits.wait(reached, timeout, f"the status {status!r} (it is {self.client.status!r})")

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` is true; it is checked again on every change the widget sees.

        Example: ``await chat.wait_until(lambda: "bob" in chat.online)``.
        """
        await self._waits.wait(lambda: True if condition() else None, timeout, "the condition")

    def wake(self) -> None:
        """Something changed: redraw the status and run the pending waits' checks again."""
        # Whoever wakes up must find the status line up to date (it names the
        # transport, which python-socketio reveals a moment after "connected").
        self.view.draw_status(self.rich_server)
        self._waits.wake()
