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

One concept per module:

* :mod:`~chat_lib.widget.chat_widget`: :class:`ChatWidget`, the wiring between client and box;
* :mod:`~chat_lib.widget.view`: :class:`~chat_lib.widget.view.ChatView`, the ipywidgets and their drawing;
* :mod:`~chat_lib.widget.entries`: :class:`ChatEntry`, one line of the list, and its HTML;
* :mod:`~chat_lib.widget.waits`: waiting for what the widget shows;
* :mod:`~chat_lib.widget.commands`: what typed text means (``/msg``, ``/join``, ``#room``);
* :mod:`~chat_lib.widget.typing_signal`: "is typing", sent while keys are pressed.

Notebook 05 introduces it.
"""

from __future__ import annotations

from .chat_widget import ChatWidget
from .entries import ChatEntry
from .view import ChatView

__all__ = ["ChatEntry", "ChatView", "ChatWidget"]
