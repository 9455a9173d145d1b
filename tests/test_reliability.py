"""Nothing lost, nothing doubled: kills, restarts, retries and a blocked WebSocket."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import wait_for

from chat_lib import BackgroundServer, ChatClient, ChatConnectionError, MessageStore

# Short pings so polling clients notice a dead server within a second or two.
FAST = {"ping_interval": 1, "ping_timeout": 1, "rate_limit": None}


async def test_kill_and_restart_twice_loses_and_duplicates_nothing(tmp_path):
    """Four clients on both transports keep typing while the server is SIGKILLed twice."""
    store = str(tmp_path / "chat.sqlite3")
    server = BackgroundServer(mode="process", store=store, **FAST).start()
    port = server.port
    transports = ["websocket", "polling", "auto", "websocket"]
    clients = [
        await ChatClient(server.url, nickname=f"user{i}", transport=t, ack_timeout=2).connect()
        for i, t in enumerate(transports)
    ]
    per_client = 60
    sent: list[str] = []

    async def type_away(client: ChatClient, index: int) -> None:
        for n in range(per_client):
            text = f"user{index} message {n}"
            await client.send(text, timeout=60)  # waits through outages, retries until stored
            sent.append(text)
            await asyncio.sleep(0.01)

    typists = [asyncio.ensure_future(type_away(c, i)) for i, c in enumerate(clients)]
    try:
        for _ in range(2):
            await wait_for(lambda: len(sent) >= 80 + 80 * _, timeout=30)
            server.kill()
            await wait_for(
                lambda: all(c.status == "reconnecting" for c in clients),
                timeout=30,
                state=lambda: [(c.status, c.transport, c._sio.eio.state) for c in clients],
            )
            server = BackgroundServer(mode="process", port=port, store=store, **FAST).start()
            # Everybody back before the next crash, so each client lives through both.
            await wait_for(
                lambda: all(c.status == "connected" for c in clients),
                timeout=30,
                state=lambda: [(c.status, c.transport) for c in clients],
            )
        await asyncio.wait_for(asyncio.gather(*typists), 120)
        total = per_client * len(clients)
        for client in clients:
            await client.wait_for_count(total, timeout=30)
        stored = MessageStore(store)
        log = [m.text for m in stored.since(0, limit=10_000)]
        stored.close()
        assert sorted(log) == sorted(sent) and len(log) == total  # every message stored exactly once
        for client in clients:
            assert [m.text for m in client.messages] == log  # each client: all, once, in log order
            assert client.reconnects == 2
    finally:
        for task in typists:
            task.cancel()
        for client in clients:
            await client.disconnect()
        server.stop()


async def test_acknowledged_messages_survive_a_kill(tmp_path):
    store = str(tmp_path / "chat.sqlite3")
    with BackgroundServer(mode="process", store=store, **FAST) as server:
        async with ChatClient(server.url) as client:
            acks = [await client.send(f"durable {i}") for i in range(20)]
        server.kill()
    reopened = MessageStore(store)
    assert [m.offset for m in reopened.since(0)] == [a["offset"] for a in acks]
    reopened.close()


async def test_restart_on_a_new_log_resets_offsets(server):
    """A server that comes back without its file starts a new log: clients start over, losing no new message."""
    port = server.port
    async with ChatClient(server.url, transport="websocket") as client:
        for i in range(3):
            await client.send(f"old log {i}")
        server.stop()
        await wait_for(lambda: client.status == "reconnecting")
        with BackgroundServer(port=port, **FAST):
            await wait_for(lambda: client.status == "connected")
            await client.send("new log 0")
            message = await client.wait_for_message(lambda m: m.text == "new log 0")
            assert message.offset == 1


async def test_blocked_websocket_falls_back_to_polling():
    with BackgroundServer(transports=["polling"], **FAST) as server:
        async with ChatClient(server.url, transport="auto") as client:
            await client.send("over polling")
            await asyncio.sleep(0.5)  # an upgrade would have happened by now
            assert client.transport == "polling"
            assert (await client.wait_for_message()).text == "over polling"
        with pytest.raises(ChatConnectionError, match="If a proxy blocks WebSocket, try transport='polling'"):
            await ChatClient(server.url, transport="websocket").connect(timeout=3)


async def test_a_lost_ack_is_retried_and_stored_once(server):
    """A handler slower than the ack timeout: the client sends again, the server keeps one copy."""
    original = server.chat.store.append
    calls = 0

    def slow_first_append(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            time.sleep(1.2)  # block the server's loop past the client's ack timeout
        return original(*args, **kwargs)

    server.chat.store.append = slow_first_append
    async with ChatClient(server.url, ack_timeout=0.5) as client:
        ack = await client.send("sent once, maybe twice")
        await client.send("marker")
        await client.wait_for_message(lambda m: m.text == "marker")
    assert calls >= 2  # it was retried
    assert [m.text for m in client.messages] == ["sent once, maybe twice", "marker"]
    assert ack["offset"] == 1 and len(server.chat.store) == 2
