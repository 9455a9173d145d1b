"""ChatView: the chat box's ipywidgets, drawing what a client knows.

The view reads the client (status, transport, who is online and typing) and
draws the entries it is given; it never sends anything.
:class:`~chat_lib.widget.ChatWidget` wires its controls to the client.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Iterable

import ipywidgets as widgets

from ..client import ChatClient
from .entries import ChatEntry, entry_html

__all__ = ["ChatView"]

STATUS_COLOURS = {
    "connected": "#15803d", "connecting": "#b45309", "reconnecting": "#b45309", "disconnected": "#b91c1c",
}


class ChatView:
    """The chat box, top to bottom: status and nickname, who is online, the
    message list, who is typing, and the input box with its Send button.

    :param client: what to show.
    :param height: CSS height of the message list.
    :param on_settled: called once the transport of a new connection is known.
    """

    def __init__(self, client: ChatClient, height: str = "260px", on_settled: Callable[[], None] = lambda: None):
        self.client = client
        self.height = height
        self._on_settled = on_settled
        self._settle_handle: asyncio.TimerHandle | None = None
        self.status_line = widgets.HTML()
        self.nickname_box = widgets.Text(
            value=client.nickname or "", description="name", continuous_update=False,
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
        header = widgets.HBox([self.status_line, self.nickname_box],
                              layout=widgets.Layout(justify_content="space-between", align_items="center"))
        row = widgets.HBox([self.input, self.send_button])
        self.box = widgets.VBox([header, self.online_line, self.message_list, self.typing_line, row],
                                layout=widgets.Layout(width="100%", max_width="760px"))
        self.box.add_class("chat-lib-widget")

    def close(self) -> None:
        """Remove the box and every control from the page."""
        self.box.close()
        for widget in (self.status_line, self.nickname_box, self.online_line, self.message_list,
                       self.typing_line, self.input, self.send_button):
            widget.close()

    def draw_all(self, entries: Iterable[ChatEntry], rich_server: bool | None) -> None:
        self.draw_status(rich_server)
        self.draw_online()
        self.draw_messages(entries)
        self.draw_typing()

    def draw_status(self, rich_server: bool | None) -> None:
        """The status line, and the Send button enabled only while connected."""
        status, transport = self.client.status, self.client.transport
        colour = STATUS_COLOURS.get(status, "#555")
        text = f'<b style="color:{colour}">{html.escape(status)}</b>'
        if status == "connected":
            if transport:
                text += f" via <b>{html.escape(transport)}</b>"
            else:
                self._settle_soon()
            if rich_server is False:
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
                self._on_settled()

        self._settle_handle = loop.call_later(0.02, settle)

    def draw_online(self) -> None:
        names = self.client.online
        value = "online: " + ", ".join(html.escape(name) for name in names) if names else "online: -"
        self.online_line.value = f'<span style="color:#555">{value}</span>'

    def draw_typing(self) -> None:
        names = sorted(name for name in self.client.typing if name)
        if not names or self.client.status != "connected":
            self.typing_line.value = '<span style="color:#666"> </span>'
            return
        verb = "is" if len(names) == 1 else "are"
        text = f"{', '.join(names)} {verb} typing…"
        self.typing_line.value = f'<span style="color:#666;font-size:.9em">{html.escape(text)}</span>'

    def draw_messages(self, entries: Iterable[ChatEntry]) -> None:
        items = "".join(entry_html(entry) for entry in entries)
        if not items:
            items = '<div style="color:#888;padding:4px 8px">No messages yet.</div>'
        # column-reverse keeps the list scrolled to its newest line.
        self.message_list.value = (
            f'<div style="height:{html.escape(self.height)};overflow-y:auto;display:flex;'
            'flex-direction:column-reverse;border:1px solid #ddd;border-radius:4px">'
            f"<div>{items}</div></div>"
        )
