"""nginx in front of chat server processes: sticky or not, WebSocket upgrades, timeouts.

Real nginx (Debian's, as a user process), real uvicorn processes on one Redis.
Skipped only when nginx is missing and CHAT_LIB_REQUIRE_NGINX is not set (.ci/run sets it).
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import httpx
import pytest
from helpers import wait_for

from chat_lib import BackgroundServer, ChatClient, ChatConnectionError, ServerGroup
from chat_lib.errors import ServerStartError
from chat_lib.lab.nginx import Nginx, nginx_binary

FAST = {"ping_interval": 1, "ping_timeout": 1, "rate_limit": None}


def _require_nginx() -> None:
    try:
        nginx_binary()
    except ServerStartError:
        if os.environ.get("CHAT_LIB_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required here (CHAT_LIB_REQUIRE_NGINX=1): apt-get install nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")


@pytest.fixture(scope="module")
def group():
    _require_nginx()
    with ServerGroup(3, **FAST) as running:
        yield running


async def _handshake(client: httpx.AsyncClient, url: str) -> str:
    opened = await client.get(f"{url}/socket.io/", params={"EIO": 4, "transport": "polling"})
    assert opened.status_code == 200, opened.text
    return json.loads(opened.text[1:])["sid"]


async def test_without_stickiness_a_polling_session_gets_400_invalid_session(group):
    with Nginx(group.urls, balance="round_robin") as proxy:
        async with httpx.AsyncClient() as http:
            sid = await _handshake(http, proxy.url)
            again = await http.get(f"{proxy.url}/socket.io/", params={"EIO": 4, "transport": "polling", "sid": sid})
        assert again.status_code == 400 and again.json().startswith("Invalid session")
        handshake, poll = proxy.routes()
        assert handshake.upstream != poll.upstream  # the next request went to another server
        # A whole client fails the same way.
        with pytest.raises(ChatConnectionError):
            await ChatClient(proxy.url, transport="polling", reconnection=False).connect(timeout=5)


async def test_websocket_only_works_without_stickiness(group):
    with Nginx(group.urls, balance="round_robin") as proxy:
        async with ChatClient(proxy.url, nickname="ada", transport="websocket") as ada:
            ack = await ada.send("one connection, one server")
            assert ack["ok"] and ada.transport == "websocket"
        # nginx logs a WebSocket when it closes
        await wait_for(lambda: [route.status for route in proxy.routes()] == [101], timeout=5)


async def test_cookie_keeps_each_session_on_one_server_and_spreads_sessions(group):
    with Nginx(group.urls, balance="cookie") as proxy:
        async with ChatClient(proxy.url, nickname="bob", transport="polling") as bob:
            for i in range(3):
                await bob.send(f"polling {i}")
            await bob.wait_for_message(lambda m: m.text == "polling 2")
        servers = {route.upstream for route in proxy.routes()}
        assert len(servers) == 1 and all(route.status == 200 for route in proxy.routes())
        async with httpx.AsyncClient() as http:  # twelve new visitors, no cookie yet
            for _ in range(12):
                http.cookies.clear()
                await _handshake(http, proxy.url)
        assert len({route.upstream for route in proxy.routes()[-12:]}) > 1


async def test_ip_hash_sends_every_loopback_client_to_one_server(group):
    with Nginx(group.urls, balance="ip_hash") as proxy:
        async with httpx.AsyncClient() as http:
            for _ in range(12):
                await _handshake(http, proxy.url)
        assert len({route.upstream for route in proxy.routes()}) == 1


async def test_auto_transport_upgrades_to_websocket_through_nginx(group):
    with Nginx(group.urls) as proxy:
        async with ChatClient(proxy.url, nickname="cyd", transport="auto") as cyd:
            await wait_for(lambda: cyd.transport == "websocket")
            assert (await cyd.send("upgraded"))["ok"]
        await wait_for(lambda: 101 in [route.status for route in proxy.routes()], timeout=5)
        assert len({route.upstream for route in proxy.routes()}) == 1


async def test_read_timeout_below_the_ping_interval_cuts_idle_websockets():
    _require_nginx()
    with BackgroundServer(ping_interval=2, ping_timeout=2, rate_limit=None) as server, \
            Nginx([server.url], read_timeout=1) as too_short, Nginx([server.url], read_timeout=5) as long_enough:
        cut = await ChatClient(too_short.url, nickname="cut", transport="websocket").connect()
        kept = await ChatClient(long_enough.url, nickname="kept", transport="websocket").connect()
        began = time.monotonic()
        try:
            await wait_for(lambda: cut.status != "connected", timeout=5)  # nginx closed it after 1 s of silence
            await asyncio.sleep(max(0, 2.5 - (time.monotonic() - began)))  # a ping has passed
            assert kept.status == "connected" and kept.reconnects == 0
        finally:
            await cut.disconnect()
            await kept.disconnect()


def test_config_has_the_upgrade_headers_and_timeouts():
    proxy = Nginx(["127.0.0.1:1"], read_timeout=1.5)
    text = proxy.config_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    assert "proxy_read_timeout 1500ms;" in text and "hash $chat_route consistent;" in text
