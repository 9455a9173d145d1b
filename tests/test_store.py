"""The message log: offsets, de-duplication, history, and a file that survives.

The shared tests run against both logs of :class:`~chat_lib.log.MessageLog`:
SQLite (:class:`MessageStore`) and Redis Streams (:class:`StreamStore`, on a
real redis-server); ``tests/test_stream_store.py`` has what only Streams do.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import uuid

import pytest

from chat_lib import LocalRedis, MessageStore
from chat_lib.log import MessageLog
from chat_lib.stream_store import StreamStore


@pytest.fixture(scope="module")
def redis_server():
    with LocalRedis() as running:
        yield running


@pytest.fixture(params=["sqlite", "redis-streams"])
def new_store(request, redis_server):
    """Make an empty log of each kind; closes (and for Redis, deletes) them afterwards."""
    made = []

    def make():
        if request.param == "sqlite":
            store = MessageStore()
        else:
            store = StreamStore(redis_server.url, name=f"test:{uuid.uuid4().hex}")
        made.append(store)
        return store

    yield make
    for store in made:
        if isinstance(store, StreamStore):
            store.delete()
        store.close()


def test_both_logs_have_the_interface(new_store):
    assert isinstance(new_store(), MessageLog)


def test_append_gives_increasing_offsets(new_store):
    store = new_store()
    offsets = [store.append(f"id-{i}", "ada", f"message {i}")[0].offset for i in range(5)]
    assert offsets == [1, 2, 3, 4, 5]
    assert store.last_offset() == 5


def test_append_same_id_is_stored_once(new_store):
    store = new_store()
    first, first_new = store.append("same", "ada", "hello")
    again, again_new = store.append("same", "ada", "hello")
    assert (first_new, again_new) == (True, False)
    assert again == first
    assert len(store) == 1
    # The refused copy used up no offset: across processes every offset is a hole to look up.
    assert store.append("next", "ada", "hello again")[0].offset == first.offset + 1


def test_since_returns_public_messages_in_order(new_store):
    store = new_store()
    for i in range(4):
        store.append(f"p{i}", "ada", f"public {i}")
    store.append("r", "bob", "in a room", room="lounge")
    texts = [m.text for m in store.since(2)]
    assert texts == ["public 2", "public 3"]
    assert [m.text for m in store.since(0, room="lounge")] == ["in a room"]


def test_since_honours_the_limit(new_store):
    store = new_store()
    for i in range(250):
        store.append(f"id{i}", "ada", str(i), room="lounge" if i % 2 else None)
    public = store.since(0, limit=120)
    assert [m.text for m in public] == [str(i) for i in range(0, 240, 2)]
    assert [m.offset for m in store.since(public[-1].offset, limit=1000)] == list(range(241, 251, 2))


def test_at_returns_the_messages_of_one_room_at_the_offsets_asked(new_store):
    store = new_store()
    for i in range(6):
        store.append(f"id{i}", "ada", str(i), room="lounge" if i == 2 else None)
    # Offsets 1-6; 3 is the lounge's, 99 does not exist, 5 is asked for twice.
    assert [m.text for m in store.at([5, 1, 3, 99, 5])] == ["0", "4"]
    assert [(m.offset, m.room) for m in store.at([3, 4], room="lounge")] == [(3, "lounge")]
    assert store.at([]) == []


def test_recent_returns_the_last_messages_oldest_first(new_store):
    store = new_store()
    for i in range(10):
        store.append(f"id{i}", "ada", str(i))
    assert [m.text for m in store.recent(3)] == ["7", "8", "9"]


def test_recent_of_a_room_skips_other_rooms(new_store):
    store = new_store()
    for i in range(300):
        store.append(f"id{i}", "ada", str(i), room="lounge" if i < 5 else None)
    assert [m.text for m in store.recent(3, room="lounge")] == ["2", "3", "4"]


def test_stored_message_keeps_every_field(new_store):
    store = new_store()
    stored, _ = store.append("m", "ada", "héllo ✓", room="lounge")
    (read,) = store.since(0, room="lounge")
    assert read == stored
    assert (read.message_id, read.nickname, read.text, read.room) == ("m", "ada", "héllo ✓", "lounge")
    assert isinstance(read.sent_at, float)


def test_empty_store_last_offset_is_zero(new_store):
    store = new_store()
    assert store.last_offset() == 0 and len(store) == 0 and store.since(0) == [] and store.recent(5) == []


def test_close_is_idempotent(new_store):
    store = new_store()
    store.close()
    store.close()


def test_file_store_keeps_messages_after_the_writer_is_killed(tmp_path):
    path = tmp_path / "chat.sqlite3"
    writer = (
        "import os, sys\n"
        "from chat_lib import MessageStore\n"
        "store = MessageStore(sys.argv[1])\n"
        "for i in range(50):\n"
        "    store.append(f'id{i}', 'ada', f'message {i}')\n"
        "print('written', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    result = subprocess.run([sys.executable, "-c", writer, str(path)], capture_output=True, text=True, timeout=30)
    assert "written" in result.stdout and result.returncode == -9
    reopened = MessageStore(path)
    assert [m.text for m in reopened.since(0)] == [f"message {i}" for i in range(50)]
    reopened.close()


def _open_together(path, count):
    """Open ``count`` stores on one file at the same moment, each on its own thread."""
    everyone_ready = threading.Barrier(count)
    opened, errors = [], []

    def open_store():
        everyone_ready.wait()
        try:
            opened.append(MessageStore(path))
        except sqlite3.Error as err:
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return opened, errors


def test_servers_opening_one_new_file_together_all_start_and_share_one_log(tmp_path):
    # A server group starts its processes at once on a new file. SQLite answers
    # "database is locked" at once (no busy wait) to a connection switching it
    # to WAL while another opens it; before MessageStore tried again, 100
    # rounds of 8 here failed 4 to 7 times. Threads open separate connections,
    # and SQLite locks them from each other as it does processes.
    for round_ in range(100):
        opened, errors = _open_together(tmp_path / f"group-{round_}.sqlite3", 8)
        assert errors == []
        assert len(opened) == 8 and len({store.log_id for store in opened}) == 1
        for store in opened:
            store.close()
