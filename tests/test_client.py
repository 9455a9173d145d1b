"""ChatClient: transports, waiting, reconnection, and clear errors."""

from __future__ import annotations

import asyncio
import time

import pytest
from helpers import unused_port, wait_for

from chat_lib import BackgroundServer, ChatClient, ChatConnectionError


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_pinned_transport_is_kept(server, transport):
    async with ChatClient(server.url, transport=transport) as client:
        await client.send("hi")
        assert client.transport == transport


async def test_auto_starts_on_polling_and_upgrades(server):
    async with ChatClient(server.url, transport="auto") as client:
        await wait_for(lambda: client.transport == "websocket", timeout=5)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_disconnect_is_quick_and_idempotent(server, transport):
    client = await ChatClient(server.url, transport=transport).connect()
    began = time.perf_counter()
    await client.disconnect()
    assert time.perf_counter() - began < 2
    assert client.status == "disconnected" and not client.connected
    await client.disconnect()
    await wait_for(lambda: server.chat.online == [])


async def test_welcome_gives_nickname_and_head_offset(server):
    async with ChatClient(server.url) as first:
        await first.send("one")
        assert first.nickname.startswith("guest-")
    async with ChatClient(server.url, nickname="ada") as ada:
        assert (ada.nickname, ada.last_offset) == ("ada", 1)


async def test_listeners_hear_messages_online_and_status(server):
    heard: list[str] = []
    client = ChatClient(server.url, nickname="ada")
    client.add_listener(lambda kind, data: heard.append(kind))
    async with client:
        await client.send("hi")
        await client.wait_for_message()
    assert {"status", "online", "message"} <= set(heard)


async def test_a_broken_listener_does_not_break_the_client(server):
    client = ChatClient(server.url)
    client.add_listener(lambda kind, data: 1 / 0)
    async with client:
        await client.send("still fine")
        assert (await client.wait_for_message()).text == "still fine"


async def test_async_iteration_yields_messages_as_they_arrive(server):
    async with ChatClient(server.url) as client:
        async def collect(n):
            got = []
            async for message in client:
                got.append(message.text)
                if len(got) == n:
                    return got

        collector = asyncio.ensure_future(collect(3))
        for text in ("a", "b", "c"):
            await client.send(text)
        assert await asyncio.wait_for(collector, 5) == ["a", "b", "c"]


async def test_wait_for_message_times_out_with_a_clear_error(server):
    async with ChatClient(server.url) as client:
        with pytest.raises(ChatConnectionError, match="No matching message arrived within 0.2 s"):
            await client.wait_for_message(timeout=0.2)


async def test_connect_to_nothing_raises_chat_connection_error():
    port = unused_port()
    with pytest.raises(ChatConnectionError, match=f"Cannot connect to http://127.0.0.1:{port}"):
        await ChatClient(f"http://127.0.0.1:{port}", transport="websocket").connect(timeout=2)


async def test_send_before_connect_says_what_to_do():
    with pytest.raises(ChatConnectionError, match="call connect"):
        await ChatClient("http://127.0.0.1:9").send("hello")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_reconnects_after_restart_and_delivers_what_was_typed_meanwhile(transport):
    first = BackgroundServer(ping_interval=1, ping_timeout=1).start()
    port = first.port
    async with ChatClient(first.url, nickname="ada", transport=transport) as ada:
        await ada.send("before the outage")
        first.stop()
        await wait_for(lambda: ada.status == "reconnecting", timeout=10)
        pending = asyncio.ensure_future(ada.send("typed during the outage"))
        await asyncio.sleep(0.3)
        assert not pending.done()
        with BackgroundServer(port=port, ping_interval=1, ping_timeout=1):
            ack = await asyncio.wait_for(pending, 20)
            assert ack["ok"] and ada.status == "connected" and ada.reconnects == 1
            await ada.wait_for_message(lambda m: m.text == "typed during the outage", timeout=5)


async def test_works_against_a_plain_tutorial_server(tutorial_server):
    """The ten-line server of the Node.js tutorial, in Python: bare strings only."""
    client = await ChatClient(tutorial_server.url, transport="websocket").connect(welcome_timeout=0.2)
    await client.emit("chat message", "plain hello")
    message = await client.wait_for_message()
    assert (message.text, message.offset, message.nickname) == ("plain hello", None, None)
    await client.disconnect()


async def test_connect_twice_keeps_the_connection(server):
    async with ChatClient(server.url) as client:
        assert await client.connect() is client  # a notebook cell run twice
        assert client.connected and client.status == "connected"
        await client.send("still connected")


async def test_without_reconnection_a_lost_server_means_disconnected():
    server = BackgroundServer(ping_interval=1, ping_timeout=1).start()
    client = await ChatClient(server.url, reconnection=False, transport="websocket").connect()
    server.stop()
    await wait_for(lambda: client.status == "disconnected", timeout=10)
    with pytest.raises(ChatConnectionError, match="call connect"):
        await client.send("nobody will take this")
    await client.disconnect()


async def test_removed_listener_hears_nothing_more(server):
    heard: list[str] = []
    client = ChatClient(server.url)

    def listener(kind, data):
        heard.append(kind)

    client.add_listener(listener)
    async with client:
        client.remove_listener(listener)
        client.remove_listener(listener)  # harmless twice
        count = len(heard)
        await client.send("unheard")
        await client.wait_for_message()
    assert len(heard) == count


async def test_dropped_by_the_server_means_disconnected_not_reconnecting(server):
    client = await ChatClient(server.url, transport="websocket").connect()
    await client._sio.eio.send("2" + "[" * 5000 + "]" * 5000)  # undecodable: the server drops us
    await wait_for(lambda: client.status == "disconnected", timeout=10)
    await asyncio.sleep(1.5)  # longer than the first reconnection delay: none is attempted
    assert client.status == "disconnected" and not client.connected
    await client.disconnect()
