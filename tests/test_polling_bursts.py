"""Bursts on long-polling arrive whole: no payload is dropped behind a 200 (issue 13).

python-engineio refuses a polling payload of more than
``Payload.max_decode_packets`` packets (16 by default), answers 200 and drops
every message in it. The chat server bounds a payload by bytes instead
(:func:`chat_lib.overrides.allow_polling_payloads`); a larger POST gets 413.
"""

from __future__ import annotations

import asyncio

import socketio

from chat_lib import BackgroundServer
from chat_lib.overrides import allow_polling_payloads

BURST = 20_000


async def test_a_burst_of_20000_on_polling_arrives_whole_in_order_and_once():
    allow_polling_payloads(1_000_000)  # what ChatClient and ChatServer do: this client reads bursts too
    with BackgroundServer(rate_limit=None, presence=False, ping_interval=5) as server:
        receiver, sender = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
        received: list[str] = []
        everything = asyncio.Event()

        @receiver.on("chat message")
        def on_message(text):
            received.append(text)
            if len(received) >= BURST:
                everything.set()

        await receiver.connect(server.url, transports=["polling"])
        await sender.connect(server.url, transports=["polling"])
        try:
            for i in range(BURST):  # queued at once: the polling writer packs them into large POSTs
                await sender.emit("chat message", f"m{i}")
            await asyncio.wait_for(everything.wait(), 90)
            await asyncio.sleep(0.2)  # anything extra would arrive now
        finally:
            await sender.disconnect()
            await receiver.disconnect()
        assert received == [f"m{i}" for i in range(BURST)]
        assert len(server.chat.store) == BURST
