"""What only the Redis Streams log does: one log for processes that share nothing but Redis.

The tests every log passes are in ``tests/test_store.py`` (run against both).
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis

from chat_lib import ChatClient, ChatServer, LocalRedis, ServerStartError
from chat_lib.lab.machines import ServeCommand
from chat_lib.stream_store import LogUnavailable, StreamStore
from helpers import wait_for

FAST = ["--ping-interval", "1", "--ping-timeout", "1", "--rate-limit", "off"]


@pytest.fixture(scope="module")
def redis_server():
    with LocalRedis() as running:
        yield running


@pytest.fixture
def log_name(redis_server):
    name = f"test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(redis_server.url).delete(*(f"{name}:{key}" for key in ("stream", "ids", "offset", "log_id")))


_WRITER = """
import sys
from chat_lib.stream_store import StreamStore
store = StreamStore(sys.argv[1], name=sys.argv[2])
for i in range(int(sys.argv[4])):
    message, is_new = store.append(f"{sys.argv[3]}-{i}", sys.argv[3], str(i))
    # every writer also retries one shared id, as a client's retry reaching another server would
    shared, shared_new = store.append("shared-retry", "ada", "once")
    print(message.offset, int(shared_new), flush=True)
"""


def test_processes_share_one_sequence_and_store_a_retried_id_once(redis_server, log_name):
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, redis_server.url, log_name, f"w{n}", "100"],
                         stdout=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    outputs = [writer.communicate(timeout=60)[0].split() for writer in writers]
    assert all(writer.returncode == 0 for writer in writers)
    offsets = [int(value) for output in outputs for value in output[0::2]]
    stored_the_shared_id = sum(int(value) for output in outputs for value in output[1::2])
    assert stored_the_shared_id == 1
    assert sorted(offsets) == sorted(set(offsets))  # no offset given twice
    store = StreamStore(redis_server.url, name=log_name)
    assert [m.offset for m in store.since(0)] == list(range(1, 302))  # one sequence, no gap
    assert len(store) == 301 and store.last_offset() == 301
    store.close()


def test_retention_drops_the_oldest_messages_and_their_ids(redis_server, log_name):
    store = StreamStore(redis_server.url, name=log_name, max_messages=5)
    for i in range(12):
        store.append(f"id{i}", "ada", str(i))
    assert len(store) == 5
    assert [m.offset for m in store.since(0)] == [8, 9, 10, 11, 12]
    assert store.last_offset() == 12  # offsets go on; they never restart
    assert redis.Redis.from_url(redis_server.url).hlen(f"{log_name}:ids") == 5
    store.close()


def test_servers_on_one_redis_agree_on_the_log_id(redis_server, log_name):
    first, second = StreamStore(redis_server.url, name=log_name), StreamStore(redis_server.url, name=log_name)
    assert first.log_id == second.log_id
    assert StreamStore(redis_server.url, name=log_name + "-other").log_id != first.log_id
    first.close(), second.close()


def test_unreachable_redis_is_a_clear_error_at_start_and_later():
    with LocalRedis() as gone:
        store = StreamStore(gone.url, timeout=0.5)
        store.append("before", "ada", "hello")
    with pytest.raises(LogUnavailable, match="unreachable, so nothing was stored.*Try again once Redis is back"):
        store.append("after", "ada", "hello")
    store.close()
    with pytest.raises(ServerStartError, match="Cannot reach Redis at .*LocalRedis"):
        StreamStore(gone.url, timeout=0.5)


def test_chat_server_with_redis_and_no_file_keeps_its_log_in_redis(redis_server, tmp_path):
    with_redis = ChatServer(redis_url=redis_server.url)
    with_file = ChatServer(redis_url=redis_server.url, store=str(tmp_path / "log.sqlite3"))
    alone = ChatServer()
    try:
        assert isinstance(with_redis.store, StreamStore)
        assert not isinstance(with_file.store, StreamStore) and not isinstance(alone.store, StreamStore)
    finally:
        for server in (with_redis, with_file, alone):
            server.close()


async def test_two_machines_sharing_only_redis_keep_one_log():
    # A fresh Redis and the default log name, as two real machines would use them.
    with LocalRedis() as shared:
        options = ["--redis-url", shared.url, *FAST]
        with ServeCommand("127.0.0.2", options) as first, ServeCommand("127.0.0.3", options) as second:
            async with ChatClient(first.url, nickname="ada", transport="websocket") as ada:
                # Bob's client knows both machines, his own first.
                async with ChatClient([second.url, first.url], nickname="bob", transport="websocket") as bob:
                    one = await ada.send("from 127.0.0.2")
                    two = await bob.send("from 127.0.0.3")
                    assert (one["offset"], two["offset"]) == (1, 2)  # one sequence across machines
                    await ada.wait_for_message(lambda m: m.text == "from 127.0.0.3")
                    second.stop()  # Bob's machine goes away; Ada goes on talking on hers
                    await wait_for(lambda: bob.status != "connected")
                    sent = [(await ada.send(f"while bob moved {i}"))["offset"] for i in range(3)]
                    await bob.wait_for_message(lambda m: m.text == "while bob moved 2", timeout=20)
                    assert bob.url == first.url
                    received = [m.offset for m in bob.messages if m.offset is not None]
                    assert received == [1, 2, *sent] == [1, 2, 3, 4, 5]  # caught up: nothing missed, nothing twice
            # Each machine's folder holds its stderr, and no log file: the log is in Redis.
            assert [p.name for p in first.folder.iterdir()] == ["stderr.log"]
