"""DelayProxy: real chat clients through a real proxy to a real server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from chat_lib import ChatClient, ChatConnectionError, DelayProxy, ProxyStats
from chat_lib.lab.delay_proxy import _HttpFollower


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_proxy_carries_a_chat_and_counts_it(server, transport):
    with DelayProxy(server.url) as proxy:
        async with ChatClient(proxy.url, nickname="ada", transport=transport) as ada:
            await ada.send("through the proxy")
            message = await ada.wait_for_message(timeout=5)
            assert ada.transport == transport
        stats = proxy.stats
    assert message.text == "through the proxy"
    assert stats.connections >= 1
    assert stats.bytes_up > len("through the proxy") and stats.bytes_down > len("through the proxy")
    if transport == "polling":
        assert stats.http_requests >= 4  # handshake, connect, send, poll
        assert stats.websocket_upgrades == 0 and stats.ws_frames_up == 0
    else:
        assert stats.http_requests == 1 and stats.websocket_upgrades == 1
        assert stats.ws_frames_up >= 2 and stats.ws_frames_down >= 2  # connect + message each way


async def test_delay_is_paid_on_every_round_trip(server):
    with DelayProxy(server.url, delay=0.03) as proxy:
        async with ChatClient(proxy.url, transport="websocket") as client:
            began = time.perf_counter()
            await client.send("slow network")
            elapsed = time.perf_counter() - began
    assert elapsed >= 0.06  # there and back, 30 ms each way
    assert "delay=30 ms" in repr(proxy)


async def test_block_websocket_refuses_upgrades_and_polling_still_works(server):
    with DelayProxy(server.url, block_websocket=True) as proxy:
        with pytest.raises(ChatConnectionError, match="try transport='polling'"):
            await ChatClient(proxy.url, transport="websocket", reconnection=False).connect(timeout=5)
        assert proxy.stats.refused_upgrades == 1
        async with ChatClient(proxy.url, transport="auto") as client:
            await client.send("fell back")
            await client.wait_for_message(timeout=5)
            assert client.transport == "polling"
    assert proxy.stats.websocket_upgrades == 0
    assert proxy.stats.refused_upgrades == 2


def test_reset_stats_and_differences():
    stats = ProxyStats(bytes_up=10, http_requests=2)
    later = ProxyStats(bytes_up=25, bytes_down=7, http_requests=3)
    assert (later - stats).as_dict()["bytes_up"] == 15
    assert (later - stats).bytes_total == 22
    proxy = DelayProxy(("127.0.0.1", 1))
    proxy.stats.bytes_up = 5
    assert proxy.reset_stats().bytes_up == 5 and proxy.stats.bytes_up == 0


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="http://127.0.0.1:3000"):
        DelayProxy("localhost")
    with pytest.raises(ValueError, match="zero or more"):
        DelayProxy("http://127.0.0.1:3000", delay=-1)


def test_stop_is_idempotent_and_frees_the_port():
    proxy = DelayProxy("http://127.0.0.1:9").start()
    assert proxy.running and proxy.port
    proxy.stop()
    proxy.stop()
    assert not proxy.running


def _feed_bytewise(follower: _HttpFollower, data: bytes) -> bytes:
    return b"".join(follower.feed(data[i : i + 1]) for i in range(len(data)))


def test_follower_counts_responses_with_lengths_chunks_and_then_websocket_frames():
    stats = ProxyStats()
    down = _HttpFollower(requests=False, stats=stats)
    stream = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        + bytes([0x81, 0x02]) + b"hi"  # a small text frame
        + bytes([0x81, 126]) + (300).to_bytes(2, "big") + b"x" * 300  # a 300-byte one
    )
    assert _feed_bytewise(down, stream) == stream  # counted, never changed
    assert (stats.http_responses, stats.websocket_upgrades, stats.ws_frames_down) == (3, 1, 2)
    assert stats.bytes_down == len(stream)


def test_follower_holds_and_refuses_an_upgrade_request_when_blocking():
    stats = ProxyStats()
    up = _HttpFollower(requests=True, stats=stats, block_websocket=True)
    post = b"POST /socket.io/ HTTP/1.1\r\nContent-Length: 4\r\n\r\n40{}"
    assert up.feed(post) == post
    upgrade = b"GET /socket.io/?transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    assert up.feed(upgrade[:20]) == b""  # an incomplete head is held back
    with pytest.raises(Exception, match="refused"):
        up.feed(upgrade[20:])
    assert stats.http_requests == 2 and stats.refused_upgrades == 1
