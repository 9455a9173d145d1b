"""ChatClient on long-polling: bursts arrive whole, and a refused POST does not leave it deaf (issue 13)."""

from __future__ import annotations

import asyncio

from chat_lib import BackgroundServer, ChatClient

BURST = 20_000


async def test_a_burst_of_20000_sends_on_polling_arrives_whole_in_order_and_once():
    with BackgroundServer(rate_limit=None, presence=False, ping_interval=5) as server:
        async with ChatClient(server.url, transport="polling") as sender, ChatClient(
            server.url, transport="polling"
        ) as receiver:
            acks = await asyncio.gather(*(sender.send(f"m{i}", timeout=120) for i in range(BURST)))
            assert all(ack["ok"] for ack in acks)
            await receiver.wait_for_count(BURST, timeout=120)
            received = receiver.messages
            assert sorted(m.text for m in received) == sorted(f"m{i}" for i in range(BURST))  # each once
            assert [m.offset for m in received] == sorted(m.offset for m in received)  # in the log's order
            assert len(server.chat.store) == BURST


async def test_a_post_over_the_servers_limit_is_refused_and_the_client_recovers_and_resends():
    # This server takes 40 KB per POST; the client starts out believing 1 MB.
    with BackgroundServer(rate_limit=None, presence=False, max_payload_bytes=40_000, ping_interval=5) as server:
        async with ChatClient(server.url, transport="polling", ack_timeout=2) as sender, ChatClient(
            server.url, transport="polling"
        ) as receiver:
            count = 1500  # about 100 KB queued at once: the first POST gets 413
            acks = await asyncio.gather(*(sender.send(f"burst {i}", timeout=60) for i in range(count)))
            assert all(ack["ok"] for ack in acks)
            assert sender.reconnects >= 1  # the refused POST was noticed as a lost connection
            # And it posts less from now on: half the refused part, halved again at each
            # further 413 (whether a second one comes depends on how much is still queued).
            assert sender._sio.eio.max_post_bytes < 1_000_000
            await receiver.wait_for_count(count, timeout=60)
            assert sorted(m.text for m in receiver.messages) == sorted(f"burst {i}" for i in range(count))
