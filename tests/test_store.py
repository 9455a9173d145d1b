"""The message log: offsets, de-duplication, history, and a file that survives."""

from __future__ import annotations

import subprocess
import sys

from chat_lib import MessageStore


def test_append_gives_increasing_offsets():
    store = MessageStore()
    offsets = [store.append(f"id-{i}", "ada", f"message {i}")[0].offset for i in range(5)]
    assert offsets == [1, 2, 3, 4, 5]
    assert store.last_offset() == 5


def test_append_same_id_is_stored_once():
    store = MessageStore()
    first, first_new = store.append("same", "ada", "hello")
    again, again_new = store.append("same", "ada", "hello")
    assert (first_new, again_new) == (True, False)
    assert again == first
    assert len(store) == 1


def test_since_returns_public_messages_in_order():
    store = MessageStore()
    for i in range(4):
        store.append(f"p{i}", "ada", f"public {i}")
    store.append("r", "bob", "in a room", room="lounge")
    texts = [m.text for m in store.since(2)]
    assert texts == ["public 2", "public 3"]
    assert [m.text for m in store.since(0, room="lounge")] == ["in a room"]


def test_recent_returns_the_last_messages_oldest_first():
    store = MessageStore()
    for i in range(10):
        store.append(f"id{i}", "ada", str(i))
    assert [m.text for m in store.recent(3)] == ["7", "8", "9"]


def test_empty_store_last_offset_is_zero():
    assert MessageStore().last_offset() == 0


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
