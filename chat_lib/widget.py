"""ChatWidget: a chat box inside the notebook, made of ipywidgets, thin over ChatClient.

The widget is a :class:`~chat_lib.client.ChatClient` plus a face. The client
runs on the kernel's own asyncio event loop, so it keeps receiving while no
cell runs: a message typed in a browser tab appears in the notebook at once.
Everything it shows comes from the client's listener callbacks
(:meth:`ChatClient.add_listener`); everything it sends goes through the
client (``send``, ``send_private``, ``set_typing``, ``set_nickname``).

What it shows, top to bottom:

* a status line (connected / reconnecting / disconnected, the transport in
  use), your nickname, and who is online;
* the message list: who said what and when, your own messages highlighted,
  join/leave notices and private messages set apart; message text is always
  escaped with :func:`html.escape`, so HTML in a message is shown, never run;
* an "X is typing" line;
* an input box (Enter sends) and a Send button, disabled while disconnected.

It talks to any server that speaks the tutorial's ``'chat message'`` protocol.
The chat server of this series greets rich clients with a ``'welcome'``; if
no greeting comes, the widget falls back to the tutorial's form (it emits a
bare string and expects bare strings back) and leaves the extras dark.

Notebook 05 introduces it.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

import ipywidgets as widgets

from . import protocol
from .client import ChatClient, ChatMessage, Transport
from .errors import ChatConnectionError, ChatError

__all__ = ["ChatEntry", "ChatWidget"]

logger = logging.getLogger("chat_lib.widget")

EntryKind = Literal["message", "private", "notice", "status", "error"]
T = TypeVar("T")

# How long an idle input box still counts as "typing" for the others.
TYPING_IDLE_SECONDS = 2.0
# The browser page's syntax for a private message, so both faces agree.
_PRIVATE = re.compile(r"^/msg\s+(\S+)\s+(.+)$", re.DOTALL)
_ROOM_COMMAND = re.compile(r"^/(join|leave)\s+(\S+)\s*$")  # rooms, notebook 03
_ROOM_MESSAGE = re.compile(r"^#(\S+)\s+(.+)$", re.DOTALL)

_STATUS_COLOURS = {
    "connected": "#15803d", "connecting": "#b45309", "reconnecting": "#b45309", "disconnected": "#b91c1c",
}
_ENTRY_STYLES = {
    "message": "",
    "mine": "background:#e8f0fe;",
    "private": "background:#fdf4ff;",
    "notice": "color:#666;font-style:italic;",
    "status": "color:#b45309;font-style:italic;",
    "error": "color:#b91c1c;",
}


@dataclass
class ChatEntry:
    """One line of the widget's message list, as the reader sees it.

    ``at`` is wall-clock time (seconds since the epoch): the server's time for
    a message that carries one, else the time it arrived.
    """

    kind: EntryKind
    text: str
    nickname: str | None = None
    mine: bool = False
    room: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def line(self) -> str:
        """The entry as one line of plain text, without the time: ``"ada: hello"``."""
        if self.kind == "private":
            return f"{self.nickname} → {self.recipient} (private): {self.text}"
        if self.kind != "message":
            return self.text
        who = self.nickname or ("you" if self.mine else "someone")
        where = f"[{self.room}] " if self.room else ""
        return f"{where}{who}: {self.text}"


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
        self,
        client_or_url: ChatClient | str,
        *,
        nickname: str | None = None,
        transport: Transport = "auto",
        height: str = "260px",
        max_entries: int = 500,
        detect_timeout: float = 1.0,
    ) -> None:
        if isinstance(client_or_url, ChatClient):
            if nickname is not None:
                raise ValueError("Pass the nickname to the ChatClient you made, not to the widget.")
            self.client = client_or_url
        else:
            self.client = ChatClient(client_or_url, nickname=nickname, transport=transport)
        self.height = height
        self.max_entries = max_entries
        self.detect_timeout = detect_timeout
        self.entries: list[ChatEntry] = []  #: what the message list shows, oldest first
        #: ``True``: the server speaks this series' protocol; ``False``: the bare
        #: tutorial protocol; ``None``: not known yet.
        self.rich_server: bool | None = None
        self._sent_ids: set[str] = set()
        self._pending_plain: list[str] = []  # texts we sent to a plain server, not yet echoed
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future]] = []
        self._tasks: set[asyncio.Task] = set()  # keep scheduled sends alive until done
        self._typing_sent = False
        self._typing_timer: asyncio.TimerHandle | None = None
        self._last_status = self.client.status
        self._syncing_nickname = False
        self._settle_handle: asyncio.TimerHandle | None = None

        self.status_line = widgets.HTML()
        self.nickname_box = widgets.Text(
            value=self.client.nickname or "", description="name", continuous_update=False,
            layout=widgets.Layout(width="14em"), style={"description_width": "3em"},
        )
        self.online_line = widgets.HTML()
        self.message_list = widgets.HTML()
        self.typing_line = widgets.HTML()
        # continuous_update=True sends every keystroke (for "is typing"); Enter
        # arrives separately as the Text view's "submit" message, so leaving
        # the box never sends a half-written message.
        self.input = widgets.Text(
            placeholder="Type a message and press Enter; /msg name text for a private one",
            continuous_update=True, layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.send_button = widgets.Button(
            description="Send", button_style="primary", layout=widgets.Layout(width="6em")
        )
        # Class names give browser tests (and custom CSS) something stable to find.
        for widget, name in ((self.message_list, "chat-lib-messages"), (self.input, "chat-lib-input"),
                             (self.send_button, "chat-lib-send"), (self.status_line, "chat-lib-status"),
                             (self.online_line, "chat-lib-online"), (self.typing_line, "chat-lib-typing")):
            widget.add_class(name)

        self.input.on_msg(self._on_input_message)
        self.input.observe(self._on_input_change, names="value")
        self.send_button.on_click(lambda _button: self._submit())
        self.nickname_box.observe(self._on_nickname_box, names="value")
        self.client.add_listener(self._on_client_event)

        header = widgets.HBox([self.status_line, self.nickname_box],
                              layout=widgets.Layout(justify_content="space-between", align_items="center"))
        row = widgets.HBox([self.input, self.send_button])
        # A box, not a subclass of one: ipywidgets' Widget already has a send()
        # (custom messages to the browser), and ours means "send a chat message".
        self.box = widgets.VBox([header, self.online_line, self.message_list, self.typing_line, row],
                                layout=widgets.Layout(width="100%", max_width="760px"))
        self.box.add_class("chat-lib-widget")
        for message in self.client.messages[-max_entries:]:  # a client that was already chatting
            self.entries.append(self._entry_for(message))
        self._render_all()

    # -- state, for code -----------------------------------------------------------

    @property
    def status(self) -> str:
        """The client's connection status: ``"connected"``, ``"reconnecting"``, ..."""
        return self.client.status

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected, else ``None``."""
        return self.client.transport

    @property
    def nickname(self) -> str | None:
        return self.client.nickname

    @property
    def online(self) -> list[str]:
        """Who is online, as the server last said (empty on a plain server)."""
        return list(self.client.online)

    @property
    def lines(self) -> list[str]:
        """The message list as plain text, one line per entry, without times."""
        return [entry.line for entry in self.entries]

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
        self.box.close()
        for widget in (self.status_line, self.nickname_box, self.online_line, self.message_list,
                       self.typing_line, self.input, self.send_button):
            widget.close()

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
                self._add(ChatEntry("error", str(exc)))
                raise
            await self._detect_server(wait=0.0)
        else:
            await self._detect_server()
        if self.rich_server:
            # The server sends who is online right after its welcome: wait for
            # it, so a connected widget shows the whole picture.
            try:
                await self._wait(lambda: True if self.client.online else None, self.detect_timeout, "the online list")
            except ChatConnectionError:
                logger.info("%s sent no online list", self.client.url)
        return self

    def connect_in_background(self, timeout: float = 10.0) -> asyncio.Task:
        """Schedule :meth:`connect` on the running event loop and return its task.

        For code that cannot ``await``; a failure shows in the message list.
        """
        return self._schedule(self.connect(timeout))

    async def disconnect(self) -> None:
        """Leave the chat (the widget stays on screen, showing "disconnected"); idempotent."""
        self._cancel_typing_timer()
        await self.client.disconnect()
        self._refresh_controls()

    async def _detect_server(self, wait: float | None = None) -> bool:
        # The series' server sends 'welcome' (which sets last_offset) and then
        # 'online' to every newcomer; the tutorial's server sends neither.
        if self.rich_server is None:
            try:
                await self._wait(lambda: True if self.client.last_offset is not None else None,
                                 self.detect_timeout if wait is None else wait, "the server's greeting")
                self.rich_server = True
            except ChatConnectionError:
                self.rich_server = False
                logger.info("no greeting from %s: using the plain 'chat message' protocol", self.client.url)
            self._render_all()
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
        self._stop_typing()
        if not await self._detect_server():
            # The tutorial's protocol: a bare string, no acknowledgement.
            if not self.client.connected:
                raise ChatConnectionError("The chat is not connected right now; wait for it to reconnect.")
            self._pending_plain.append(text)
            await self.client.emit(protocol.CHAT_MESSAGE, text)
            return None
        private = _PRIVATE.match(text)
        if private:
            return await self.client.send_private(private[1], private[2], timeout=timeout)
        command = _ROOM_COMMAND.match(text)
        if command:
            if command[1] == "join":
                await self.client.join(command[2])
            else:
                await self.client.leave(command[2])
            return {"ok": True, "room": command[2]}
        room_message = _ROOM_MESSAGE.match(text)
        if room_message:
            answer = await self.client.send(room_message[2], room=room_message[1], timeout=timeout)
        else:
            answer = await self.client.send(text, timeout=timeout)
        self._sent_ids.add(answer["id"])
        # The broadcast can arrive before the acknowledgement: mark it now.
        for entry in self.entries:
            if entry.message_id == answer["id"] and not entry.mine:
                entry.mine = True
                self._render_messages()
        self._wake()
        return answer

    def _submit(self) -> None:
        """Enter or the Send button: send what is in the box, unless we are disconnected."""
        text = self.input.value
        if not text.strip() or self.client.status != "connected":
            return  # keep the text; the button is disabled meanwhile
        self.input.value = ""
        self._schedule(self._send_from_box(text))

    async def _send_from_box(self, text: str) -> None:
        try:
            await self.send(text)
        except ChatError as exc:  # refused (MessageRejected) or no connection
            self._add(ChatEntry("error", f"Not sent: {exc}"))

    def _on_input_message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        # The Text view sends {"event": "submit"} when Enter is pressed.
        if isinstance(content, dict) and content.get("event") == "submit":
            self._submit()

    # -- typing and nickname -------------------------------------------------------

    def _on_input_change(self, change: dict) -> None:
        if not change["new"] or not self.rich_server or self.client.status != "connected":
            return
        if not self._typing_sent:
            self._typing_sent = True
            self._schedule(self.client.set_typing(True))
        self._cancel_typing_timer()
        try:
            self._typing_timer = asyncio.get_running_loop().call_later(TYPING_IDLE_SECONDS, self._stop_typing)
        except RuntimeError:  # no running loop: nobody to tell
            pass

    def _stop_typing(self) -> None:
        self._cancel_typing_timer()
        if self._typing_sent:
            self._typing_sent = False
            self._schedule(self.client.set_typing(False))

    def _cancel_typing_timer(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None

    def _on_nickname_box(self, change: dict) -> None:
        wanted = change["new"].strip()
        if self._syncing_nickname or not wanted or wanted == self.client.nickname:
            return
        if not self.rich_server or self.client.status != "connected":
            self._add(ChatEntry("error", "This server does not support nicknames (or the chat is not connected)."))
            self._show_nickname()
            return
        self._schedule(self._rename(wanted))

    async def _rename(self, wanted: str) -> None:
        try:
            await self.client.set_nickname(wanted)
        except ChatError as exc:
            self._add(ChatEntry("error", f"Nickname not changed: {exc}"))
        self._show_nickname()
        self._wake()

    def _show_nickname(self) -> None:
        self._syncing_nickname = True
        try:
            self.nickname_box.value = self.client.nickname or ""
        finally:
            self._syncing_nickname = False

    # -- receiving -----------------------------------------------------------------

    def _on_client_event(self, kind: str, data: Any) -> None:
        """The client's listener: turn each change into what the reader sees."""
        if kind == "message":
            self._add(self._entry_for(data))
        elif kind == "notice":
            self._add(_notice_entry(data))
        elif kind == "online":
            self._show_nickname()
            self._render_online()
        elif kind == "typing":
            self._render_typing()
        elif kind == "status":
            self._on_status(data)
        self._wake()

    def _entry_for(self, message: ChatMessage) -> ChatEntry:
        at = message.sent_at or time.time()
        if message.private:
            return ChatEntry("private", message.text, nickname=message.nickname, recipient=message.recipient,
                             mine=message.nickname == self.client.nickname, at=at)
        if message.offset is None and message.nickname is None and message.text in self._pending_plain:
            self._pending_plain.remove(message.text)  # the plain server echoed what we sent
            mine = True
        else:
            mine = message.message_id in self._sent_ids or (
                message.nickname is not None and message.nickname == self.client.nickname
            )
        text = message.text if isinstance(message.text, str) else repr(message.text)
        return ChatEntry("message", text, nickname=message.nickname, mine=mine, room=message.room,
                         message_id=message.message_id, at=at)

    def _on_status(self, status: str) -> None:
        previous, self._last_status = self._last_status, status
        if status == "reconnecting":
            self._add(ChatEntry("status", "Connection lost; reconnecting…"))
        elif status == "connected" and previous == "reconnecting":
            self._add(ChatEntry("status", "Reconnected."))
        elif status == "disconnected" and previous in ("connected", "reconnecting"):
            self._add(ChatEntry("status", "Disconnected."))
        self._render_typing()
        self._refresh_controls()

    def _add(self, entry: ChatEntry) -> None:
        self.entries.append(entry)
        del self.entries[: -self.max_entries]
        self._render_messages()
        self._wake()

    # -- waiting -------------------------------------------------------------------

    async def wait_for(
        self, match: str | Callable[[ChatEntry], bool] | None = None, *, after: int = 0, timeout: float = 5.0
    ) -> ChatEntry:
        """Return the first entry in ``entries[after:]`` that matches, waiting for it if needed.

        :param match: a substring of the entry's :attr:`ChatEntry.line`, a
                      predicate, or ``None`` for any entry.
        :param after: skip the first ``after`` entries; pass ``len(widget.entries)``
                      to wait for a new one.
        :raises ChatConnectionError: nothing matching appeared within ``timeout`` seconds.
        """
        if isinstance(match, str):
            needle = match
            predicate: Callable[[ChatEntry], bool] = lambda entry: needle in entry.line  # noqa: E731
        else:
            predicate = match or (lambda entry: True)
        # Old entries scroll away (max_entries), so remember the last skipped
        # entry itself rather than its index.
        floor = self.entries[min(after, len(self.entries)) - 1] if after > 0 and self.entries else None

        def found() -> ChatEntry | None:
            start = next((i + 1 for i, entry in enumerate(self.entries) if entry is floor), 0)
            return next((entry for entry in self.entries[start:] if predicate(entry)), None)

        return await self._wait(found, timeout, f"an entry matching {match!r}")

    async def wait_for_status(self, status: str, timeout: float = 10.0) -> str:
        """Wait until the connection status is ``status``; returns it.

        ``"connected"`` counts once the transport is known, so :attr:`status_text` names it.
        """

        def reached() -> str | None:
            if self.client.status != status or (status == "connected" and not self.client.transport):
                return None
            return status

        return await self._wait(reached, timeout, f"the status {status!r} (it is {self.client.status!r})")

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 5.0) -> None:
        """Wait until ``condition()`` is true; it is checked again on every change the widget sees.

        Example: ``await chat.wait_until(lambda: "bob" in chat.online)``.
        """
        await self._wait(lambda: True if condition() else None, timeout, "the condition")

    async def _wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        result = check()
        if result is not None:
            return result
        waiter = (check, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter[1], timeout)
        except asyncio.TimeoutError:
            raise ChatConnectionError(
                f"Waited {timeout} s for {what}; is the server running and the widget connected?"
            ) from None
        finally:
            self._waiters.remove(waiter)

    def _wake(self) -> None:
        # Whoever wakes up must find the status line up to date (it names the
        # transport, which python-socketio reveals a moment after "connected").
        self._refresh_controls()
        for check, future in list(self._waiters):
            if not future.done():
                result = check()
                if result is not None:
                    future.set_result(result)

    def _schedule(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        # Widget callbacks are plain functions called on the kernel's loop; the
        # client's methods are coroutines, so they run as tasks.
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        logger.warning("chat widget task failed: %r", exc)
        if not isinstance(exc, ChatError):  # chat errors are already in the list
            self._add(ChatEntry("error", f"Something went wrong: {exc!r}"))

    # -- drawing -------------------------------------------------------------------

    def _render_all(self) -> None:
        self._refresh_controls()
        self._render_online()
        self._render_messages()
        self._render_typing()

    def _refresh_controls(self) -> None:
        status = self.client.status
        colour = _STATUS_COLOURS.get(status, "#555")
        text = f'<b style="color:{colour}">{html.escape(status)}</b>'
        if status == "connected":
            if self.client.transport:
                text += f" via <b>{html.escape(self.client.transport)}</b>"
            else:
                self._settle_soon()
            if self.rich_server is False:
                text += ' <span style="color:#888">(plain server: no names, online list or typing)</span>'
        self.status_line.value = text
        # The status, not client.connected: python-socketio still says
        # "connected" while its disconnect handler runs.
        connected = status == "connected"
        self.send_button.disabled = not connected
        self.send_button.tooltip = None if connected else "Sending is disabled until the chat reconnects."

    def _settle_soon(self, attempts: int = 250) -> None:
        # python-socketio runs the connect handler (our "connected") before it
        # marks itself connected, so the transport is not known yet: look again
        # in a moment, for up to five seconds.
        if self._settle_handle is not None or attempts <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        def settle() -> None:
            self._settle_handle = None
            if self.client.status == "connected" and not self.client.transport:
                self._settle_soon(attempts - 1)
            else:
                self._refresh_controls()
                self._wake()

        self._settle_handle = loop.call_later(0.02, settle)

    def _render_online(self) -> None:
        names = self.client.online
        if names:
            value = "online: " + ", ".join(html.escape(name) for name in names)
        else:
            value = "online: -"
        self.online_line.value = f'<span style="color:#555">{value}</span>'

    def _render_typing(self) -> None:
        names = sorted(name for name in self.client.typing if name)
        if not names or self.client.status != "connected":
            self.typing_line.value = '<span style="color:#666"> </span>'
            return
        verb = "is" if len(names) == 1 else "are"
        text = f"{', '.join(names)} {verb} typing…"
        self.typing_line.value = f'<span style="color:#666;font-size:.9em">{html.escape(text)}</span>'

    def _render_messages(self) -> None:
        items = "".join(_entry_html(entry) for entry in self.entries)
        if not items:
            items = '<div style="color:#888;padding:4px 8px">No messages yet.</div>'
        # column-reverse keeps the list scrolled to its newest line.
        self.message_list.value = (
            f'<div style="height:{html.escape(self.height)};overflow-y:auto;display:flex;'
            'flex-direction:column-reverse;border:1px solid #ddd;border-radius:4px">'
            f"<div>{items}</div></div>"
        )


def _notice_entry(notice: dict) -> ChatEntry:
    kind = notice.get("kind")
    who = notice.get("nickname", "?")
    if kind == protocol.USER_JOINED:
        return ChatEntry("notice", f"{who} joined")
    if kind == protocol.USER_LEFT:
        return ChatEntry("notice", f"{who} left")
    if kind == protocol.NICKNAME:
        return ChatEntry("notice", f"{notice.get('old')} is now {who}")
    if kind == protocol.JOIN:
        return ChatEntry("notice", f"{who} joined the room {notice.get('room')}")
    if kind == protocol.LEAVE:
        return ChatEntry("notice", f"{who} left the room {notice.get('room')}")
    if kind == protocol.CHAT_ERROR:
        return ChatEntry("error", str(notice.get("error")))
    return ChatEntry("notice", f"{kind}: {notice.get('data', notice)}")


def _entry_html(entry: ChatEntry) -> str:
    """One entry as HTML; every piece of text goes through html.escape."""
    style = _ENTRY_STYLES["mine" if entry.mine and entry.kind == "message" else entry.kind]
    when = datetime.fromtimestamp(entry.at).strftime("%H:%M:%S")
    clock = f'<span style="color:#888;font-size:.75em;margin-left:.5em">{when}</span>'
    if entry.kind in ("message", "private"):
        who = entry.nickname or ("you" if entry.mine else "")
        if entry.kind == "private":
            who = f"{entry.nickname} → {entry.recipient} (private)"
        elif entry.room:
            who = f"[{entry.room}] {who}"
        body = (f'<span style="font-weight:600;margin-right:.4em">{html.escape(who)}</span>'
                f'<span class="chat-lib-text">{html.escape(entry.text)}</span>')
    else:
        body = f'<span class="chat-lib-text">{html.escape(entry.text)}</span>'
    return (f'<div class="chat-lib-entry chat-lib-{entry.kind}{" chat-lib-mine" if entry.mine else ""}" '
            f'style="padding:2px 8px;white-space:pre-wrap;overflow-wrap:anywhere;{style}">{body}{clock}</div>')
