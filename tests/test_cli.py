"""``python -m chat_lib serve``: the command a reader types, run as a real process.

Each test starts the command in its own session (as a terminal would), reads the
address it prints, talks to it over HTTP and Socket.IO, and stops it with the
signal Ctrl-C sends. Whatever happens, the process group is killed at the end.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from chat_lib import ChatClient, MessageRejected
from chat_lib.server import STATIC_DIR

LISTENING = re.compile(r"^Chat server listening on (http://(\S+):(\d+))")


class _Served:
    """A running ``python -m chat_lib serve`` and what it printed."""

    def __init__(self, process: subprocess.Popen, first_line: str) -> None:
        self.process = process
        self.first_line = first_line
        match = LISTENING.match(first_line)
        self.url = match[1] if match else None
        self.host = match[2] if match else None
        self.port = int(match[3]) if match else None

    def interrupt(self, timeout: float = 10, sig: int = signal.SIGINT) -> tuple[int, str, str]:
        """Send SIGINT (Ctrl-C) and return the exit code and the rest of stdout and stderr."""
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err


def _read_line(stream, timeout: float) -> str:
    """One line from a child's pipe, or ``""`` if none comes within ``timeout`` seconds."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "chat_lib", "serve", *args]


@contextmanager
def served(*args: str, env: dict[str, str] | None = None, timeout: float = 20) -> Iterator[_Served]:
    """Run ``python -m chat_lib serve ARGS`` until the block ends; kill it if still running."""
    process = subprocess.Popen(
        _command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # Ctrl-C in the terminal running pytest must not reach it
    )
    try:
        line = _read_line(process.stdout, timeout)
        yield _Served(process, line)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


def test_serve_prints_its_address_and_serves_the_page():
    with served("--port", "0") as chat:
        assert chat.url is not None, f"unexpected first line: {chat.first_line!r}"
        assert chat.host == "localhost" and chat.port > 0
        response = httpx.get(chat.url + "/", timeout=5)
        assert response.status_code == 200
        assert response.content == (STATIC_DIR / "index.html").read_bytes()
        code, out, err = chat.interrupt()
        assert code == 0, err
        assert out.strip() == "Chat server stopped."
        assert "Traceback" not in err


async def test_serve_lets_two_clients_chat():
    with served("--port", "0") as chat:
        assert chat.url is not None, f"unexpected first line: {chat.first_line!r}"
        async with ChatClient(chat.url, nickname="ada") as ada, ChatClient(chat.url, nickname="bob") as bob:
            ack = await ada.send("hello from the command line")
            assert ack["ok"] is True
            received = await bob.wait_for_message(lambda m: m.text == "hello from the command line", timeout=5)
            assert received.nickname == "ada"
            assert sorted(bob.online) == ["ada", "bob"]


async def test_ctrl_c_stops_the_server_cleanly_with_a_polling_client_connected():
    # A browser tab left open holds a long-poll; Ctrl-C must not wait for it.
    with served("--port", "0") as chat:
        assert chat.url is not None, f"unexpected first line: {chat.first_line!r}"
        client = ChatClient(chat.url, transport="polling", reconnection=False)
        await client.connect()
        try:
            code, out, err = chat.interrupt(timeout=8)
            assert code == 0, err
            assert out.strip().splitlines()[-1] == "Chat server stopped."
            assert "Traceback" not in err
        finally:
            await client.disconnect()


def test_sigterm_stops_the_server_cleanly():
    # What a service manager or `docker stop` sends.
    with served("--port", "0") as chat:
        assert chat.url is not None, f"unexpected first line: {chat.first_line!r}"
        code, out, err = chat.interrupt(sig=signal.SIGTERM)
        assert code == 0, err
        assert out.strip() == "Chat server stopped."
        assert "Traceback" not in err


def test_port_environment_variable_is_honoured():
    port = _free_port()
    with served(env={"PORT": str(port)}) as chat:
        assert chat.port == port, chat.first_line
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        assert chat.interrupt()[0] == 0


def test_port_option_wins_over_the_environment_variable():
    port = _free_port()
    with served("--port", str(port), env={"PORT": "1"}) as chat:
        assert chat.port == port, chat.first_line
        assert chat.interrupt()[0] == 0


def test_port_environment_variable_that_is_not_a_number_is_refused():
    with served(env={"PORT": "http"}) as chat:
        assert chat.process.wait(timeout=10) == 1
        assert "PORT must be a number" in chat.process.stderr.read()


def test_taken_port_gives_a_clear_error_and_exit_code_1():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with served("--port", str(port)) as chat:
            assert chat.process.wait(timeout=10) == 1
            assert chat.first_line == ""  # it never claimed to be listening
            error = chat.process.stderr.read()
            assert f"Cannot listen on 127.0.0.1:{port}" in error
            assert "--port 0" in error  # says what to do, in the command line's terms
            assert "Traceback" not in error


def test_host_defaults_to_loopback_only():
    # A socket bound to 127.0.0.1 refuses 127.0.0.2; one bound to 0.0.0.0 accepts it.
    with served("--port", "0") as chat:
        assert chat.port is not None, chat.first_line
        assert _accepts("127.0.0.1", chat.port)
        assert not _accepts("127.0.0.2", chat.port)
        assert chat.interrupt()[0] == 0


def test_host_option_binds_all_interfaces():
    with served("--host", "0.0.0.0", "--port", "0") as chat:
        assert chat.url == f"http://0.0.0.0:{chat.port}", chat.first_line
        assert _accepts("127.0.0.2", chat.port)
        assert chat.interrupt()[0] == 0


def test_help_names_the_defaults():
    result = subprocess.run(_command("--help"), capture_output=True, text=True, timeout=20)
    assert result.returncode == 0
    assert "default 127.0.0.1" in result.stdout
    assert "$PORT" in result.stdout


async def test_max_message_bytes_option_limits_messages():
    with served("--port", "0", "--max-message-bytes", "16") as chat:
        assert chat.url is not None, chat.first_line
        async with ChatClient(chat.url, transport="websocket") as client:
            assert (await client.send("x" * 16))["ok"] is True
            with pytest.raises(MessageRejected, match="at most 16 bytes; this one is 17"):
                await client.send("x" * 17)
