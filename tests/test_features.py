"""The chat features of notebook 03, against a real server and real clients on 127.0.0.1.

Acknowledgements and their timeouts, errors, who receives a broadcast, join and
leave notices, nicknames, "X is typing", who is online, rooms, private
messages, unknown events and namespaces, history and catch-up. Independent of
the notebooks: each test starts from the ``server`` fixture (conftest.py).

Proving that somebody did *not* receive something needs a barrier: after the
event in question, a public message is broadcast, and once the client has it,
anything sent to it before would have arrived first (one connection keeps order).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import socketio

from chat_lib import ChatClient, ChatConnectionError, MessageRejected


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds, checking on every turn of the event loop."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


async def barrier(sender: ChatClient, *receivers: ChatClient, text: str = "barrier") -> None:
    """Broadcast a public message and wait until every receiver has it."""
    counts = [len(r.messages) for r in receivers]
    await sender.send(text)
    for receiver, count in zip(receivers, counts):
        await receiver.wait_for_message(lambda m: m.text == text, after=count)


class PlainClient:
    """A python-socketio client that records every event it receives (no ChatClient logic)."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, tuple]] = asyncio.Queue()

        @self.sio.on("*")
        async def any_event(event: str, *args: object) -> None:
            await self.events.put((event, args))

    async def connect(self, url: str, **kwargs: object) -> PlainClient:
        await self.sio.connect(url, transports=["websocket"], **kwargs)
        return self

    async def next(self, event: str, timeout: float = 5.0) -> tuple:
        """The arguments of the next ``event`` received (other events are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            name, args = await asyncio.wait_for(self.events.get(), max(0.0, deadline - time.monotonic()))
            if name == event:
                return args

    async def disconnect(self) -> None:
        await self.sio.disconnect()


@pytest.fixture
async def plain():
    """Connect plain clients with ``await plain(url, auth=...)``; all are disconnected afterwards."""
    clients: list[PlainClient] = []

    async def make(url: str, **kwargs: object) -> PlainClient:
        client = PlainClient()
        clients.append(client)
        return await client.connect(url, **kwargs)

    yield make
    for client in clients:
        await client.disconnect()


# -- acknowledgements ------------------------------------------------------------


async def test_ack_chat_message_returns_offset_and_id(server, plain):
    raw = await plain(server.url)
    first = await raw.sio.call("chat message", "one", timeout=5)
    second = await raw.sio.call("chat message", {"text": "two", "id": "my-id-2"}, timeout=5)
    assert first["ok"] is True and isinstance(first["id"], str)
    assert second == {"ok": True, "offset": first["offset"] + 1, "id": "my-id-2"}


async def test_ack_error_comes_back_through_the_ack(server, plain):
    raw = await plain(server.url)
    answer = await raw.sio.call("chat message", "   ", timeout=5)
    assert answer == {"ok": False, "error": "A chat message cannot be empty."}


async def test_ack_error_without_ack_comes_as_chat_error_event(server, plain):
    raw = await plain(server.url)
    await raw.sio.emit("chat message", "   ")
    (error,) = await raw.next("chat error")
    assert error == {"event": "chat message", "error": "A chat message cannot be empty."}


async def test_ack_error_raises_message_rejected_in_chat_client(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        with pytest.raises(MessageRejected, match="cannot be empty"):
            await ada.send("")
        assert not ada.notices  # the error came through the ack, not as an event


async def test_ack_timeout_when_the_handler_does_not_answer_in_time(server, plain):
    @server.chat.sio.on("slow")
    async def slow(sid: str) -> str:
        await asyncio.sleep(1.5)
        return "too late"

    raw = await plain(server.url)
    with pytest.raises(socketio.exceptions.TimeoutError):
        await raw.sio.call("slow", timeout=0.3)
    assert raw.sio.connected  # a timeout is the caller's business; the connection stays


# -- broadcasting ----------------------------------------------------------------


async def test_broadcast_chat_message_reaches_everyone_including_sender(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="polling"
    ) as bob, ChatClient(server.url, nickname="cy", transport="websocket") as cy:
        ack = await ada.send("hello all")
        for client in (ada, bob, cy):
            message = await client.wait_for_message(lambda m: m.text == "hello all")
            assert (message.nickname, message.offset) == ("ada", ack["offset"])


async def test_typing_goes_to_everyone_but_the_sender(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="websocket"
    ) as bob, ChatClient(server.url, nickname="cy", transport="polling") as cy:
        await ada.set_typing(True)
        await until(lambda: bob.typing == {"ada"} and cy.typing == {"ada"})
        await barrier(bob, ada)
        assert ada.typing == set()
        await ada.set_typing(False)
        await until(lambda: not bob.typing and not cy.typing)


async def test_typing_stops_for_the_others_when_the_typist_leaves(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        async with ChatClient(server.url, nickname="bob", transport="polling") as bob:
            await bob.set_typing(True)
            await until(lambda: ada.typing == {"bob"})
        await until(lambda: {"kind": "user left", "nickname": "bob"} in ada.notices)
        assert ada.typing == set()


async def test_typing_that_is_not_a_bool_is_ignored(server, plain):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        raw = await plain(server.url, auth={"nickname": "raw", "serverOffset": None})
        await raw.sio.emit("typing", "yes")
        await raw.sio.call("chat message", "after typing", timeout=5)
        await ada.wait_for_message(lambda m: m.text == "after typing")
        assert ada.typing == set()


# -- join and leave notices, who is online --------------------------------------------


async def test_join_notice_goes_to_the_others_and_leave_notice_to_everyone_left(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        async with ChatClient(server.url, nickname="bob", transport="polling") as bob:
            await until(lambda: {"kind": "user joined", "nickname": "bob"} in ada.notices)
            await barrier(ada, bob)
            assert {"kind": "user joined", "nickname": "bob"} not in bob.notices
        await until(lambda: {"kind": "user left", "nickname": "bob"} in ada.notices)


async def test_online_lists_everyone_connected_and_updates_on_leave(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        async with ChatClient(server.url, nickname="bob", transport="websocket"):
            await until(lambda: ada.online == ["ada", "bob"])
            assert server.chat.online == ["ada", "bob"]
        await until(lambda: ada.online == ["ada"])


async def test_online_lists_a_plain_client_as_guest(server, plain):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        await plain(server.url)
        await until(lambda: len(ada.online) == 2)
        assert ada.online[0] == "ada" and ada.online[1].startswith("guest-")


# -- nicknames ---------------------------------------------------------------------


async def test_nickname_from_auth_is_used_and_normalised(server):
    async with ChatClient(server.url, nickname="  ada   lovelace ", transport="websocket") as ada:
        await until(lambda: ada.online == ["ada lovelace"])
        assert ada.nickname == "ada lovelace"  # the welcome event tells the client its name


async def test_nickname_invalid_in_auth_falls_back_to_guest_with_an_error(server):
    async with ChatClient(server.url, nickname="x" * 40, transport="websocket") as client:
        await until(lambda: any(n["kind"] == "chat error" for n in client.notices))
        assert client.nickname.startswith("guest-")
        error = next(n for n in client.notices if n["kind"] == "chat error")
        assert error == {"kind": "chat error", "event": "connect", "error": "A nickname may be at most 32 characters."}


async def test_nickname_change_is_announced_and_listed(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="polling"
    ) as bob:
        assert await bob.set_nickname("robert") == "robert"
        await until(lambda: {"kind": "nickname", "old": "bob", "nickname": "robert"} in ada.notices)
        await until(lambda: ada.online == ["ada", "robert"])
        await bob.send("signed")
        message = await ada.wait_for_message(lambda m: m.text == "signed")
        assert message.nickname == "robert"


@pytest.mark.parametrize(
    ("nickname", "error"),
    [("   ", "A nickname cannot be empty."), ("n" * 33, "at most 32 characters"), (7, "must be a string, not int")],
)
async def test_nickname_invalid_is_refused_and_unchanged(server, nickname, error):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        with pytest.raises(MessageRejected, match=error):
            await ada.set_nickname(nickname)
        assert server.chat.online == ["ada"]


# -- rooms ---------------------------------------------------------------------------


async def test_rooms_only_members_receive_room_messages(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="polling"
    ) as bob, ChatClient(server.url, nickname="cy", transport="websocket") as cy:
        await ada.join("python")
        await bob.join("python")
        await until(lambda: {"kind": "join", "nickname": "bob", "room": "python"} in ada.notices)
        await ada.send("for pythonistas", room="python")
        heard = await bob.wait_for_message(lambda m: m.text == "for pythonistas")
        assert (heard.nickname, heard.room) == ("ada", "python")
        await barrier(ada, cy)
        assert [m.text for m in cy.messages] == ["barrier"]
        assert not any(n["kind"] == "join" for n in cy.notices)


async def test_rooms_sending_to_a_room_you_have_not_joined_is_refused(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="cy", transport="websocket"
    ) as cy:
        await ada.join("python")
        with pytest.raises(MessageRejected, match="Join the room 'python' before sending to it."):
            await cy.send("let me in", room="python")
        await barrier(cy, ada)
        assert [m.text for m in ada.messages] == ["barrier"]


async def test_rooms_join_returns_the_rooms_recent_messages(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="websocket"
    ) as bob:
        await ada.join("python")
        await ada.send("earlier", room="python")
        await ada.send("public")
        history = await bob.join("python")
        assert [(m.text, m.room) for m in history] == [("earlier", "python")]


async def test_rooms_leave_stops_delivery_and_is_announced(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="websocket"
    ) as bob:
        await ada.join("python")
        await bob.join("python")
        await bob.leave("python")
        await until(lambda: {"kind": "leave", "nickname": "bob", "room": "python"} in ada.notices)
        await ada.send("bob is gone", room="python")
        await barrier(ada, bob)
        assert [m.text for m in bob.messages] == ["barrier"]
        with pytest.raises(MessageRejected, match="You are not in the room 'python'."):
            await bob.leave("python")


async def test_rooms_leave_with_a_non_string_is_refused(server, plain):
    raw = await plain(server.url, auth={"nickname": "raw", "serverOffset": None})
    answer = await raw.sio.call("leave", ["python"], timeout=5)
    assert answer["ok"] is False and "not in the room" in answer["error"]


async def test_rooms_need_a_client_that_sends_auth(server, plain):
    raw = await plain(server.url)
    answer = await raw.sio.call("join", "python", timeout=5)
    assert answer == {"ok": False, "error": "Rooms need a client that sends auth."}


async def test_rooms_invalid_name_is_refused(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        with pytest.raises(MessageRejected, match="non-empty string"):
            await ada.join("  ")
        with pytest.raises(MessageRejected, match="at most 64 characters"):
            await ada.join("r" * 65)


# -- private messages --------------------------------------------------------------------


async def test_private_message_reaches_only_sender_and_recipient(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, ChatClient(
        server.url, nickname="bob", transport="polling"
    ) as bob, ChatClient(server.url, nickname="cy", transport="websocket") as cy:
        assert await ada.send_private("bob", "psst") == {"ok": True}
        for client in (ada, bob):
            message = await client.wait_for_message(lambda m: m.private)
            assert (message.text, message.nickname, message.recipient) == ("psst", "ada", "bob")
        await barrier(ada, cy)
        assert not any(m.private for m in cy.messages)
        assert ada.messages[0].offset is None  # private messages are not in the public log


async def test_private_message_to_an_unknown_nickname_is_refused(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        with pytest.raises(MessageRejected, match="Nobody called 'zed' is online."):
            await ada.send_private("zed", "hello?")


async def test_private_message_malformed_is_refused(server, plain):
    raw = await plain(server.url, auth={"nickname": "raw", "serverOffset": None})
    answer = await raw.sio.call("private message", "bob: hi", timeout=5)
    assert answer == {"ok": False, "error": 'Send {"to": nickname, "text": message}.'}
    answer = await raw.sio.call("private message", {"to": "raw", "text": ""}, timeout=5)
    assert answer == {"ok": False, "error": "A chat message cannot be empty."}


# -- unknown events and namespaces -------------------------------------------------------


async def test_unknown_event_is_refused_through_the_ack(server, plain):
    raw = await plain(server.url)
    answer = await raw.sio.call("dance", {"style": "tango"}, timeout=5)
    assert answer == {"ok": False, "error": "This server has no event called 'dance'."}


async def test_unknown_event_without_ack_gets_a_chat_error_event(server, plain):
    raw = await plain(server.url)
    await raw.sio.emit("dance")
    (error,) = await raw.next("chat error")
    assert error == {"event": "dance", "error": "This server has no event called 'dance'."}


async def test_unknown_namespace_raises_connection_error(server):
    client = socketio.AsyncClient(reconnection=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError, match="/nope"):
            await client.connect(server.url, namespaces=["/nope"], transports=["websocket"], wait_timeout=5)
        assert not client.connected
    finally:
        await client.shutdown()


async def test_unknown_namespace_leaves_nobody_online(server):
    client = socketio.AsyncClient(reconnection=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(server.url, namespaces=["/nope"], transports=["websocket"], wait_timeout=5)
    finally:
        await client.shutdown()
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        await until(lambda: ada.online == ["ada"])


# -- history, catch-up, plain clients ------------------------------------------------------


async def test_history_returns_the_last_public_messages(server):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        await ada.join("python")
        for text in ("one", "two", "three"):
            await ada.send(text)
        await ada.send("room only", room="python")
        history = await ada.history(2)
        assert [(m.text, m.nickname) for m in history] == [("two", "ada"), ("three", "ada")]


async def test_history_after_an_offset_and_bad_requests(server, plain):
    raw = await plain(server.url)
    first = await raw.sio.call("chat message", "one", timeout=5)
    await raw.sio.call("chat message", "two", timeout=5)
    answer = await raw.sio.call("history", {"after": first["offset"]}, timeout=5)
    assert [m["text"] for m in answer["messages"]] == ["two"]
    assert (await raw.sio.call("history", 5, timeout=5))["ok"] is False
    assert "count must be" in (await raw.sio.call("history", {"count": 0}, timeout=5))["error"]


async def test_history_of_exact_offsets_answers_the_public_ones(server, plain):
    raw = await plain(server.url)
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        await ada.join("python")
        first = await raw.sio.call("chat message", "one", timeout=5)
        in_room = await ada.send("room only", room="python")
        third = await raw.sio.call("chat message", "three", timeout=5)
    asked = [third["offset"], in_room["offset"], first["offset"]]
    answer = await raw.sio.call("history", {"offsets": asked}, timeout=5)
    assert [m["text"] for m in answer["messages"]] == ["one", "three"] and answer["more"] is False
    for bad, error in [([], "a list of 1 to 1000"), (list(range(1, 1002)), "a list of 1 to 1000"),
                       ("1,2", "a list of 1 to 1000"), ([1, -2], "integers from 0"), ([True], "integers from 0")]:
        answer = await raw.sio.call("history", {"offsets": bad}, timeout=5)
        assert answer["ok"] is False and error in answer["error"], (bad, answer)


async def test_catch_up_replays_messages_after_server_offset_before_live_ones(server, plain):
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        first = await ada.send("seen")
        await ada.send("missed 1")
        await ada.send("missed 2")
        late = await plain(server.url, auth={"nickname": "late", "serverOffset": first["offset"]})
        replayed = [await late.next("chat message") for _ in range(2)]
        await ada.send("live")
        live = await late.next("chat message")
    assert [args[0] for args in replayed] == ["missed 1", "missed 2"]
    assert [args[1] for args in replayed] == [first["offset"] + 1, first["offset"] + 2]
    assert live[0] == "live"


async def test_plain_clients_receive_bare_strings_and_rich_ones_three_arguments(server, plain):
    bare = await plain(server.url)
    rich = await plain(server.url, auth={"nickname": "rich", "serverOffset": None})
    ack = await bare.sio.call("chat message", "hello", timeout=5)
    assert await bare.next("chat message") == ("hello",)
    text, offset, meta = await rich.next("chat message")
    assert (text, offset) == ("hello", ack["offset"])
    assert meta["nickname"].startswith("guest-") and meta["room"] is None and meta["message_id"] == ack["id"]


async def test_plain_clients_do_not_get_room_messages(server, plain):
    bare = await plain(server.url)
    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
        await ada.join("python")
        await ada.send("room only", room="python")
        await ada.send("public")
    assert await bare.next("chat message") == ("public",)


async def test_connection_to_a_stopped_server_raises_a_clear_error(server):
    url = server.url
    server.stop()
    with pytest.raises(ChatConnectionError, match="Cannot connect to"):
        await ChatClient(url, reconnection=False, transport="websocket").connect(timeout=2)


# -- the same features in the browser page --------------------------------------------------

@pytest.mark.browser
async def test_page_rooms_join_send_receive_and_leave(server, chromium_launch_options):
    from playwright.async_api import async_playwright, expect

    async with ChatClient(server.url, nickname="ada", transport="websocket") as ada, async_playwright() as playwright:
        browser = await playwright.chromium.launch(**chromium_launch_options)
        try:
            page = await browser.new_page()
            page.set_default_timeout(5000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(f"{server.url}/?name=eve")
            await expect(page.locator("#status")).to_have_text("connected")
            messages = page.locator("#messages li")

            async def type_line(text: str) -> None:
                await page.fill("#input", text)
                await page.press("#input", "Enter")

            await type_line("#python before joining")
            await expect(messages.last).to_have_text("Join the room 'python' before sending to it.")
            await ada.join("python")
            await type_line("/join python")
            await expect(messages.last).to_have_text("eve joined #python")
            await until(lambda: {"kind": "join", "nickname": "eve", "room": "python"} in ada.notices)

            await ada.send("hello room", room="python")
            await expect(messages.last.locator(".who")).to_have_text("ada #python")
            await expect(messages.last.locator(".text")).to_have_text("hello room")

            await type_line("#python hi from the page")
            heard = await ada.wait_for_message(lambda m: m.text == "hi from the page")
            assert (heard.nickname, heard.room) == ("eve", "python")
            await expect(messages.last.locator(".who")).to_have_text("eve #python")

            await type_line("/leave python")
            await until(lambda: {"kind": "leave", "nickname": "eve", "room": "python"} in ada.notices)
            await ada.send("after eve left", room="python")
            await ada.send("public after")
            await expect(messages.last.locator(".text")).to_have_text("public after")
            assert "after eve left" not in await page.inner_text("#messages")
            assert not errors, errors
        finally:
            await browser.close()
