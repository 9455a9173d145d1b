"""Background servers: start, stop, failures, and nothing left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from chat_lib import BackgroundServer, ChatClient, ServerStartError
from chat_lib.background import bind_socket


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_start_chat_stop(mode):
    server = BackgroundServer(mode=mode, ping_interval=2, ping_timeout=2).start()
    try:
        assert server.running and server.port > 0 and port_is_open(server.port)
        assert server.url == f"http://127.0.0.1:{server.port}"
        async with ChatClient(server.url) as client:
            await client.send("hello")
            assert (await client.wait_for_message()).text == "hello"
    finally:
        server.stop()
    assert not server.running and not port_is_open(server.port)
    server.stop()  # idempotent


@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_stop_is_quick_with_polling_clients_connected(mode):
    server = BackgroundServer(mode=mode).start()  # default 25 s pings: the slow case
    clients = [await ChatClient(server.url, transport="polling", reconnection=False).connect() for _ in range(3)]
    began = time.perf_counter()
    server.stop()
    took = time.perf_counter() - began
    for client in clients:
        await client.disconnect()
    assert not port_is_open(server.port)
    assert took < 10, f"stop() took {took:.1f} s with polling clients connected"


def test_taken_port_raises_a_clear_error():
    holder = bind_socket()
    port = holder.getsockname()[1]
    try:
        for mode in ("thread", "process"):
            with pytest.raises(ServerStartError, match=f"Cannot listen on 127.0.0.1:{port}.*port=0"):
                BackgroundServer(mode=mode, port=port).start()
    finally:
        holder.close()


def test_restart_on_the_same_port():
    first = BackgroundServer().start()
    port = first.port
    first.stop()
    with BackgroundServer(port=port) as second:
        assert second.port == port and port_is_open(port)


def test_context_manager_stops_on_error():
    with pytest.raises(RuntimeError):
        with BackgroundServer(mode="process") as server:
            port = server.port
            raise RuntimeError("boom")
    assert not port_is_open(port)


def test_kill_ends_a_process_server_at_once():
    server = BackgroundServer(mode="process").start()
    pid = server._process.pid
    server.kill()
    assert not process_alive(pid) and not port_is_open(server.port)
    with pytest.raises(ValueError, match="Only a process-mode server"):
        BackgroundServer().kill()


def test_bad_options_fail_in_the_caller_not_in_the_child():
    # One ChatConfig for both modes: a wrong option fails here, before any child starts.
    for mode in ("thread", "process"):
        with pytest.raises(TypeError, match="no_such_option"):
            BackgroundServer(mode=mode, no_such_option=1)


# A stand-in for a Jupyter kernel: it starts a process-mode server and, like a
# kernel, survives SIGINT (an "Interrupt kernel" is SIGINT to its whole group).
PARENT = textwrap.dedent(
    """
    import signal, sys, time
    from chat_lib import BackgroundServer
    signal.signal(signal.SIGINT, lambda *_: print("interrupted", flush=True))
    server = BackgroundServer(mode="process").start()
    print(server.port, server._process.pid, flush=True)
    time.sleep(60)
    """
)


def start_parent() -> tuple[subprocess.Popen, int, int]:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    port, child_pid = map(int, parent.stdout.readline().split())
    return parent, port, child_pid


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def cleanup(parent: subprocess.Popen, child_pid: int) -> None:
    parent.kill()
    parent.wait()
    parent.stdout.close()
    if process_alive(child_pid):
        os.kill(child_pid, signal.SIGKILL)


def test_process_server_dies_when_its_parent_is_killed():
    parent, port, child_pid = start_parent()
    try:
        assert port_is_open(port)
        parent.kill()  # SIGKILL: no atexit, no cleanup; only the stdin lifeline
        parent.wait()
        assert wait_until(lambda: not process_alive(child_pid)), "server outlived its parent"
        assert not port_is_open(port)
    finally:
        cleanup(parent, child_pid)


def test_process_server_survives_an_interrupt_of_the_parents_group():
    parent, port, child_pid = start_parent()
    try:
        os.killpg(parent.pid, signal.SIGINT)
        assert parent.stdout.readline().strip() == "interrupted"
        assert process_alive(child_pid) and port_is_open(port)
    finally:
        cleanup(parent, child_pid)
