"""Several server processes joined through a real redis-server."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis
import socketio
from helpers import unused_port, wait_for

from chat_lib import BackgroundServer, ChatClient, LocalRedis, ServerGroup, ServerStartError

FAST = {"ping_interval": 1, "ping_timeout": 1, "rate_limit": None}


@pytest.fixture(scope="module")
def group():
    with ServerGroup(3, **FAST) as running:
        yield running


async def connect_one_per_server(group: ServerGroup, prefix: str) -> list[ChatClient]:
    transports = ["websocket", "polling", "websocket"]
    return [
        await ChatClient(url, nickname=f"{prefix}{i}", transport=t).connect()
        for i, (url, t) in enumerate(zip(group.urls, transports))
    ]


async def test_local_redis_answers_and_stops():
    with LocalRedis() as local:
        assert redis.Redis.from_url(local.url).ping()
        port = local.port
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=port, socket_connect_timeout=0.5).ping()


async def test_broadcast_reaches_clients_of_every_server(group):
    clients = await connect_one_per_server(group, "b")
    try:
        await clients[0].send("hello everyone")
        for client in clients:
            message = await client.wait_for_message(lambda m: m.text == "hello everyone")
            assert message.nickname == "b0"
        # one log, one offset sequence, whichever server stored it
        ack = await clients[2].send("from the third")
        assert ack["offset"] == message.offset + 1
    finally:
        for client in clients:
            await client.disconnect()


async def test_each_kind_of_client_on_another_server_gets_its_own_form(group):
    # One publish carries the message in every audience's form; each process sends each client its own.
    plain, tutorial = socketio.AsyncClient(reconnection=False), socketio.AsyncClient(reconnection=False)
    heard: dict[str, asyncio.Queue] = {"plain": asyncio.Queue(), "tutorial": asyncio.Queue()}
    plain.on("chat message", lambda *args: heard["plain"].put_nowait(args))
    tutorial.on("chat message", lambda *args: heard["tutorial"].put_nowait(args))
    await plain.connect(group.urls[1], transports=["websocket"])  # no auth: the tutorial's first client
    await tutorial.connect(group.urls[2], transports=["websocket"], auth={"serverOffset": None})  # its last one
    async with ChatClient(group.urls[0], nickname="forms") as sender, ChatClient(group.urls[1], nickname="rich") as rich:
        await asyncio.sleep(0.2)  # the raw clients' connect handlers have run (they get no welcome to wait for)
        ack = await sender.send("one message, three forms")
        got = await rich.wait_for_message(lambda m: m.text == "one message, three forms")
        try:
            assert await asyncio.wait_for(heard["plain"].get(), 5) == ("one message, three forms",)
            assert await asyncio.wait_for(heard["tutorial"].get(), 5) == ("one message, three forms", ack["offset"])
        finally:
            for client in (plain, tutorial):
                await client.disconnect()
    assert (got.offset, got.nickname) == (ack["offset"], "forms")


async def test_online_list_spans_every_server(group):
    clients = await connect_one_per_server(group, "o")
    try:
        await wait_for(lambda: all({"o0", "o1", "o2"} <= set(c.online) for c in clients))
        await clients[1].disconnect()
        await wait_for(lambda: "o1" not in clients[0].online and "o1" not in clients[2].online)
    finally:
        for client in clients:
            await client.disconnect()


async def test_rooms_and_private_messages_cross_servers(group):
    ada, bob, eve = await connect_one_per_server(group, "r")
    try:
        await ada.join("lounge")
        await bob.join("lounge")
        await ada.send("lounge only", room="lounge")
        await bob.wait_for_message(lambda m: m.text == "lounge only")
        # Presence is shared after a short coalescing window: r2 is addressable once listed.
        await wait_for(lambda: "r2" in ada.online)
        await ada.send_private("r2", "just for you")
        assert (await eve.wait_for_message(lambda m: m.private)).text == "just for you"
        await ada.send("marker")
        await eve.wait_for_message(lambda m: m.text == "marker")
        assert "lounge only" not in [m.text for m in eve.messages]
        assert not any(m.private for m in bob.messages)
    finally:
        for client in (ada, bob, eve):
            await client.disconnect()


async def test_killed_servers_clients_move_on_and_catch_up():
    with ServerGroup(2, **FAST) as pair:
        mover = await ChatClient(pair.urls, nickname="mover", transport="websocket").connect()
        stayer = await ChatClient(pair.urls[1], nickname="stayer", transport="websocket").connect()
        try:
            await mover.send("before")
            pair.servers[0].kill()
            # Noticed: reconnecting, or already back on the other server (a fast
            # reconnection can come and go between two looks).
            await wait_for(
                lambda: not (mover.status == "connected" and mover.url == pair.urls[0]),
                state=lambda: (mover.status, mover.url),
            )
            for i in range(5):
                await stayer.send(f"while moving {i}")
            await wait_for(lambda: mover.status == "connected", state=lambda: (mover.status, mover.url))
            assert mover.url == pair.urls[1]
            await mover.wait_for_count(6)
            texts = [m.text for m in mover.messages]
            assert texts == ["before"] + [f"while moving {i}" for i in range(5)]
            await mover.send("after")
            await stayer.wait_for_message(lambda m: m.text == "after")
        finally:
            await mover.disconnect()
            await stayer.disconnect()


def test_unreachable_redis_at_start_is_a_clear_error():
    url = f"redis://127.0.0.1:{unused_port()}/0"
    with pytest.raises(ServerStartError, match=f"Cannot reach Redis at {url}.*LocalRedis"):
        BackgroundServer(redis_url=url).start()
    with pytest.raises(ServerStartError, match="Cannot reach Redis"):
        BackgroundServer(mode="process", redis_url=url).start()


async def test_redis_lost_while_running_then_back(tmp_path):
    local = LocalRedis().start()
    try:
        with BackgroundServer(redis_url=local.url, store=str(tmp_path / "log.sqlite3"), **FAST) as server:
            async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
                await ada.send("before the outage")
                local.stop()
                # Without Redis the server stays up and answers; what it cannot
                # share, it reports in its log.
                async with ChatClient(server.url, nickname="bob", transport="websocket") as bob:
                    assert "bob" in bob.online or bob.online == []
                local.start()  # the same port and password
                await asyncio.sleep(1)
                ack = await ada.send("after the outage", timeout=20)
                assert ack["ok"]
                await ada.wait_for_message(lambda m: m.text == "after the outage", timeout=20)
    finally:
        local.stop()


def _answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.3).ping()
    except redis.exceptions.AuthenticationError:
        return True  # it answers, to those who know its password
    except redis.exceptions.RedisError:
        return False


def test_server_group_start_and_stop_are_idempotent():
    group = ServerGroup(1, **FAST)
    try:
        group.start()
        urls = group.urls
        assert group.start().urls == urls  # not a second set of servers
    finally:
        group.stop()
        group.stop()
    assert len(group.servers) == 1 and not group.servers[0].running


def test_local_redis_dies_with_its_parent():
    import subprocess
    import sys

    parent = subprocess.Popen(
        [sys.executable, "-c", "import time; from chat_lib import LocalRedis; r = LocalRedis().start(); "
         "print(r.port, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        port = int(parent.stdout.readline())
        assert _answers(port)
        parent.kill()  # no clean-up code runs: only the keeper's lifeline
        parent.wait()
        deadline = time.monotonic() + 10
        while _answers(port):
            assert time.monotonic() < deadline, "redis-server outlived its parent"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
