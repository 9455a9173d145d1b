"""Across processes, a message that no broadcast brought still arrives: from the log (issue 11).

Redis pub/sub delivers at most once: while its connection is down, another
process's broadcasts reach nobody here. Each server tells its clients every
two seconds where the log ends, and a client that misses any public offset up to
there reads it from the log, also below newer messages it did receive.
Here a message goes into the shared log with no broadcast at all, the
strongest form of a dropped one.
"""

from __future__ import annotations

import asyncio

from helpers import asked_only_for_holes, servers_sharing_redis

from chat_lib import ChatClient, ChatWidget
from chat_lib.server.app import HEAD_INTERVAL


async def test_a_message_the_pub_sub_dropped_reaches_clients_from_the_log(tmp_path):
    with servers_sharing_redis(tmp_path) as (one, other):
        async with ChatClient(one.url, nickname="ada") as ada, ChatClient(other.url, nickname="bob") as bob:
            await ada.send("the last one broadcast")
            await bob.wait_for_message(lambda m: m.text == "the last one broadcast")
            dropped, _ = other.chat.store.append("dropped-1", "cy", "never broadcast")  # in the log, told nobody
            for client in (ada, bob):  # whichever server each is on
                heard = await client.wait_for_message(lambda m: m.text == "never broadcast", timeout=10)
                assert (heard.offset, heard.nickname) == (dropped.offset, "cy")
            assert [m.text for m in bob.messages].count("never broadcast") == 1


async def test_a_dropped_broadcast_below_newer_messages_is_fetched_too(tmp_path):
    # The drill's case: both servers' people keep talking, so each client's newest
    # offset runs ahead of the broadcasts it missed from the other server.
    with servers_sharing_redis(tmp_path) as (one, other):
        async with ChatClient(one.url, nickname="ada") as ada, ChatClient(other.url, nickname="bob") as bob:
            await ada.send("both are in")
            for client in (ada, bob):
                await client.wait_for_message(lambda m: m.text == "both are in")
            # A message may reach a client through its catch-up, which reads the log itself and would push
            # the hole too. By the next 'head' (sent to clients in the live room) both are past it.
            await asyncio.sleep(HEAD_INTERVAL)
            dropped, _ = other.chat.store.append("dropped-2", "cy", "a hole in the middle")
            await ada.send("broadcast after the hole")
            for client in (ada, bob):
                await client.wait_for_message(lambda m: m.text == "broadcast after the hole")
                assert client.last_offset > dropped.offset  # the hole is below what each has
                heard = await client.wait_for_message(lambda m: m.text == "a hole in the middle", timeout=10)
                assert (heard.offset, heard.nickname, heard.from_log) == (dropped.offset, "cy", True)
            assert [m.text for m in bob.messages].count("a hole in the middle") == 1


async def test_the_widget_shows_a_fetched_message_in_its_place(tmp_path):
    with servers_sharing_redis(tmp_path) as (one, other):
        async with ChatClient(one.url, nickname="ada") as ada:
            chat = ChatWidget(other.url, nickname="bob")
            await chat.connect()
            try:
                await ada.send("before the hole")
                await chat.wait_for("before the hole")
                await asyncio.sleep(HEAD_INTERVAL)  # past its catch-up (see above)
                other.chat.store.append("dropped-3", "cy", "in the hole")
                await ada.send("after the hole")
                await chat.wait_for("after the hole")
                await chat.wait_for("in the hole", timeout=10)
                shown = [line for line in chat.lines if "hole" in line]
                assert shown == ["ada: before the hole", "cy: in the hole", "ada: after the hole"]
                drawn = chat.message_list.value
                assert drawn.index("before the hole") < drawn.index("in the hole") < drawn.index("after the hole")
            finally:
                await chat.disconnect()


async def test_more_than_a_page_of_missed_messages_is_fetched_whole(tmp_path):
    # history answers 1000 messages and 256 KiB at most (here 1200 of 300 bytes): the client must
    # ask on until it has them all.
    with servers_sharing_redis(tmp_path) as (one, other):
        async with ChatClient(one.url, nickname="ada") as ada:
            await ada.send("before")
            await ada.wait_for_message(lambda m: m.text == "before")
            await asyncio.sleep(HEAD_INTERVAL)  # past its catch-up (see above)
            for number in range(1200):
                other.chat.store.append(f"missed-{number}", "cy", f"missed {number} ".ljust(300, "."))
            await ada.send("after them all")
            await ada.wait_for_message(lambda m: m.text.startswith("missed 1199 "), timeout=15)
            assert sorted(m.offset for m in ada.messages if m.from_log) == list(range(2, 1202))


async def test_a_message_to_a_room_costs_others_one_offset_not_a_re_read(tmp_path):
    # Rooms share the log's offsets, so a room message leaves a hole in the offsets of everyone
    # outside the room. The client asks the log for exactly its holes: an answer re-sending the
    # public messages after the hole, which the client already has, would be waste on every head.
    with servers_sharing_redis(tmp_path) as (one, other):
        async with ChatClient(one.url, nickname="ada") as ada, ChatClient(other.url, nickname="bob") as bob:
            asked = []  # (what bob had, his request, the answer)
            real_call = bob.call

            async def call_and_note(event, *args, **kwargs):
                had = {message.offset for message in bob.messages}
                answer = await real_call(event, *args, **kwargs)
                if event == "history":
                    asked.append((had, args[0], answer))
                return answer

            bob.call = call_and_note
            await ada.join("team")
            in_room = await ada.send("for the team only", room="team")
            for number in range(5):
                await ada.send(f"public {number}")
            await bob.wait_for_message(lambda m: m.text == "public 4")
            await asyncio.sleep(2.5 * HEAD_INTERVAL)  # a head or two come and go
            asked_only_for_holes(asked, in_room["offset"])
            assert "for the team only" not in [m.text for m in bob.messages]
