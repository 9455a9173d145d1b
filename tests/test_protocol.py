"""The checks both ends share: what counts as a valid message, nickname, room."""

from __future__ import annotations

import pytest
from engineio.payload import Payload

from chat_lib import protocol


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (42, "must be a string, not int"),
        (None, "must be a string, not NoneType"),
        (["a"], "must be a string, not list"),
        (b"bytes", "must be text, not binary"),
        ("", "cannot be empty"),
        ("   \n", "cannot be empty"),
        ("\ud800", "valid Unicode"),
        ("x" * 5000, "at most 4096 bytes; this one is 5000"),
        ("é" * 2049, "this one is 4098"),
    ],
)
def test_validate_text_refuses_with_a_sentence(value, error):
    with pytest.raises(ValueError, match=error):
        protocol.validate_text(value)


def test_validate_text_accepts_html_unchanged():
    text = "<script>alert(1)</script>"
    assert protocol.validate_text(text) == text


def test_validate_nickname_normalises_spaces():
    assert protocol.validate_nickname("  Ada   Lovelace ") == "Ada Lovelace"


@pytest.mark.parametrize("value", ["", "  ", "x" * 33, 7, None])
def test_validate_nickname_refuses(value):
    with pytest.raises(ValueError):
        protocol.validate_nickname(value)


@pytest.mark.parametrize("value", ["", None, 3, "r" * 65])
def test_validate_room_refuses(value):
    with pytest.raises(ValueError):
        protocol.validate_room(value)


def test_importing_the_protocol_changes_no_third_party_setting():
    import subprocess
    import sys

    code = "import chat_lib.protocol; from engineio.payload import Payload; print(Payload.max_decode_packets)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "16"


def test_a_chat_server_takes_polling_bursts_up_to_its_byte_limit():
    from chat_lib import ChatServer

    ChatServer(max_payload_bytes=1_000_000)
    assert Payload.max_decode_packets >= 500_000  # a packet takes at least two bytes
