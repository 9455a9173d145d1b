"""The Socket.IO tutorial's final client, the real socket.io-client in Node, against ``python -m chat_lib serve``.

The tutorial's last chapters (issue 16) send ``'chat message'`` with ``(text,
clientOffset)`` and an acknowledgement, with ``ackTimeout`` and ``retries``,
connect with ``auth: {serverOffset}`` and expect broadcasts ``(text, offset)``.
``tests/node/tutorial_client.js`` runs those lines; these tests start the real
server command on 127.0.0.1 with a real SQLite file, drive two or three such
clients, and read what each one saw (JSON lines on its stdout).

Node and ``npm ci --prefix tests/node`` are needed; without node the tests are
skipped, unless ``CHAT_LIB_REQUIRE_NODE=1`` (as in ``.ci/run``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).parent / "node"
CLIENT_JS = NODE_DIR / "tutorial_client.js"
NODE_REQUIRED = os.environ.get("CHAT_LIB_REQUIRE_NODE") == "1"
LISTENING = re.compile(r"^Chat server listening on http://\S+:(\d+)")
POLICY = "(the refusal policy is written in chat_lib/protocol.py)"

pytestmark = pytest.mark.timeout(90)


def _unavailable(reason: str) -> None:
    if NODE_REQUIRED:
        pytest.fail(f"{reason} (required here: CHAT_LIB_REQUIRE_NODE=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> str:
    """Path of ``node``, with tests/node's socket.io-client installed (``npm ci`` once if needed)."""
    node_path = shutil.which("node")
    if node_path is None:
        _unavailable("node is not installed (Node.js 18 or newer runs the tutorial's client)")
    if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("tests/node has no node_modules and npm is missing: run npm ci --prefix tests/node")
        try:
            result = subprocess.run(
                [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
                capture_output=True, text=True, timeout=180,
            )
        except subprocess.TimeoutExpired:
            _unavailable("npm ci --prefix tests/node took more than 180 s")
        if result.returncode != 0:
            _unavailable(f"npm ci --prefix tests/node failed: {result.stderr.strip()[-500:]}")
    return node_path


# -- the server: the command a reader types -------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_SERVE_HELP: str | None = None


def _serve_options() -> list[str]:
    """Short pings when the command offers them: clients notice a dead server sooner."""
    global _SERVE_HELP
    if _SERVE_HELP is None:
        _SERVE_HELP = subprocess.run(
            [sys.executable, "-m", "chat_lib", "serve", "--help"], capture_output=True, text=True, timeout=30
        ).stdout
    return ["--ping-interval", "2"] if "--ping-interval" in _SERVE_HELP else []


class Server:
    """``python -m chat_lib serve --store FILE --port P``, which a test can kill -9 and start again."""

    def __init__(self, store: Path, port: int, log: Path) -> None:
        self.store, self.port, self.log = store, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 20) -> None:
        with open(self.log, "a") as log:
            log.write(f"--- start {self.starts + 1}\n")
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chat_lib", "serve", "--store", str(self.store),
                 "--port", str(self.port), *_serve_options()],
                stdout=subprocess.PIPE, stderr=log, text=True,
                start_new_session=True,  # its own process group: kill -9 takes all of it
            )
        self.starts += 1
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: lines.put(self.process.stdout.readline()), daemon=True)
        reader.start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if not LISTENING.match(line):
            self.kill()
            reader.join(5)
            raise AssertionError(f"the server did not start on port {self.port}: {line!r}\n{self.log_tail()}")
        reader.join(5)

    def kill(self) -> None:
        """kill -9 the server's whole process group, and reap it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process = None

    def stop(self) -> None:
        """Ctrl-C, as a reader would; kill -9 if it does not go within 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def log_tail(self, chars: int = 2000) -> str:
        return "server stderr:\n" + self.log.read_text()[-chars:] if self.log.exists() else ""


@contextmanager
def chat_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "chat.sqlite3", _free_port(), tmp_path / "server.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


# -- the tutorial's client, in node ---------------------------------------------------


