"""The servers and the Node client of the side-by-side benchmark (:mod:`chat_lib.lab.compare`).

Four servers, each in a process of its own, so that ``psutil`` can read its
CPU time and memory and the clients do not share its interpreter:

* ``plain`` - the tutorial's ten-line python-socketio server
  (:func:`chat_lib.tutorial.create_tutorial_app`), the reference of every ratio;
* ``chat_memory`` and ``chat_disk`` - :class:`~chat_lib.server.ChatServer`
  with presence on and the rate limit off, its log in memory or in a SQLite file;
* ``node`` - the Node.js app the series ports (express 4 + socket.io 4,
  ``bench/node_seed/index.js``), when ``node`` is on the PATH.

The Python ones run through :mod:`chat_lib.lab.serve_app`. :func:`run_node_load`
drives the official socket.io-client in Node (``bench/node_client/load.js``).

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import psutil

from ..config import ChatConfig
from ..errors import ServerStartError

__all__ = ["BENCH_CHAT", "SERVERS", "ServerProcess", "ServerSpec", "node_versions", "npm_install", "run_node_load"]

logger = logging.getLogger("chat_lib.lab.compare_servers")


@dataclass(frozen=True)
class ServerSpec:
    """One server of the comparison: a name for tables and files, a label for people, what to run.

    :param app: ``"tutorial"`` or ``"chat"`` (Python, :mod:`~chat_lib.lab.serve_app`) or ``"node"``.
    :param config: the chat server's options; ``store=""`` means a new SQLite file for each start.
    """

    name: str
    label: str
    app: Literal["tutorial", "chat", "node"]
    config: ChatConfig | None = None


#: ChatServer as issue 13 measures it: presence on, rate limit off; and no cap on sessions per
#: address, since all the benchmark's clients come from 127.0.0.1.
BENCH_CHAT = ChatConfig(rate_limit=None, max_sessions_per_address=None)

#: The servers compared, in table order; ``plain`` is the reference.
SERVERS = (
    ServerSpec("plain", "plain python-socketio", "tutorial"),
    ServerSpec("chat_memory", "ChatServer, log in memory", "chat", BENCH_CHAT),
    ServerSpec("chat_disk", "ChatServer, log on disk", "chat", BENCH_CHAT.replace(store="")),
    ServerSpec("node", "Node seed app", "node"),
)


class ServerProcess:
    """A server of the comparison in its own process; a context manager.

    It prints ``PORT n`` once it accepts connections (both runners do), runs in
    its own session, and exits when its stdin closes. :meth:`cpu_seconds` and
    :meth:`rss_bytes` read the process with ``psutil``.

    :param spec: what to run.
    :param node_seed_dir: the folder holding the Node app's ``index.js`` (and ``node_modules``).
    """

    def __init__(self, spec: ServerSpec, *, node_seed_dir: Path | None = None, start_timeout: float = 30.0) -> None:
        self.spec = spec
        self.node_seed_dir = node_seed_dir
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._process: subprocess.Popen | None = None
        self._psutil: psutil.Process | None = None
        self._folder: tempfile.TemporaryDirectory | None = None
        self.errors: deque[str] = deque(maxlen=20)  #: the last lines the server wrote to stderr

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _command(self) -> tuple[list[str], Path | None]:
        if self.spec.app == "node":
            if self.node_seed_dir is None or shutil.which("node") is None:
                raise ServerStartError("The Node seed app needs node on the PATH and its folder (bench/node_seed).")
            return [shutil.which("node"), "index.js", "0"], self.node_seed_dir
        command = [sys.executable, "-m", "chat_lib.lab.serve_app", self.spec.app, "127.0.0.1", "0"]
        if self.spec.app == "chat":
            config = self.spec.config or BENCH_CHAT
            if config.store == "":  # a fresh log file for each start
                self._folder = tempfile.TemporaryDirectory(prefix="side-by-side-")
                config = config.replace(store=str(Path(self._folder.name) / "chat.sqlite3"))
            command.append(config.to_json())
        return command, None

    def start(self) -> ServerProcess:
        command, cwd = self._command()
        self._process = subprocess.Popen(
            command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal or kernel reaches us, and we stop it
        )
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = _read_line(self._process.stdout, self.start_timeout)
        if not line.startswith("PORT "):
            self.stop()
            said = " ".join(self.errors) or "nothing"
            raise ServerStartError(f"{self.spec.label} did not start within {self.start_timeout} s; it said: {said}")
        self.port = int(line.split()[1])
        self._psutil = psutil.Process(self._process.pid)
        return self

    def _drain_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        with contextlib.suppress(ValueError, OSError):  # closed by stop()
            for raw in self._process.stderr:
                self.errors.append(raw.decode(errors="replace").rstrip())

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used so far."""
        assert self._psutil is not None, "start() the server first"
        times = self._psutil.cpu_times()
        return times.user + times.system

    def rss_bytes(self) -> int:
        """The server's resident memory now."""
        assert self._psutil is not None, "start() the server first"
        return self._psutil.memory_info().rss

    def stop(self) -> None:
        """SIGTERM, a few seconds' grace, then SIGKILL; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(6)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for pipe in (process.stdin, process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_line(stream: Any, timeout: float) -> str:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0].decode().strip() if result else ""


def npm_install(folder: Path, timeout: float = 300.0) -> str | None:
    """``npm install`` in ``folder``; ``None`` when it worked, else why not (a sentence)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return "node and npm are not on the PATH"
    try:
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], check=False, cwd=folder,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"npm install in {folder} did not finish within {timeout:.0f} s"
    if done.returncode != 0:
        return f"npm install in {folder} failed: {done.stderr.strip()[-500:]}"
    return None


