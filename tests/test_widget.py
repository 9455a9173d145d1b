"""ChatWidget through its programmatic face, against real background servers.

Nothing is mocked: each test runs a real uvicorn server on 127.0.0.1 and real
Socket.IO clients. Where a test stands in for the reader it does what the
browser would: set the input box's value and send the Text view's "submit"
message (Enter), or click the Send button.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

import pytest
import socketio
from helpers import unused_port

from chat_lib import BackgroundServer, ChatClient, ChatConnectionError, ChatWidget


def press_enter(widget: ChatWidget, text: str) -> None:
    """What the browser does when the reader types ``text`` and presses Enter."""
    widget.input.value = text
    widget.input._handle_custom_msg({"event": "submit"}, [])


@pytest.fixture
async def ada(server):
    widget = ChatWidget(server.url, nickname="ada")
    await widget.connect()
    yield widget
    await widget.disconnect()


@pytest.fixture
async def bob(server):
    async with ChatClient(server.url, nickname="bob") as client:
        yield client


async def test_send_shows_own_message_highlighted(ada, bob):
    answer = await ada.send("hello everyone")
    assert answer["ok"] is True
    entry = await ada.wait_for("hello everyone")
    assert entry.mine and entry.nickname == "ada"
    assert "chat-lib-mine" in ada.message_list.value
    received = await bob.wait_for_message(lambda m: m.text == "hello everyone")
    assert received.nickname == "ada"


async def test_enter_in_the_box_sends_and_clears_it(ada, bob):
    press_enter(ada, "typed and entered")
    received = await bob.wait_for_message(lambda m: m.text == "typed and entered")
    assert received.nickname == "ada"
    assert ada.input.value == ""
    assert (await ada.wait_for("typed and entered")).line == "ada: typed and entered"


async def test_send_button_sends(ada, bob):
    ada.input.value = "clicked"
    ada.send_button.click()
    await bob.wait_for_message(lambda m: m.text == "clicked")
    assert ada.input.value == ""


async def test_message_from_someone_else_shows_who_and_when(ada, bob):
    await bob.send("hi ada")
    entry = await ada.wait_for("hi ada")
    assert entry.line == "bob: hi ada" and not entry.mine
    clock = datetime.fromtimestamp(entry.at).strftime("%H:%M:%S")
    assert re.search(r">bob<.*>hi ada<.*>" + clock + "<", ada.message_list.value)


async def test_html_in_a_message_is_shown_as_text(ada, bob):
    attack = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold?</b>'
    await bob.send(attack)
    entry = await ada.wait_for(lambda e: e.text == attack)
    assert entry.line == f"bob: {attack}"
    shown = ada.message_list.value
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in shown
    assert "<img" not in shown and "<script" not in shown and "<b>" not in shown


async def test_join_and_leave_notices_and_online_list(server, ada):
    async with ChatClient(server.url, nickname="carol") as carol:
        await ada.wait_for("carol joined")
        await ada.wait_until(lambda: "carol" in ada.online)
        assert "carol" in ada.online_line.value and "ada" in ada.online_line.value
        await carol.send("bye soon")
    await ada.wait_for("carol left")
    await ada.wait_until(lambda: "carol" not in ada.online)
    assert "carol" not in ada.online_line.value


async def test_typing_line_both_ways(ada, bob):
    await bob.set_typing(True)
    await ada.wait_until(lambda: "bob is typing…" in ada.typing_line.value)
    await bob.set_typing(False)
    await ada.wait_until(lambda: "typing" not in ada.typing_line.value)

    # Typing into the box tells the others; sending says it stopped.
    seen: list[tuple[str, set]] = []
    stopped = asyncio.Event()

    def watch(kind: str, data: object) -> None:
        if kind == "typing":
            seen.append((kind, set(data)))
            if seen and "ada" not in data and any("ada" in names for _, names in seen):
                stopped.set()

    bob.add_listener(watch)
    ada.input.value = "half a thou"
    ada.input._handle_custom_msg({"event": "submit"}, [])
    await asyncio.wait_for(stopped.wait(), 5)
    assert any("ada" in names for _, names in seen)


async def test_private_messages_are_set_apart(ada, bob):
    await bob.send_private("ada", "psst")
    entry = await ada.wait_for(lambda e: e.kind == "private")
    assert entry.line == "bob → ada (private): psst"
    assert "chat-lib-private" in ada.message_list.value

    press_enter(ada, "/msg bob only for you")
    note = await bob.wait_for_message(lambda m: m.private and m.nickname == "ada")
    assert note.text == "only for you" and note.recipient == "bob"


async def test_refused_message_shows_the_reason(ada, bob):
    press_enter(ada, "x" * 5000)
    entry = await ada.wait_for(lambda e: e.kind == "error")
    assert entry.text == "Not sent: A chat message may be at most 4096 bytes; this one is 5000."
    assert not any(m.text.startswith("xxx") for m in bob.messages)


async def test_nickname_box_renames(ada, bob):
    ada.nickname_box.value = "ada lovelace"
    await ada.wait_for("ada is now ada lovelace")
    await ada.wait_until(lambda: ada.nickname == "ada lovelace")
    await ada.send("new name")
    received = await bob.wait_for_message(lambda m: m.text == "new name")
    assert received.nickname == "ada lovelace"


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_status_line_names_the_transport(server, transport):
    widget = ChatWidget(server.url, transport=transport)
    assert widget.status_text == "disconnected" and widget.send_button.disabled
    await widget.connect()
    try:
        assert widget.status_text == f"connected via {transport}"
        assert f"via <b>{transport}</b>" in widget.status_line.value
        assert not widget.send_button.disabled
    finally:
        await widget.disconnect()
    assert widget.status_text == "disconnected" and widget.send_button.disabled


async def test_status_follows_server_stop_and_restart(tmp_path):
    store = tmp_path / "chat.sqlite3"
    first = BackgroundServer(store=str(store), ping_interval=2, ping_timeout=2).start()
    widget = ChatWidget(first.url, nickname="ada")
    second = None
    try:
        await widget.connect()
        await widget.send("before")
        first.stop()
        await widget.wait_for_status("reconnecting", timeout=5)
        assert widget.send_button.disabled
        assert widget.status_text == "reconnecting"
        assert "reconnecting" in widget.status_line.value
        await widget.wait_for("Connection lost; reconnecting…")

        # Enter while disconnected keeps the text in the box and sends nothing.
        press_enter(widget, "kept for later")
        assert widget.input.value == "kept for later"

        second = BackgroundServer(port=first.port, store=str(store), ping_interval=2, ping_timeout=2).start()
        await widget.wait_for_status("connected", timeout=15)
        assert widget.status_text == "connected via websocket"
        assert "via <b>websocket</b>" in widget.status_line.value
        await widget.wait_for("Reconnected.")
        assert not widget.send_button.disabled
        widget.send_button.click()
        assert (await widget.wait_for("kept for later")).mine
        async with ChatClient(second.url, nickname="bob") as bob:
            await bob.send("after the restart")
            await widget.wait_for("bob: after the restart")
    finally:
        await widget.disconnect()
        first.stop()
        if second is not None:
            second.stop()


async def test_connect_to_nothing_raises_and_says_so():
    widget = ChatWidget(f"http://127.0.0.1:{unused_port()}")
    with pytest.raises(ChatConnectionError, match="Cannot connect"):
        await widget.connect(timeout=3)
    assert widget.entries[-1].kind == "error"
    assert widget.status == "disconnected" and widget.send_button.disabled


async def test_wait_for_times_out_with_a_sentence(ada):
    with pytest.raises(ChatConnectionError, match=r"Waited 0.2 s for an entry matching 'never said'"):
        await ada.wait_for("never said", timeout=0.2)


async def test_widget_over_a_client_that_already_chatted(server, bob):
    await bob.send("said before the widget")
    await bob.wait_for_message(lambda m: m.text == "said before the widget")
    widget = ChatWidget(bob)
    assert widget.lines[-1] == "bob: said before the widget" and widget.entries[-1].mine
    await widget.connect()  # already connected: just learns the server
    assert widget.rich_server is True
    with pytest.raises(ValueError, match="Pass the nickname"):
        ChatWidget(bob, nickname="x")


# -- a plain python-socketio server: the Node tutorial's, ten lines ------------------


async def test_plain_server_gets_bare_strings(tutorial_server):
    plain_server = tutorial_server.url
    widget = ChatWidget(plain_server, transport="websocket", detect_timeout=0.5)
    other = socketio.AsyncClient()
    try:
        await widget.connect()
        assert widget.rich_server is False
        assert "plain server" in widget.status_line.value
        assert await widget.send("hello <tutorial>") is None
        entry = await widget.wait_for("hello <tutorial>")
        assert entry.mine and entry.line == "you: hello <tutorial>"
        assert "&lt;tutorial&gt;" in widget.message_list.value

        await other.connect(plain_server, transports=["websocket"])
        await other.emit("chat message", "from a bare client")
        entry = await widget.wait_for("from a bare client")
        assert entry.line == "someone: from a bare client" and not entry.mine

        press_enter(widget, "entered on a plain server")
        await widget.wait_for("you: entered on a plain server")
        assert widget.online == [] and "online: -" in widget.online_line.value
    finally:
        await other.disconnect()
        await widget.disconnect()


async def test_room_commands_work_as_in_the_page(ada, bob):
    await bob.join("lounge")
    await ada.send("/join lounge")
    await ada.send("#lounge only for the lounge")
    heard = await bob.wait_for_message(lambda m: m.text == "only for the lounge")
    assert heard.room == "lounge"
    entry = await ada.wait_for("only for the lounge")
    assert entry.room == "lounge"
    await ada.send("/leave lounge")
    await bob.send("after ada left", room="lounge")
    await bob.send("public marker")
    await ada.wait_for("public marker")
    assert "after ada left" not in [e.text for e in ada.entries]


async def test_waiting_for_a_new_entry_sees_one_fetched_into_its_place(server, ada, bob):
    await bob.send("one")
    hole, _ = server.chat.store.append("never-broadcast", "cy", "two")  # in the log, told nobody
    await bob.send("three")
    await ada.wait_for("three")
    seen = len(ada.entries)
    waiting = asyncio.create_task(ada.wait_for("two", after=seen))
    # What a 'head' from a server sharing Redis sets off: the client fetches the hole from the log.
    await ada.client._on_head({"offset": hole.offset + 1, "logId": ada.client.inbox.log_id})
    fetched = await waiting
    assert fetched.offset == hole.offset
    assert [line for line in ada.lines if line.startswith(("bob:", "cy:"))] == ["bob: one", "cy: two", "bob: three"]
