"""``python -m chat_lib serve`` as a separate "machine": its own address, its own empty folder (notebook 08).

A real deployment runs the chat on several machines that share nothing but
the network. On one computer we come close: every address 127.0.0.x is this
machine's loopback, so each server gets an address of its own, a working
directory of its own (an empty temporary folder: no file to share), and the
command line a reader would type on a real machine.

Like :class:`~chat_lib.lab.cluster.LocalRedis`, the command runs under a small
keeper in its own session: a kernel interrupt does not reach it, and it stops
when this process dies, however it dies.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ..errors import ServerStartError
from .cluster import LIFELINE

__all__ = ["ServeCommand"]

_LISTENING = re.compile(r"^Chat server listening on (https?)://\S+:(\d+)")


class ServeCommand:
    """``python -m chat_lib serve --host HOST --port 0 [options]`` in an empty folder; a context manager.

    :param host: the address to serve on, e.g. ``"127.0.0.2"``.
    :param options: more command-line words, e.g. ``["--redis-url", url]``.

    Example::

        with ServeCommand("127.0.0.2", ["--redis-url", redis.url]) as machine:
            print(machine.url)     # http://127.0.0.2:41234

    Introduced in notebook 08.
    """

    def __init__(self, host: str = "127.0.0.1", options: list[str] | None = None) -> None:
        self.host = host
        self.options = list(options or [])
        self.port: int | None = None
        self.scheme = "http"
        self.folder: Path | None = None
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return ["python", "-m", "chat_lib", "serve", "--host", self.host, "--port", "0", *self.options]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def stderr(self) -> str:
        """What the server wrote to stderr so far (warnings, tracebacks)."""
        return (self.folder / "stderr.log").read_text() if self.folder and self.folder.exists() else ""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __repr__(self) -> str:
        return f"<ServeCommand {self.url if self.port else self.host} {'running' if self.running else 'stopped'}>"

    def start(self, timeout: float = 15.0) -> ServeCommand:
        if self.running:
            return self
        self._tempdir = tempfile.TemporaryDirectory(prefix="chat_lib-machine-")
        self.folder = Path(self._tempdir.name)
        # What the server says on stderr goes to a file: a pipe nobody reads would fill and stop it.
        with open(self.folder / "stderr.log", "w") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", LIFELINE, sys.executable, *self.command[1:]],
                cwd=self.folder, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True, text=True,
            )
        line = _read_line(self._process.stdout, timeout)
        match = _LISTENING.match(line)
        if match is None:
            os.killpg(self._process.pid, signal.SIGKILL)  # the keeper and the server, its own group
            self._process.communicate(timeout=5)
            self._process = None
            error = (self.folder / "stderr.log").read_text()
            self._tempdir.cleanup()
            lines = (error or line or "no output").strip().splitlines()
            raise ServerStartError(f"python -m chat_lib serve did not start on {self.host}: {lines[-1]}")
        self.scheme, self.port = match[1], int(match[2])
        return self

    def stop(self) -> None:
        """Stop the server (as Ctrl-C would) and remove its folder; idempotent."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # the keeper stops the server, then itself
        try:
            self._process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.communicate()
        self._process = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> ServeCommand:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_line(stream, timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""