class TutorialClient:
    """One ``node tests/node/tutorial_client.js`` process and everything it reported."""

    def __init__(self, node: str, url: str, name: str, server_offset: int = 0, counter_start: int = 0) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [node, str(CLIENT_JS), url, "--server-offset", str(server_offset),
             "--counter-start", str(counter_start), "--max-seconds", "80"],
            cwd=NODE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.events: list[dict] = []
        self._changed = threading.Condition()
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_events, name=f"{name}-stdout", daemon=True),
            threading.Thread(
                target=lambda: self._stderr.extend(self.process.stderr), name=f"{name}-stderr", daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"event": "unparsed", "line": line}
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def command(self, cmd: str, **fields) -> None:
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.process.stdin.flush()

    def send(self, text: str) -> None:
        self.command("send", text=text)

    def of(self, kind: str) -> list[dict]:
        with self._changed:
            return [e for e in self.events if e["event"] == kind]

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``ready()`` (True) or ``timeout`` seconds or this client's end (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ready():
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None and not self._readers[0].is_alive():
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        """Wait until ``ready()``; fail with ``what`` and this client's story after ``timeout`` s."""
        if not self.wait_until(ready, timeout):
            raise AssertionError(f"{self.name}: {what} did not happen within {timeout} s.\n{self.story()}")

    def wait_connects(self, count: int, timeout: float = 20) -> None:
        self.wait_for(f"connection #{count}", lambda: len(self.of("connect")) >= count, timeout)

    def messages(self) -> list[tuple[str, int]]:
        return [(e["text"], e["offset"]) for e in self.of("message")]

    def acks(self) -> list[dict]:
        return self.of("ack")

    def story(self, last: int = 12) -> str:
        with self._changed:
            lines = [json.dumps({k: _short(v) for k, v in e.items()})[:300] for e in self.events[-last:]]
        refusals = {json.dumps(a.get("args"))[:200] for a in self.acks() if not _accepted(a)}
        text = "\n  ".join(lines)
        out = f"last events of {self.name}:\n  {text}"
        if refusals:
            out += f"\n  acks that were not ok: {sorted(refusals)[:3]}"
        if self._stderr:
            out += "\n  node stderr: " + "".join(self._stderr)[-800:]
        return out

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                try:
                    self.command("exit")
                except (BrokenPipeError, OSError):
                    pass
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=5)
            for reader in self._readers:
                reader.join(5)
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                try:
                    stream.close()
                except (BrokenPipeError, OSError):
                    pass


def _short(value: object) -> object:
    return value[:40] + f"...({len(value)} chars)" if isinstance(value, str) and len(value) > 60 else value


def _accepted(ack: dict) -> bool:
    """An acknowledgement that says the message was stored: ``{"ok": true, "offset": n, ...}``."""
    args = ack.get("args") or []
    return ack.get("err") is None and bool(args) and isinstance(args[0], dict) and args[0].get("ok") is True


def _check_accepted(client: TutorialClient, acks: list[dict]) -> None:
    refused = [a for a in acks if not _accepted(a)]
    assert not refused, (
        f"{client.name}: the server did not accept {len(refused)} of {len(acks)} tutorial emits "
        f"('chat message', text, clientOffset, ack); first ack: err={refused[0].get('err')!r}, "
        f"args={refused[0].get('args')!r}. The tutorial's final protocol is not supported yet (issue 16)."
    )


def _send_and_wait_acks(client: TutorialClient, texts: list[str], timeout: float = 15) -> list[dict]:
    before = len(client.acks())
    for text in texts:
        client.send(text)
    client.wait_for(f"acks for {len(texts)} messages", lambda: len(client.acks()) >= before + len(texts), timeout)
    acks = client.acks()[before:]
    _check_accepted(client, acks)
    return acks


@pytest.fixture
def clients(node: str) -> Iterator[Callable[..., TutorialClient]]:
    """A factory of tutorial clients; every one is stopped and reaped at the end."""
    with ExitStack() as stack:
        def start(url: str, name: str, **options) -> TutorialClient:
            client = TutorialClient(node, url, name, **options)
            stack.callback(client.close)
            return client

        yield start


# -- the drill ------------------------------------------------------------------------

TYPISTS = ("ada", "bob")
MESSAGES_EACH = 80
EVERY_MS = 100
KILL_AT = (2.5, 5.5)  # seconds into the typing
AUDIT_END = "audit-end"  # the auditor's own message, after the drill


def _figures(client: TutorialClient, everything: set[str]) -> dict:
    mine = [e["text"] for e in client.of("sent")]
    acks = client.acks()
    received = Counter(text for text, _ in client.messages())
    return {
        "sent": len(mine),
        "acked": sum(_accepted(a) for a in acks),
        "refused or gave up": sum(not _accepted(a) for a in acks),
        "received": sum(received[t] > 0 for t in everything),
        "of": len(everything),
        "lost": sum(received[t] == 0 for t in everything),
        "duplicated": sum(n - 1 for n in received.values() if n > 1),
        "foreign": sum(n for t, n in received.items() if t not in everything and t != AUDIT_END),
        "connects": len(client.of("connect")),
    }


