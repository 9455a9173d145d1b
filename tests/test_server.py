"""The chat server against real clients on 127.0.0.1: the tutorial's behaviour and its limits."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import socketio

from chat_lib import BackgroundServer, ChatClient, ChatConnectionError, ChatServer, MessageRejected

TRANSPORT_PAIRS = [("websocket", "websocket"), ("polling", "polling"), ("polling", "websocket"), ("auto", "polling")]


async def plain_client(url: str, transport: str = "websocket") -> tuple[socketio.AsyncClient, asyncio.Queue]:
    """A client written for the Node.js tutorial: no auth, one-argument handler."""
    client = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue = asyncio.Queue()

    @client.on("chat message")
    async def on_message(msg):
        await received.put(msg)

    await client.connect(url, transports=[transport])
    return client, received


@pytest.mark.parametrize(("sender_transport", "receiver_transport"), TRANSPORT_PAIRS)
async def test_two_clients_chat_on_any_transport(server, sender_transport, receiver_transport):
    async with ChatClient(server.url, nickname="ada", transport=sender_transport) as ada, ChatClient(
        server.url, nickname="bob", transport=receiver_transport
    ) as bob:
        await ada.send("hello bob")
        heard = await bob.wait_for_message(lambda m: m.text == "hello bob")
        echoed = await ada.wait_for_message(lambda m: m.text == "hello bob")
    assert heard.nickname == "ada"
    assert echoed.offset == heard.offset  # the sender gets its own message too, as in the tutorial


async def test_plain_tutorial_client_gets_bare_strings(server):
    client, received = await plain_client(server.url)
    try:
        async with ChatClient(server.url, nickname="ada") as ada:
            await ada.send("hi from a rich client")
        assert await asyncio.wait_for(received.get(), 5) == "hi from a rich client"
        await client.emit("chat message", "hi from a plain client")
        assert await asyncio.wait_for(received.get(), 5) == "hi from a plain client"
    finally:
        await client.disconnect()


async def test_burst_of_100_on_polling_arrives_complete_and_in_order(server):
    async with ChatClient(server.url, transport="polling") as sender, ChatClient(
        server.url, transport="polling"
    ) as receiver:
        # Fire without waiting in between, so many messages share one POST.
        for i in range(100):
            await sender.emit("chat message", f"burst {i}")
        await receiver.wait_for_count(100, timeout=20)
        assert [m.text for m in receiver.messages] == [f"burst {i}" for i in range(100)]
        assert sender.connected and receiver.connected


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (42, "must be a string, not int"),
        ("", "cannot be empty"),
        ({"text": None}, "must be a string, not NoneType"),
        ("x" * 5000, "at most 4096 bytes"),
        ({"text": "hi", "id": 7}, "message id must be a string"),
        ({"text": "hi", "room": "nowhere"}, "Join the room 'nowhere'"),
    ],
)
async def test_bad_message_gets_error_through_ack_and_others_unaffected(server, payload, error):
    async with ChatClient(server.url, nickname="mallory") as mallory, ChatClient(server.url) as alice:
        answer = await mallory.call("chat message", payload, timeout=5)
        assert answer["ok"] is False and error in answer["error"]
        await alice.send("still here")
        assert (await mallory.wait_for_message(lambda m: m.text == "still here")).text == "still here"
        assert all(m.text == "still here" for m in alice.messages)  # nothing invalid was broadcast


async def test_bad_message_without_ack_gets_chat_error_event(server):
    async with ChatClient(server.url) as client:
        await client.emit("chat message", "")
        for _ in range(50):
            if client.notices:
                break
            await asyncio.sleep(0.05)
        assert client.notices[-1] == {"kind": "chat error", "event": "chat message", "error": "A chat message cannot be empty."}


async def test_send_raises_message_rejected_with_the_servers_reason(server):
    async with ChatClient(server.url) as client:
        with pytest.raises(MessageRejected, match="cannot be empty"):
            await client.send("   ")


async def test_html_is_relayed_unchanged_as_text(server):
    async with ChatClient(server.url) as client:
        await client.send("<script>alert('x')</script>")
        assert (await client.wait_for_message()).text == "<script>alert('x')</script>"


async def test_max_message_bytes_is_configurable():
    with BackgroundServer(max_message_bytes=10, ping_interval=2) as small:
        async with ChatClient(small.url) as client:
            await client.send("0123456789")
            with pytest.raises(MessageRejected, match="at most 10 bytes; this one is 11"):
                await client.send("0123456789!")


async def test_flood_is_rate_limited_per_connection_and_not_acknowledged():
    # A refusal that a retry may cure gets no acknowledgement (protocol.py): the
    # tutorial's client would read one as delivery. It hears a 'chat error'.
    with BackgroundServer(rate_limit=(5, 10), ping_interval=2) as limited:
        async with ChatClient(limited.url) as flooder, ChatClient(limited.url) as calm:
            calls = (flooder.call("chat message", f"m{i}", timeout=2) for i in range(30))
            answers = await asyncio.gather(*calls, return_exceptions=True)
            accepted = [a for a in answers if isinstance(a, dict)]
            unanswered = [a for a in answers if isinstance(a, ChatConnectionError)]
            assert len(accepted) + len(unanswered) == 30
            assert all(a["ok"] for a in accepted) and 9 <= len(accepted) <= 12  # the burst, less the connect
            errors = [n for n in flooder.notices if n["kind"] == "chat error"]
            assert len(errors) == len(unanswered)
            assert errors[0] == {"kind": "chat error", "event": "chat message", "error": "Too many messages; slow down."}
            await calm.send("the calm one still gets through")


async def test_retried_message_id_is_stored_and_broadcast_once(server):
    async with ChatClient(server.url) as client:
        first = await client.call("chat message", {"text": "once", "id": "fixed-id"})
        again = await client.call("chat message", {"text": "once", "id": "fixed-id"})
        assert first == again
        await client.send("marker")
        await client.wait_for_message(lambda m: m.text == "marker")
        assert [m.text for m in client.messages].count("once") == 1


async def test_reconnecting_client_catches_up_on_missed_messages(server):
    async with ChatClient(server.url, nickname="ada") as ada:
        await ada.send("before")
        await ada.wait_for_message(lambda m: m.text == "before")
        last = ada.last_offset
    async with ChatClient(server.url, nickname="bob") as bob:
        await bob.send("while ada was away 1")
        await bob.send("while ada was away 2")
    returning = ChatClient(server.url, nickname="ada")
    returning.last_offset = last
    async with returning:
        await returning.wait_for_count(2)
        assert [m.text for m in returning.messages] == ["while ada was away 1", "while ada was away 2"]


async def test_newcomer_gets_no_replay_but_can_ask_for_history(server):
    async with ChatClient(server.url) as first:
        for i in range(3):
            await first.send(f"old {i}")
    async with ChatClient(server.url) as newcomer:
        assert newcomer.last_offset == 3
        history = await newcomer.history(2)
        assert [m.text for m in history] == ["old 1", "old 2"]
        assert newcomer.messages == []


async def test_page_and_client_are_served(server):
    async with httpx.AsyncClient() as http:
        page = await http.get(server.url + "/")
        script = await http.get(server.url + "/static/vendor/socket.io.min.js")
    assert page.status_code == 200 and "<form" in page.text and "static/vendor/socket.io.min.js" in page.text
    assert script.status_code == 200 and script.text.startswith("/*!\n * Socket.IO v4.8.4")


async def test_cross_origin_page_is_refused_by_default(server):
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            server.url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://evil.example"}
        )
    assert answer.status_code == 400


async def test_malformed_engineio_requests_get_4xx(server):
    async with httpx.AsyncClient() as http:
        bad_sid = await http.get(server.url + "/socket.io/?EIO=4&transport=polling&sid=nope")
        bad_transport = await http.get(server.url + "/socket.io/?EIO=4&transport=carrier-pigeon")
        handshake = await http.get(server.url + "/socket.io/?EIO=4&transport=polling")
        sid = handshake.text.split('"sid":"')[1].split('"')[0]
        garbage = await http.post(server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", content=b"\xff\xfe garbage")
        still_ok = await http.get(server.url + "/")
    assert 400 <= bad_sid.status_code < 500
    assert 400 <= bad_transport.status_code < 500
    assert 400 <= garbage.status_code < 500
    assert still_ok.status_code == 200


def test_invalid_max_message_bytes_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ChatServer(max_message_bytes=0)


async def test_reused_id_with_other_text_is_refused(server):
    async with ChatClient(server.url) as client:
        await client.call("chat message", {"text": "first", "id": "same-id"})
        answer = await client.call("chat message", {"text": "second", "id": "same-id"})
        assert answer == {"ok": False, "error": "This message id is already used; send again with a new id."}


async def test_out_of_range_offsets_are_refused_or_ignored(server):
    async with ChatClient(server.url) as client:
        await client.send("one")
        answer = await client.call("history", {"after": 10**30})
        assert answer == {"ok": False, "error": "after must be an offset: an integer from 0."}
    huge = socketio.AsyncClient(reconnection=False)
    welcomed: asyncio.Queue = asyncio.Queue()
    huge.on("welcome", handler=welcomed.put_nowait)
    await huge.connect(server.url, transports=["websocket"], auth={"serverOffset": 10**30, "logId": None})
    try:
        assert (await asyncio.wait_for(welcomed.get(), 5))["offset"] == 1  # treated as a newcomer
        async with ChatClient(server.url) as other:
            await other.send("reaches the newcomer too")
    finally:
        await huge.disconnect()


async def test_auth_without_server_offset_is_told_how_to_fix_it(server):
    client = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue = asyncio.Queue()
    client.on("chat error", handler=errors.put_nowait)
    await client.connect(server.url, transports=["websocket"], auth={"nickname": "ada"})
    try:
        error = await asyncio.wait_for(errors.get(), 5)
        assert 'needs the key "serverOffset"' in error["error"]
    finally:
        await client.disconnect()


async def test_rooms_per_client_are_capped(server):
    from chat_lib.server import MAX_ROOMS_PER_CLIENT

    async with ChatClient(server.url) as client:
        for i in range(MAX_ROOMS_PER_CLIENT):
            await client.join(f"room {i}")
        with pytest.raises(MessageRejected, match="leave one before joining another"):
            await client.join("one too many")


async def test_nickname_changes_are_rate_limited():
    with BackgroundServer(rate_limit=(1, 4), ping_interval=2) as limited:
        async with ChatClient(limited.url) as client:  # connecting takes one of the four
            answers = [await client.call("nickname", f"name{i}", timeout=5) for i in range(3)]
            with pytest.raises(ChatConnectionError, match="No answer"):  # a retry may cure it: no ack (protocol.py)
                await client.call("nickname", "one too many", timeout=1)
            errors = [n for n in client.notices if n["kind"] == "chat error"]
    assert [a["ok"] for a in answers] == [True, True, True]
    assert errors == [{"kind": "chat error", "event": "nickname", "error": "Too many messages; slow down."}]


def test_a_store_passed_in_survives_a_server_restart(tmp_path):
    from chat_lib import MessageStore

    store = MessageStore(tmp_path / "log.sqlite3")
    server = BackgroundServer(store=store, ping_interval=2)
    for _ in range(2):  # stop() must not close a store it did not open
        server.start()
        server.stop()
    assert store.append("id", "ada", "still open")[1] is True
    store.close()


async def test_websocket_outside_socketio_path_is_refused_with_403(server):
    import aiohttp

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(server.url.replace("http", "ws") + "/")
    assert refused.value.status == 403


async def test_a_newcomer_hears_what_is_sent_while_the_server_still_welcomes_it():
    # The server accepts a connection before its connect handler runs (always_connect), and the
    # handler may wait: with Redis, claiming a nickname is a round trip. A slow claim (0.5 s, the
    # way a busy Redis answers) makes that window wide; what is sent in it must still arrive.
    with BackgroundServer() as server:
        claim = server.chat.presence.claim

        async def claim_slowly(*args):
            await asyncio.sleep(0.5)
            return await claim(*args)

        async with ChatClient(server.url, nickname="ada") as ada:
            server.chat.presence.claim = claim_slowly
            plain, plain_heard = await plain_client(server.url)  # no auth: the tutorial's first client
            tutorial = socketio.AsyncClient(reconnection=False)  # auth {serverOffset}: its last one
            tutorial_heard: asyncio.Queue = asyncio.Queue()
            tutorial.on("chat message", lambda text, *rest: tutorial_heard.put_nowait(text))
            await tutorial.connect(server.url, transports=["websocket"], auth={"serverOffset": None})
            await ada.send("sent while they were still being welcomed")  # both handlers still wait
            try:
                for heard in (plain_heard, tutorial_heard):
                    assert await asyncio.wait_for(heard.get(), 5) == "sent while they were still being welcomed"
            finally:
                for client in (plain, tutorial):
                    await client.disconnect()
