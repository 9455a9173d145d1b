"""A nickname has one owner at a time (issue 10, second finding).

Real clients against a real server on 127.0.0.1: the thief gets nothing, the
owner loses nothing, and the owner who comes back with its token gets its
name, rooms and missed room messages back.
"""

from __future__ import annotations

import asyncio

import pytest
import socketio

from chat_lib import BackgroundServer, ChatClient, MessageRejected
from helpers import wait_for


@pytest.fixture
def server():
    with BackgroundServer(ping_interval=2, ping_timeout=2) as running:
        yield running


async def test_a_taken_nickname_is_refused_on_connect_and_on_rename(server):
    async with ChatClient(server.url, nickname="ada") as ada, ChatClient(server.url, nickname="ADA") as thief:
        assert thief.nickname.startswith("guest-")  # it connected, but not as ada
        assert any(n["kind"] == "chat error" and "'ADA' is taken" in n["error"] for n in thief.notices)
        with pytest.raises(MessageRejected, match="'ada' is taken"):
            await thief.set_nickname("ada")
        assert ada.nickname == "ada" and thief.nickname.startswith("guest-")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("b\u200bob", "invisible"),  # zero-width space
        ("\u202ebob", "invisible"),  # right-to-left override
        ("bob\x00", "invisible"),
        ("b\u043eb", "mix Latin, Greek and Cyrillic"),  # a Cyrillic o
        ("guest-1234", "given by the server"),
    ],
)
async def test_lookalike_and_reserved_names_are_refused(server, name, why):
    async with ChatClient(server.url, nickname="bob") as bob, ChatClient(server.url) as eve:
        with pytest.raises(MessageRejected, match=why):
            await eve.set_nickname(name)
        assert bob.nickname == "bob"


async def test_private_messages_reach_the_owner_only(server):
    async with ChatClient(server.url, nickname="ada") as ada, ChatClient(server.url, nickname="bob") as bob:
        async with ChatClient(server.url, nickname="Ada") as thief:  # refused: a guest
            await bob.send_private("ada", "for ada only")
            await ada.wait_for_message(lambda m: m.private)
            await bob.send("marker")
            await thief.wait_for_message(lambda m: m.text == "marker")
            assert not [m for m in thief.messages if m.private]


async def test_a_name_is_kept_for_its_owner_after_a_disconnect_and_given_back_with_its_token(server):
    ada = await ChatClient(server.url, nickname="ada").connect()
    await ada.join("python")
    await ada.send("before I go")  # ada's place in the log
    await ada.disconnect()
    async with ChatClient(server.url) as eve:
        with pytest.raises(MessageRejected, match="'ada' is taken"):  # within the grace period
            await eve.set_nickname("ada")
        await eve.join("python")
        missed = await eve.send("said while ada was away", room="python")
        await ada.connect()  # the same client: the same token, and its last offset
        try:
            assert ada.nickname == "ada"
            heard = await ada.wait_for_message(lambda m: m.text == "said while ada was away")  # catch-up covers rooms
            assert (heard.room, heard.offset) == ("python", missed["offset"])
            await ada.send("and I can still write to the room", room="python")  # no "join the room first"
        finally:
            await ada.disconnect()


async def test_without_the_token_nobody_gets_the_name_back_during_the_grace_period(server):
    ada = await ChatClient(server.url, nickname="ada").connect()
    await ada.disconnect()
    async with ChatClient(server.url, nickname="ada") as impostor:  # a new client: a new token
        assert impostor.nickname.startswith("guest-")


async def test_a_plain_python_socketio_client_cannot_claim_a_name_by_auth(server):
    async with ChatClient(server.url, nickname="ada") as ada:
        raw = socketio.AsyncClient(reconnection=False)
        errors: asyncio.Queue = asyncio.Queue()
        raw.on("chat error", handler=errors.put_nowait)
        await raw.connect(server.url, transports=["websocket"], auth={"serverOffset": None, "nickname": "ada"})
        try:
            assert "'ada' is taken" in (await asyncio.wait_for(errors.get(), 5))["error"]
            await wait_for(lambda: len(server.chat.online) == 2, timeout=5)
            assert server.chat.online[0] == "ada" and server.chat.online[1].startswith("guest-")
        finally:
            await raw.disconnect()
        assert ada.nickname == "ada"