def node_versions(*folders: Path) -> dict[str, str | None]:
    """Node's version and those of the npm packages installed in ``folders``."""
    versions: dict[str, str | None] = {}
    node = shutil.which("node")
    if node is not None:
        answer = subprocess.run([node, "--version"], check=False, capture_output=True, text=True, timeout=30)
        versions["node"] = answer.stdout.strip()
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            wanted = json.loads((folder / "package.json").read_text()).get("dependencies", {})
            for package in wanted:
                installed = folder / "node_modules" / package / "package.json"
                versions[package] = json.loads(installed.read_text())["version"] if installed.exists() else None
    return versions


async def run_node_load(
    client_dir: Path,
    mode: Literal["throughput", "burst", "fanout"],
    url: str,
    options: dict[str, Any],
    limit: float,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    on_connected: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Run ``load.js`` in ``client_dir``; its result, or why there is none, within ``limit`` seconds.

    :param mode: what ``load.js`` does (its header says).
    :param options: its options (JSON); ``timeout`` defaults to ``limit``.
    :param on_progress: called with (done, total) as the script reports.
    :param on_connected: awaited when the fan-out receivers are all connected (measure the server then).
    :returns: the script's result, with ``completed``; on a time-out ``{"completed": False, "timed_out": True}``
              plus the last progress seen.
    """
    node = shutil.which("node")
    if node is None:
        return {"completed": False, "error": "node is not on the PATH"}
    options = {"timeout": limit, **options}
    process = await asyncio.create_subprocess_exec(
        node, "load.js", mode, url, json.dumps(options), cwd=client_dir,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True, limit=2**20,
    )
    deadline = time.monotonic() + limit + 15  # the script bounds itself; this is the backstop
    progress: dict[str, Any] = {}
    try:
        while True:
            try:
                raw = await asyncio.wait_for(process.stdout.readline(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                return {"completed": False, "timed_out": True, **progress}
            if not raw:
                error = (await process.stderr.read()).decode(errors="replace").strip()
                return {"completed": False, "error": error[-800:] or "load.js ended without a result", **progress}
            line = json.loads(raw)
            if "progress" in line:
                progress = {"progress": line["progress"], "total": line["total"]}
                if on_progress is not None:
                    on_progress(line["progress"], line["total"])
            elif "connected" in line:
                if on_connected is not None:
                    await on_connected()
                process.stdin.write(b"go\n")
                await process.stdin.drain()
            elif "error" in line:
                return {"completed": False, "error": line["error"][-800:], **progress}
            elif "result" in line:
                return {"completed": True, **line["result"]} if "completed" not in line["result"] else line["result"]
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
