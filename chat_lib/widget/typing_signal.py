"""TypingSignal: tell the others we are typing while keys are pressed, and when we stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from ..client import ChatClient

__all__ = ["TYPING_IDLE_SECONDS", "TypingSignal"]

#: How long an idle input box still counts as "typing" for the others.
TYPING_IDLE_SECONDS = 2.0


class TypingSignal:
    """Sends ``typing: true`` on the first keystroke, ``false`` after a pause or when the message goes.

    :param client: whose ``set_typing`` to call.
    :param schedule: runs a coroutine as a task (the widget's callbacks are plain functions).
    """

    def __init__(self, client: ChatClient, schedule: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        self._client = client
        self._schedule = schedule
        self._sent = False  # whether the others think we are typing
        self._timer: asyncio.TimerHandle | None = None

    def keystroke(self) -> None:
        """A key was pressed in the input box."""
        if not self._sent:
            self._sent = True
            self._schedule(self._client.set_typing(True))
        self.cancel_timer()
        try:
            self._timer = asyncio.get_running_loop().call_later(TYPING_IDLE_SECONDS, self.stop)
        except RuntimeError:  # no running loop: nobody to tell
            pass

    def stop(self) -> None:
        """We stopped typing (a pause, or the message was sent)."""
        self.cancel_timer()
        if self._sent:
            self._sent = False
            self._schedule(self._client.set_typing(False))

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
