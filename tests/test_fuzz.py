"""Whatever a client sends, the server answers with a clear error and keeps serving everyone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import socketio
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat_lib import BackgroundServer, ChatClient

EVENTS = ["chat message", "nickname", "typing", "join", "leave", "private message", "history", "no such event"]

# JSON-like values the Socket.IO packet encoder can carry. Not binary: the chat
# is text only, and a binary packet drops its sender (test_hostile_clients.py).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def fuzz_server():
    with BackgroundServer(ping_interval=2, ping_timeout=2, rate_limit=None) as running:
        yield running


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.sampled_from(EVENTS), payload=json_values)
def test_any_payload_to_any_event_gets_an_answer_and_stores_only_text(fuzz_server, event, payload):
    async def probe():
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(fuzz_server.url, transports=["websocket"], auth={"serverOffset": None})
        try:
            answer = await client.call(event, payload, timeout=5)
        finally:
            await client.disconnect()
        return answer

    before = len(fuzz_server.chat.store)
    answer = asyncio.run(probe())
    if event == "typing" and isinstance(payload, bool):
        assert answer is None  # typing is fire-and-forget
    else:
        assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool)
        if not answer["ok"]:
            assert isinstance(answer["error"], str) and answer["error"].endswith((".", "?", "!"))
    added = fuzz_server.chat.store.recent(len(fuzz_server.chat.store) - before) if len(fuzz_server.chat.store) > before else []
    for message in added:
        assert isinstance(message.text, str) and message.text.strip()


async def test_deeply_nested_payload_is_refused_and_server_keeps_serving(fuzz_server):
    """Raw Engine.IO frames, since a Python client cannot even encode 5000 levels of nesting."""
    url = fuzz_server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    nested = "[" * 5000 + '"x"' + "]" * 5000
    async with websockets.connect(url, max_size=None) as raw:
        assert (await raw.recv()).startswith("0{")  # Engine.IO open
        await raw.send('40{"serverOffset":null}')  # Socket.IO connect, with auth
        while not (await raw.recv()).startswith("40"):
            pass
        await raw.send(f'421["chat message",{nested}]')  # event with ack id 1
        try:
            while True:
                frame = await asyncio.wait_for(raw.recv(), 3)  # before any ping timeout
                if frame.startswith("431"):
                    assert '"ok":false' in frame
                    break
                if frame == "1":  # Engine.IO close: the server dropped us
                    break
        except websockets.ConnectionClosed:
            pass  # dropping the connection is also an acceptable answer
    async with ChatClient(fuzz_server.url) as other:
        await other.send("still serving")
        assert (await other.wait_for_message()).text == "still serving"


async def test_huge_message_is_refused_without_dropping_others(fuzz_server):
    async with ChatClient(fuzz_server.url, transport="polling") as big, ChatClient(fuzz_server.url) as other:
        answer = await big.call("chat message", "x" * 30_000, timeout=5)
        assert answer == {"ok": False, "error": "A chat message may be at most 4096 bytes; this one is 30000."}
        await other.send("unaffected")


async def test_payload_beyond_the_http_limit_is_rejected_with_413(fuzz_server):
    async with httpx.AsyncClient(timeout=10) as http:
        handshake = await http.get(fuzz_server.url + "/socket.io/?EIO=4&transport=polling")
        sid = handshake.text.split('"sid":"')[1].split('"')[0]
        limit = fuzz_server.chat.config.max_payload_bytes
        answer = await http.post(
            fuzz_server.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}", content=b"4" + b"x" * limit
        )
        assert answer.status_code == 413
        assert (await http.get(fuzz_server.url + "/")).status_code == 200


async def test_undecodable_polling_payload_is_answered_and_its_session_dropped(fuzz_server):
    async with httpx.AsyncClient(timeout=10) as http:
        base = fuzz_server.url + "/socket.io/?EIO=4&transport=polling"
        sid = (await http.get(base)).text.split('"sid":"')[1].split('"')[0]
        await http.get(base + f"&sid={sid}")  # the CONNECT answer... or a NOOP
        answer = await http.post(base + f"&sid={sid}", content=b"4" + b"x" * 1000)  # not a Socket.IO packet
        assert answer.status_code == 200  # answered at once, not left hanging
        for _ in range(50):  # the session is dropped: its next poll is refused
            if (await http.get(base + f"&sid={sid}")).status_code == 400:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the session that sent garbage was not dropped")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=200),
    query=st.sampled_from(["EIO=4&transport=polling", "EIO=4&transport=polling&sid=nope", "EIO=3", "transport=websocket"])
    | st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#"), max_size=40),
)
def test_garbage_engineio_requests_get_4xx_never_5xx(fuzz_server, body, query):
    with httpx.Client(timeout=5) as http:
        answer = http.post(fuzz_server.url + "/socket.io/?" + query, content=body)
    assert answer.status_code < 500