def test_tutorial_clients_lose_nothing_through_two_kill_9_restarts(tmp_path, clients):
    """Two people type ten messages a second; the server is killed (-9) twice and comes back on the same log."""
    everything = {f"{name}-{i}" for name in TYPISTS for i in range(MESSAGES_EACH)}
    with chat_server(tmp_path) as server:
        # Counters apart: offline, the tutorial's clientOffset is "undefined-N" for both.
        typists = [clients(server.url, name, counter_start=k * 1_000_000) for k, name in enumerate(TYPISTS)]
        for typist in typists:
            typist.wait_connects(1)
        started = time.monotonic()
        for typist in typists:
            typist.command("type", count=MESSAGES_EACH, every=EVERY_MS, prefix=typist.name)
        for restart, at in enumerate(KILL_AT, start=2):
            time.sleep(max(0.0, started + at - time.monotonic()))
            server.kill()
            server.start()
            for typist in typists:
                typist.wait_connects(restart, timeout=20)
        for typist in typists:
            typing_seconds = MESSAGES_EACH * EVERY_MS / 1000
            typist.wait_for("typing", lambda t=typist: bool(t.of("typed")), timeout=typing_seconds + 10)
        # Figures first, assertions after: a failure shows the whole table.
        for typist in typists:
            typist.wait_until(lambda t=typist: len(t.acks()) >= MESSAGES_EACH, timeout=25)
        if all(_accepted(a) for t in typists for a in t.acks()):
            for typist in typists:
                typist.wait_until(lambda t=typist: everything <= {text for text, _ in t.messages()}, timeout=10)
            # What the log holds, as a newcomer replaying from 0 sees it: up to a
            # last message of its own, which comes after everything stored before.
            auditor = clients(server.url, "auditor", counter_start=2_000_000)
            auditor.wait_connects(1)
            _send_and_wait_acks(auditor, [AUDIT_END])
            auditor.wait_for("its own message", lambda: AUDIT_END in {t for t, _ in auditor.messages()}, timeout=10)

    figures = {t.name: _figures(t, everything) for t in typists}
    table = "\n".join(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in row.items()) for name, row in figures.items())
    print(f"\ndrill, {MESSAGES_EACH} messages each every {EVERY_MS} ms, kill -9 at {KILL_AT} s:\n{table}")
    for typist in typists:
        _check_accepted(typist, typist.acks())
    for typist in typists:
        row = figures[typist.name]
        assert row["sent"] == MESSAGES_EACH and row["acked"] == MESSAGES_EACH, f"{typist.name}: {row}"
        assert row["lost"] == 0 and row["duplicated"] == 0 and row["foreign"] == 0, f"{typist.name}: {row}"
        offsets = [offset for _, offset in typist.messages()]
        assert offsets == sorted(set(offsets)), f"{typist.name} received offsets out of order or twice: {offsets}"

    # Every client saw the same offset for a message; the log holds each once.
    offset_of: dict[str, int] = {}
    for typist in typists:
        for text, offset in typist.messages():
            assert offset_of.setdefault(text, offset) == offset, f"{text!r} came with two offsets"
    log = auditor.messages()
    stored = Counter(text for text, _ in log)
    assert {t for t in stored if t != AUDIT_END} == everything, "the log is missing messages or has others"
    assert [t for t, n in stored.items() if n > 1] == [], "messages stored more than once"
    assert [o for _, o in log] == sorted({o for _, o in log}), "the replay is out of order"
    assert all(offset_of[t] == o for t, o in log if t != AUDIT_END), "the replay's offsets differ from the live ones"


# -- a refused message ----------------------------------------------------------------


def test_refused_message_reaches_nobody_and_the_sender_can_tell(tmp_path, clients):
    too_long = "x" * 5000  # the limit is 4096 bytes
    with chat_server(tmp_path) as server:
        ada = clients(server.url, "ada")
        bob = clients(server.url, "bob")
        ada.wait_connects(1)
        bob.wait_connects(1)

        ada.send(too_long)
        ada.wait_for("an ack for the long message", lambda: len(ada.acks()) >= 1, timeout=15)
        ack = ada.acks()[0]
        assert ack["err"] is None, f"the long message was not acknowledged at all: {ack['err']!r}"
        answer = ack["args"][0] if ack["args"] else None
        assert isinstance(answer, dict) and answer.get("ok") is False and answer.get("error"), (
            f"a refused message must be acknowledged with {{'ok': false, 'error': ...}}, got {ack['args']!r} {POLICY}"
        )
        ada.wait_for("a 'chat error' event", lambda: bool(ada.of("chat error")), timeout=10)
        payload = ada.of("chat error")[0]["payload"]
        assert payload.get("event") == "chat message" and payload.get("error"), payload

        _send_and_wait_acks(ada, ["after the long one"])
        for client in (ada, bob):
            client.wait_for(
                "the message after the long one",
                lambda c=client: "after the long one" in {t for t, _ in c.messages()},
                timeout=10,
            )
            texts = [t for t, _ in client.messages()]
            assert texts == ["after the long one"], f"{client.name} received {[t[:40] for t in texts]}"


# -- catch-up -------------------------------------------------------------------------


def test_serverOffset_replays_exactly_the_messages_after_it_then_live_ones(tmp_path, clients):
    with chat_server(tmp_path) as server:
        ada = clients(server.url, "ada")
        ada.wait_connects(1)
        acks = _send_and_wait_acks(ada, [f"before-{i}" for i in range(5)])
        offsets = [a["args"][0]["offset"] for a in acks]
        assert offsets == sorted(set(offsets)), f"acknowledged offsets: {offsets}"
        seen = offsets[1]  # the newcomer saw the first two

        cat = clients(server.url, "cat", server_offset=seen)
        cat.wait_connects(1)
        expected = [(f"before-{i}", offsets[i]) for i in range(2, 5)]
        cat.wait_for("the catch-up", lambda: len(cat.messages()) >= 3, timeout=10)
        live = _send_and_wait_acks(ada, ["live"])[0]["args"][0]["offset"]
        cat.wait_for("the live message", lambda: ("live", live) in cat.messages(), timeout=10)
        assert cat.messages() == [*expected, ("live", live)]
