"""Events only Socket.IO may raise cannot be sent by a client (issue 10, first finding).

python-socketio dispatches an EVENT packet named "disconnect" to the
disconnect handler; the chat server refuses such names before any handler runs.
Raw WebSocket frames, since python-socketio's client refuses to emit them.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from chat_lib import BackgroundServer, ChatClient


@pytest.fixture
def server():
    with BackgroundServer(ping_interval=2, ping_timeout=2) as running:
        yield running


async def raw_socket(url: str, auth: dict):
    """A Socket.IO connection on a bare WebSocket: handshake, CONNECT with ``auth``."""
    ws = await websockets.connect(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket")
    assert (await ws.recv()).startswith("0{")  # Engine.IO open
    await ws.send("40" + json.dumps(auth))
    assert (await ws.recv()).startswith("40{")  # Socket.IO connect accepted
    return ws


async def frames_until(ws, prefix: str, timeout: float = 5) -> str:
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.recv()
            if frame == "2":
                await ws.send("3")  # pong
            elif frame.startswith(prefix):
                return frame


@pytest.mark.parametrize("name", ["disconnect", "connect", "connect_error", "disconnecting"])
async def test_a_client_cannot_raise_a_reserved_event(server, name):
    async with ChatClient(server.url, nickname="ada") as ada:
        mallory = await raw_socket(server.url, {"serverOffset": None, "logId": None, "nickname": "mallory"})
        try:
            async with asyncio.timeout(5):  # presence changes travel in batches: wait for mallory's
                while "mallory" not in ada.online:
                    await asyncio.sleep(0.01)
            await mallory.send("421" + json.dumps([name, {"serverOffset": 0, "nickname": "eve"}]))
            answer = json.loads((await frames_until(mallory, "431"))[3:])
            assert answer == [{"ok": False, "error": f"{name!r} is not an event a client may send."}]
            await mallory.send("42" + json.dumps([name]))  # without an ack: ignored just the same
            await ada.send("marker")  # once ada has this, any notice sent before it has arrived
            await ada.wait_for_message(lambda m: m.text == "marker")
            await asyncio.sleep(0.3)  # and any presence batch (0.1 s) that would have followed
            assert sorted(server.chat.online) == ["ada", "mallory"]  # one entry each: no fake arrival or departure
            notices = [(n["kind"], n.get("nickname")) for n in ada.notices]
            assert ("user left", "mallory") not in notices and ("user joined", "eve") not in notices
            assert notices.count(("user joined", "mallory")) == 1
        finally:
            await mallory.close()
