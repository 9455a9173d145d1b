"""A hostile client against a real server on 127.0.0.1 (issue 10's findings 3-5, 8 and 10-14).

Each test attacks the way the security review did, with raw WebSocket frames,
raw HTTP or a Redis client, and asserts two things: what the attacker gets
(nothing it should not), and that everybody else sees no change.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
import websockets
from helpers import wait_for

from chat_lib import BackgroundServer, ChatClient, ChatServer

FAST = {"ping_interval": 1, "ping_timeout": 1}


@pytest.fixture
def server():
    with BackgroundServer(**FAST) as running:
        yield running


def ws_url(url: str) -> str:
    return url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"


async def raw_socket(url: str, nickname: str = "mallory"):
    """A Socket.IO connection on a bare WebSocket: handshake, then CONNECT as ``nickname``."""
    ws = await websockets.connect(ws_url(url), max_size=None)
    assert (await ws.recv()).startswith("0{")  # Engine.IO open
    await ws.send("40" + json.dumps({"serverOffset": None, "logId": None, "nickname": nickname}))
    while not (await ws.recv()).startswith("40{"):  # Socket.IO connect accepted
        pass
    return ws


async def closed_by_server(ws, timeout: float = 5) -> bool:
    """Read until the server closes the connection; answers pings meanwhile."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await ws.recv()
                if frame == "2":
                    await ws.send("3")
    except websockets.ConnectionClosed:
        return True
    except TimeoutError:
        return False


async def polling_session(http: httpx.AsyncClient, url: str) -> str:
    """Open an Engine.IO long-polling session; its sid."""
    answer = await http.get(url + "/socket.io/?EIO=4&transport=polling")
    assert answer.status_code == 200, answer.text
    return answer.text.split('"sid":"')[1].split('"')[0]


async def unchanged_for(ada: ChatClient, server: BackgroundServer, online: list[str], stored: int) -> None:
    """Ada still chats, and saw nothing of the attack: no message, no notice, same people online."""
    notices = len(ada.notices)
    await ada.send("still here")
    await ada.wait_for_message(lambda m: m.text == "still here")
    assert [m.text for m in ada.messages] == ["still here"]
    assert len(ada.notices) == notices
    assert server.chat.online == online
    assert len(server.chat.store) == stored + 1


# -- finding 3: binary packets -------------------------------------------------


@pytest.mark.parametrize(
    "announcement",
    [
        '459999999999-["chat message",{"_placeholder":true,"num":0}]',  # BINARY_EVENT, a huge attachment count
        '451-["chat message",{"_placeholder":true,"num":0}]',  # BINARY_EVENT, one attachment
        '461-0[{"_placeholder":true,"num":0}]',  # BINARY_ACK
    ],
)
async def test_a_binary_packet_drops_the_client_before_any_attachment_is_kept(server, announcement):
    async with ChatClient(server.url, nickname="ada") as ada:
        mallory = await raw_socket(server.url)
        await wait_for(lambda: server.chat.online == ["ada", "mallory"])
        try:
            await mallory.send(announcement)
            for _ in range(20):  # attachments, if the server still listens
                try:
                    await mallory.send(b"\0" * 60_000)
                except websockets.ConnectionClosed:
                    break
            assert await closed_by_server(mallory)
        finally:
            await mallory.close()
        assert server.chat.sio._binary_packet == {}  # nothing buffered for anybody
        # Ada sees mallory leave, once, and nothing else.
        await wait_for(lambda: any(n["kind"] == "user left" for n in ada.notices))
        assert [n.get("nickname") for n in ada.notices if n["kind"] == "user left"] == ["mallory"]
        await unchanged_for(ada, server, ["ada"], 0)


async def test_a_bare_binary_frame_drops_the_client(server):
    async with ChatClient(server.url, nickname="ada"):
        mallory = await raw_socket(server.url)
        try:
            await mallory.send(b"\x04" + b"x" * 100)
            assert await closed_by_server(mallory)
        finally:
            await mallory.close()
        await wait_for(lambda: server.chat.online == ["ada"])


# -- finding 4: undecodable polling packets ------------------------------------


class LoopSpy:
    """ASGI middleware that remembers the server's event loop, to count its tasks."""

    def __init__(self, app):
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope, receive, send):
        self.loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)

    def task_count(self) -> int:
        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(5)


async def test_thirty_undecodable_polling_posts_leave_no_task_behind():
    chat = ChatServer(**FAST)
    chat.app = spy = LoopSpy(chat.app)
    with BackgroundServer(chat) as server:
        async with httpx.AsyncClient(timeout=10) as http:
            await polling_session(http, server.url)  # warm up: the engine's service task
            await asyncio.sleep(FAST["ping_interval"] + 0.5)
            before = spy.task_count()
            sids = []
            for _ in range(30):
                sid = await polling_session(http, server.url)
                query = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
                answer = await http.post(server.url + query, content=b"4" + b"x" * 1000)  # not a Socket.IO packet
                assert answer.status_code == 200  # answered at once, not left hanging
                sids.append(sid)
            await wait_for(lambda: not set(sids) & set(chat.sio.eio.sockets), timeout=5)
            for sid in sids[:3]:  # dropped: a poll is refused
                answer = await http.get(server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}")
                assert answer.status_code == 400
            await wait_for(lambda: spy.task_count() <= before, timeout=10, state=lambda: (spy.task_count(), before))
    chat.close()


# -- finding 10: sessions per address -----------------------------------------


async def test_sessions_per_address_are_capped_and_others_keep_chatting():
    with BackgroundServer(max_sessions_per_address=3, **FAST) as server:
        async with ChatClient(server.url, nickname="ada") as ada, httpx.AsyncClient(timeout=10) as http:
            first = await polling_session(http, server.url)
            await polling_session(http, server.url)  # ada's and two: the cap
            refused = await http.get(server.url + "/socket.io/?EIO=4&transport=polling")
            assert refused.status_code == 401
            assert "Too many connections" in refused.json()["message"]
            with pytest.raises(websockets.InvalidStatus):
                await websockets.connect(ws_url(server.url))
            await unchanged_for(ada, server, ["ada"], 0)
            # One closed, one more allowed.
            await http.post(server.url + f"/socket.io/?EIO=4&transport=polling&sid={first}", content=b"1")
            await wait_for(lambda: first not in server.chat.sio.eio.sockets)
            await polling_session(http, server.url)


def test_sessions_per_address_cap_can_be_switched_off():
    assert ChatServer(max_sessions_per_address=None).sio.max_sessions_per_address is None
