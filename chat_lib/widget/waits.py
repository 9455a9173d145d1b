"""Waits: code that waits for what the widget shows, woken by every change it sees.

The widget's changes arrive as callbacks on the kernel's event loop; a wait
is a check and a future, and each change runs the checks again. No polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import ChatConnectionError
from .entries import ChatEntry

__all__ = ["Waits", "entry_finder"]

T = TypeVar("T")


class Waits:
    """Pending waits: :meth:`wait` for a check to give a result, :meth:`wake` after every change."""

    def __init__(self) -> None:
        self._waiters: list[tuple[Callable[[], Any], asyncio.Future]] = []

    async def wait(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        """The first result of ``check()`` that is not ``None``, checked now and after each change.

        :raises ChatConnectionError: none within ``timeout`` seconds; ``what`` names it in the message.
        """
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

    def wake(self) -> None:
        """Something changed: run every pending check again."""
        for check, future in list(self._waiters):
            if not future.done():
                result = check()
                if result is not None:
                    future.set_result(result)


def entry_finder(
    entries: Sequence[ChatEntry], match: str | Callable[[ChatEntry], bool] | None, after: int
) -> Callable[[], ChatEntry | None]:
    """A check for :meth:`Waits.wait`: the first entry that matches, other than the first ``after`` of now.

    :param match: a substring of the entry's :attr:`~ChatEntry.line`, a predicate, or ``None`` for any.
    """
    if isinstance(match, str):
        needle = match
        predicate: Callable[[ChatEntry], bool] = lambda entry: needle in entry.line  # noqa: E731
    else:
        predicate = match or (lambda entry: True)
    # Remember the skipped entries themselves, not their count: old entries
    # scroll away (max_entries), and a message fetched late from the log is
    # inserted in its place, in front of newer ones. Keyed by id() and kept
    # alive here, so that no new entry can reuse one of their ids.
    skipped = {id(entry): entry for entry in entries[:after]}

    def found() -> ChatEntry | None:
        return next((entry for entry in entries if id(entry) not in skipped and predicate(entry)), None)

    return found
