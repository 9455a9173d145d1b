"""Controls: what the reader does in the chat box, turned into chat actions.

Enter and the Send button send the input box's text, keystrokes tell the
others we are typing, and the name box renames. ipywidgets calls these
handlers as plain functions on the kernel's loop; the chat's actions are
coroutines, so they run as tasks, and a failure shows in the message list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..errors import ChatError
from .entries import ChatEntry
from .typing_signal import TypingSignal

if TYPE_CHECKING:
    from .chat_widget import ChatWidget

__all__ = ["Controls"]

logger = logging.getLogger("chat_lib.widget")


class Controls:
    """Wires the input box, the Send button and the name box of ``widget``'s view to its chat."""

    def __init__(self, widget: ChatWidget) -> None:
        self._widget = widget
        self._client = widget.client
        self._view = widget.view
        self._tasks: set[asyncio.Task] = set()  # keep scheduled sends alive until done
        self._syncing_nickname = False
        self.typing = TypingSignal(self._client, self.schedule)
        view = self._view
        view.input.on_msg(self._on_input_message)
        view.input.observe(self._on_input_change, names="value")
        view.send_button.on_click(lambda _button: self.submit())
        view.nickname_box.observe(self._on_nickname_box, names="value")

    def schedule(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run ``coroutine`` as a task on the running loop, kept alive until done."""
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
            self._widget.show(ChatEntry("error", f"Something went wrong: {exc!r}"))

    # -- the input box and the Send button ----------------------------------------

    def submit(self) -> None:
        """Enter or the Send button: send what is in the box, unless we are disconnected."""
        text = self._view.input.value
        if not text.strip() or self._client.status != "connected":
            return  # keep the text; the button is disabled meanwhile
        self._view.input.value = ""
        self.schedule(self._send_from_box(text))

    async def _send_from_box(self, text: str) -> None:
        try:
            await self._widget.send(text)
        except ChatError as exc:  # refused (MessageRejected) or no connection
            self._widget.show(ChatEntry("error", f"Not sent: {exc}"))

    def _on_input_message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        # The Text view sends {"event": "submit"} when Enter is pressed.
        if isinstance(content, dict) and content.get("event") == "submit":
            self.submit()

    def _on_input_change(self, change: dict) -> None:
        if change["new"] and self._widget.rich_server and self._client.status == "connected":
            self.typing.keystroke()

    # -- the name box --------------------------------------------------------------

    def _on_nickname_box(self, change: dict) -> None:
        wanted = change["new"].strip()
        if self._syncing_nickname or not wanted or wanted == self._client.nickname:
            return
        if not self._widget.rich_server or self._client.status != "connected":
            self._widget.show(
                ChatEntry("error", "This server does not support nicknames (or the chat is not connected).")
            )
            self.show_nickname()
            return
        self.schedule(self._rename(wanted))

    async def _rename(self, wanted: str) -> None:
        try:
            await self._client.set_nickname(wanted)
        except ChatError as exc:
            self._widget.show(ChatEntry("error", f"Nickname not changed: {exc}"))
        self.show_nickname()
        self._widget.wake()

    def show_nickname(self) -> None:
        """Put the client's nickname in the name box, without taking it for a rename."""
        self._syncing_nickname = True
        try:
            self._view.nickname_box.value = self._client.nickname or ""
        finally:
            self._syncing_nickname = False
