"""Run a chat server, or any ASGI app, in the background of a notebook, a test or a benchmark.

:class:`BackgroundServer` starts uvicorn serving an ASGI app (by default a new
:class:`~chat_lib.server.ChatServer`) and returns once it accepts connections:

* ``mode="thread"`` (default): a thread of this process with its own event loop.
  Ready in a fraction of a second; dies with the kernel.
* ``mode="process"``: a child process (benchmarks, so the server does not share
  the client's interpreter; fault drills, because it can be killed). The child
  runs in its own session, so a kernel interrupt (SIGINT to the kernel's
  process group) does not reach it, and it exits as soon as its stdin closes,
  which happens however the parent dies: a lifeline.

Both bind the socket themselves, before uvicorn starts, so a taken port fails
at once with a clear error, and the real port is known (port 0 picks a free one).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal

import uvicorn

from .config import ChatConfig
from .errors import ServerStartError
from .server import ChatServer
from .server.guard import HttpGuard
from .store import MessageStore

__all__ = ["BackgroundServer", "bind_socket"]

logger = logging.getLogger("chat_lib.background")

# Outstanding long-poll requests are running ASGI tasks: without a short grace
# period uvicorn waits for each of them (up to the ping interval) on shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 1

_running: weakref.WeakSet[BackgroundServer] = weakref.WeakSet()


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Bind and listen on ``host:port``; raise :class:`ServerStartError` if taken.

    The socket is created with ``IPPROTO_TCP``: asyncio enables TCP_NODELAY on
    accepted connections only then, and without it Nagle's algorithm adds about
    40 ms to every long-polling round trip.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise ServerStartError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. "
            "Stop whatever uses that port, or pass port=0 to pick a free one."
        ) from exc
    return sock


def _uvicorn_server(app: Any, host: str = "127.0.0.1", **options: Any) -> uvicorn.Server:
    """The uvicorn server for ``app`` bound on ``host``: BackgroundServer, its child and the CLI share it.

    For a chat server (its :class:`~chat_lib.server.guard.HttpGuard`), uvicorn
    reads no WebSocket message larger than the server's payload limit (its own
    default is 16 MiB, read whole before python-engineio's check), and the
    guard learns the bound address for its Host check. ``options`` are
    further ``uvicorn.Config`` options (TLS).
    """
    guard = app if isinstance(app, HttpGuard) else None
    if guard is not None:
        guard.bound_host = host
    config = uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",  # the chat server subscribes to Redis at start-up
        # The Socket.IO client does not offer compression by default, the
        # JavaScript one does; on loopback it costs more than it saves.
        ws_per_message_deflate=False,
        ws_max_size=guard.max_body_bytes if guard is not None else 16 * 1024 * 1024,
        **options,
    )
    return uvicorn.Server(config)


def serve_in_child(host: str, port: str, build: Callable[[], tuple[Any, Any]]) -> None:
    """The life of a server's child process: ``python -m chat_lib._child`` and ``chat_lib.lab.serve_app``.

    It binds first (a taken port fails before anything is built), then asks
    ``build()`` for the ASGI app and what to close after it (or ``None``),
    prints ``PORT n`` once uvicorn is listening, and serves until SIGTERM or
    until its stdin closes: the parent holds the other end, so when the parent
    dies, however it dies, this process follows.
    """
    try:
        sock = bind_socket(host, int(port))
    except ServerStartError as exc:
        sys.exit(str(exc))
    app, closing = build()
    server = _uvicorn_server(app, host)
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()
    original_startup = server.startup

    async def startup(sockets=None):  # uvicorn calls it before serving
        await original_startup(sockets=sockets)
        print(f"PORT {sock.getsockname()[1]}", flush=True)

    server.startup = startup
    try:
        server.run(sockets=[sock])
    finally:
        if closing is not None:
            closing.close()  # a chat's log file


def _exit_when_parent_dies() -> None:
    sys.stdin.buffer.read()  # returns at EOF: the parent closed the pipe or died
    os._exit(0)


class BackgroundServer:
    """A server running in the background; a context manager.

    :param app: what to serve: an ASGI app (thread mode only: notebook 02's
                ten lines, a test's echo server), a :class:`ChatServer`, or a
                :class:`~chat_lib.config.ChatConfig` for a new chat server.
                Default: a chat server with ``options``.
    :param mode: ``"thread"`` (default) or ``"process"``.
    :param host: address to bind; loopback by default.
    :param port: port to bind; ``0`` (default) picks a free one.
    :param start_timeout: seconds to wait for the server to accept connections.
    :param options: :class:`~chat_lib.config.ChatConfig` options, applied to
                    ``app`` when it is a config (or to the default one).

    Example::

        with BackgroundServer(rate_limit=None) as server:
            print(server.url)        # http://127.0.0.1:40123

    Introduced in notebook 02.
    """

    def __init__(
        self,
        app: Any = None,
        *,
        mode: Literal["thread", "process"] = "thread",
        host: str = "127.0.0.1",
        port: int = 0,
        start_timeout: float = 15.0,
        **options: Any,
    ) -> None:
        if mode not in ("thread", "process"):
            raise ValueError(f"mode must be 'thread' or 'process', not {mode!r}.")
        # A store object (thread mode) stays the caller's; a path goes in the config.
        self._store = options.pop("store") if isinstance(options.get("store"), MessageStore) else None
        if app is None or isinstance(app, ChatConfig):
            self.config: ChatConfig | None = (app or ChatConfig()).replace(**options)
            self.app = None
        elif options:
            raise TypeError("Options configure a new chat server; pass them in its ChatConfig instead.")
        else:
            self.config, self.app = None, app
        if mode == "process" and self.config is None:
            raise ValueError("A process-mode server is built in the child: pass a ChatConfig, not an app.")
        self.mode = mode
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.chat: ChatServer | None = app if isinstance(app, ChatServer) else None  # thread mode
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self.started_in: float | None = None  #: seconds the last start took

    @property
    def url(self) -> str:
        """The server's address, for clients and browsers."""
        return f"http://{self.host}:{self.port}"

    @property
    def browser_url(self) -> str:
        """The address a learner's browser should open: local, or through JupyterLab's proxy.

        :func:`chat_lib.browser_address.browser_url` says how it decides.
        """
        from .browser_address import browser_url

        return browser_url(self.port, host=self.host)

    @property
    def running(self) -> bool:
        if self._thread is not None:
            return self._thread.is_alive()
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.mode} {self.url} {state}>"

    # -- start ---------------------------------------------------------------

    def start(self) -> BackgroundServer:
        """Start the server and wait until it accepts connections; returns ``self``."""
        if self.running:
            return self
        began = time.perf_counter()
        if self.mode == "thread":
            self._start_thread()
        else:
            self._start_process()
        self.started_in = time.perf_counter() - began
        _running.add(self)
        logger.info("%s started in %.2f s", self, self.started_in)
        return self

    def _start_thread(self) -> None:
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        if self.config is not None:  # a new chat server for every start: a fresh log and members
            self.chat = ChatServer(self.config, store=self._store)
        self._server = _uvicorn_server(self.chat.app if self.chat is not None else self.app, self.host)
        # uvicorn skips signal handlers outside the main thread, so Ctrl-C and
        # kernel interrupts stay with the notebook.
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"chat-server-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                raise ServerStartError("The chat server thread ended during start-up; see the log above.")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"The chat server did not start within {self.start_timeout} s.")
            time.sleep(0.01)
        self._socket = sock

    def _start_process(self) -> None:
        assert self.config is not None
        # The config goes through stdin, not the command line: every local user
        # can read a command line, and a redis_url may carry a password.
        command = [sys.executable, "-m", "chat_lib._child", self.host, str(self.port)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a kernel interrupt signals the kernel's group, not us
        )
        self._process.stdin.write(self.config.to_json().encode() + b"\n")
        self._process.stdin.flush()
        line = _read_line(self._process.stdout, self.start_timeout)
        if not line.startswith("PORT "):  # it failed, or timed out (empty line)
            self._process.kill()
            _, err = self._process.communicate(timeout=5)
            self._process = None
            message = err.decode(errors="replace").strip().splitlines()
            raise ServerStartError(message[-1] if message else "The chat server process ended during start-up.")
        self.port = int(line.split()[1])
        # Drain stderr so a chatty server never blocks on a full pipe, and keep
        # what it says (a crash's traceback) in our log.
        threading.Thread(target=_forward_to_log, args=(self._process.stderr, self.port), daemon=True).start()

    # -- stop ----------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server and wait for it (about a second at most); idempotent."""
        if self._thread is not None:
            assert self._server is not None
            self._server.should_exit = True
            self._thread.join(GRACEFUL_SHUTDOWN_SECONDS + 5)
            if self._thread.is_alive():  # pragma: no cover - uvicorn ignored should_exit
                self._server.force_exit = True
                self._thread.join(5)
            self._thread = self._server = None
            if self._socket is not None:
                self._socket.close()
                self._socket = None
            if self.config is not None and self.chat is not None:
                self.chat.close()  # a server we made; one passed in belongs to the caller
        if self._process is not None:
            if self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
                try:
                    self._process.wait(GRACEFUL_SHUTDOWN_SECONDS + 5)
                except subprocess.TimeoutExpired:  # pragma: no cover
                    self._process.kill()
                    self._process.wait()
            self._close_pipes()
        _running.discard(self)

    def kill(self) -> None:
        """Kill a process-mode server outright (SIGKILL), as a crash would."""
        if self.mode != "process":
            raise ValueError("Only a process-mode server can be killed; use stop() for a thread.")
        if self._process is not None:
            if self._process.poll() is None:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._close_pipes()
        _running.discard(self)

    def _close_pipes(self) -> None:
        assert self._process is not None
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._process = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:
        # A forgotten process-mode server would die with us anyway (lifeline);
        # this only makes it quicker.
        process = getattr(self, "_process", None)  # absent if __init__ failed
        if process is not None and process.poll() is None:
            process.kill()


def _forward_to_log(stream: Any, port: int) -> None:
    with stream:
        for line in stream:
            logger.warning("server on port %d: %s", port, line.decode(errors="replace").rstrip())


def _read_line(stream: Any, timeout: float) -> str:
    """Read one line from a child's stdout, or give up after ``timeout`` seconds."""
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode().strip() if result else ""


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()
