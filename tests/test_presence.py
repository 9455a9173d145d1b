"""Presence costs O(1) messages per change for the people already there (issue 13).

The old server sent everybody the whole online list on every join: N² messages
to fill a room. Now the others get one small ``'presence'`` change, and a
burst of joins travels as one change per window.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import socketio

from chat_lib import BackgroundServer

ALREADY_THERE, BURST = 20, 30


async def listening_client(url: str, name: str, counts: Counter) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)

    @client.on("*")
    def count(event, *args):
        counts[(name, event)] += 1

    await client.connect(url, transports=["websocket"], auth={"serverOffset": None, "logId": None, "nickname": name})
    return client


async def test_a_burst_of_joins_costs_each_person_already_there_a_few_messages_not_one_per_join():
    with BackgroundServer(rate_limit=None, ping_interval=5) as server:
        counts: Counter = Counter()
        early = [await listening_client(server.url, f"early{i}", counts) for i in range(ALREADY_THERE)]
        await asyncio.sleep(0.3)  # their own arrivals are told
        counts.clear()
        late = await asyncio.gather(*(listening_client(server.url, f"late{i}", Counter()) for i in range(BURST)))
        try:
            await asyncio.sleep(0.5)  # every presence change is out
            for client in early:
                name = f"early{early.index(client)}"
                assert counts[(name, "online")] == 0  # nobody gets the whole list again
                assert 1 <= counts[(name, "presence")] <= 5, counts  # 30 joins, a handful of changes
            joined = [event for event in counts if event[1] == "presence"]
            assert joined
        finally:
            for client in early + list(late):
                await client.disconnect()


async def test_the_newcomer_gets_the_whole_list_and_the_others_learn_joins_leaves_and_renames():
    with BackgroundServer(rate_limit=None, ping_interval=5) as server:
        changes: list[dict] = []
        lists: list[list] = []
        ada = socketio.AsyncClient(reconnection=False)
        ada.on("presence", handler=changes.append)
        ada.on("online", handler=lists.append)
        await ada.connect(server.url, transports=["websocket"], auth={"serverOffset": None, "logId": None, "nickname": "ada"})
        bob_lists: list[list] = []
        bob = socketio.AsyncClient(reconnection=False)
        bob.on("online", handler=bob_lists.append)
        await bob.connect(server.url, transports=["websocket"], auth={"serverOffset": None, "logId": None, "nickname": "bob"})
        try:
            await asyncio.sleep(0.3)
            assert lists == [["ada"]] and bob_lists == [["ada", "bob"]]
            assert await bob.call("nickname", "robert", timeout=5) == {"ok": True, "nickname": "robert"}
            await asyncio.sleep(0.3)
            await bob.disconnect()
            await asyncio.sleep(0.3)
            merged = {key: [item for change in changes for item in change[key]] for key in ("joined", "renamed", "left")}
            assert merged == {"joined": ["bob"], "renamed": [["bob", "robert"]], "left": ["robert"]}
        finally:
            await ada.disconnect()
            await bob.disconnect()
