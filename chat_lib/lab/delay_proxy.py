"""A loopback TCP proxy that adds network delay, counts traffic, and can refuse WebSocket.

On one machine every packet arrives in microseconds, so long-polling and
WebSocket look alike. :class:`DelayProxy` sits between a client and the chat
server (both on 127.0.0.1) and holds every chunk of bytes for a configurable
one-way ``delay`` in each direction, the way a real network does: a round trip
then costs ``2 * delay``, and a transport that needs more round trips for a
message pays for each of them.

While it forwards, it follows the HTTP/1.1 conversation in both directions
(requests, responses, their bodies, and the WebSocket frames after an upgrade),
so it can tell how many bytes, HTTP requests and WebSocket frames a message
costs: :attr:`DelayProxy.stats`.

With ``block_websocket=True`` it answers every HTTP request that asks for
``Upgrade: websocket`` with ``403 Forbidden`` and closes the connection, as
some corporate proxies do; clients must then fall back to long-polling.

The proxy runs on its own event loop in a background thread, so it works the
same from a script, a test or a notebook cell (which already has a loop).

Introduced in notebook 04.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import asdict, dataclass

from ..background import bind_socket

__all__ = ["DelayProxy", "ProxyStats"]

logger = logging.getLogger("chat_lib.lab.delay_proxy")

_FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 31\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"WebSocket is blocked by proxy.\n"
)
_READ_SIZE = 65536


@dataclass
class ProxyStats:
    """Traffic through a :class:`DelayProxy` since it started (or since :meth:`DelayProxy.reset_stats`).

    "Up" is client to server, "down" is server to client. Bytes are TCP payload
    bytes: HTTP heads and bodies, WebSocket frame headers and payloads.
    """

    connections: int = 0  #: TCP connections accepted
    bytes_up: int = 0
    bytes_down: int = 0
    http_requests: int = 0  #: HTTP request heads sent by clients
    http_responses: int = 0  #: HTTP response heads sent by the server
    websocket_upgrades: int = 0  #: ``101 Switching Protocols`` answers
    ws_frames_up: int = 0  #: WebSocket frames sent by clients
    ws_frames_down: int = 0  #: WebSocket frames sent by the server
    refused_upgrades: int = 0  #: upgrade requests answered with 403 (``block_websocket``)

    @property
    def bytes_total(self) -> int:
        return self.bytes_up + self.bytes_down

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __sub__(self, other: ProxyStats) -> ProxyStats:
        """Traffic between two snapshots: ``after - before``."""
        return ProxyStats(**{name: value - getattr(other, name) for name, value in asdict(self).items()})


class _Blocked(Exception):
    """A client asked for a WebSocket upgrade and the proxy refuses it."""

    def __init__(self, allowed: bytes) -> None:
        super().__init__("WebSocket upgrade refused")
        self.allowed = allowed  # what came before the refused request, still to forward


class _HttpFollower:
    """Follows one direction of an HTTP/1.1 connection, counting what passes.

    It parses message heads, skips bodies (``Content-Length`` or chunked) and,
    after an upgrade, WebSocket frame headers. It never changes the bytes; with
    ``hold_heads`` it holds back an incomplete request head so that a refused
    upgrade request never reaches the server.
    """

    def __init__(self, *, requests: bool, stats: ProxyStats, block_websocket: bool = False) -> None:
        self.requests = requests  # True: client to server; False: server to client
        self.stats = stats
        self.block_websocket = block_websocket and requests
        self._buffer = bytearray()  # unparsed bytes (a head, a chunk-size line, a frame header)
        self._state = "head"  # head | body | chunk-size | chunk-data | trailer | websocket | frame | raw
        self._remaining = 0  # bytes left in a body, chunk or frame payload
        self._refused = False  # the head just parsed is a refused upgrade request

    def feed(self, data: bytes) -> bytes:
        """Account for ``data``; return the bytes to forward now.

        That is all of ``data``, unless ``block_websocket`` makes it hold back
        an incomplete request head. Raises :class:`_Blocked` on a refused upgrade.
        """
        if self.requests:
            self.stats.bytes_up += len(data)
        else:
            self.stats.bytes_down += len(data)
        buffer = self._buffer
        buffer += data
        position = 0
        while position < len(buffer):
            if self._state in ("body", "chunk-data", "frame"):
                taken = min(self._remaining, len(buffer) - position)
                position += taken
                self._remaining -= taken
                if self._remaining == 0:
                    self._state = {"body": "head", "chunk-data": "chunk-size", "frame": "websocket"}[self._state]
                continue
            if self._state == "raw":  # a response delimited by the connection's end
                position = len(buffer)
                break
            used = self._parse_unit(position)
            if used is None:  # incomplete: wait for more bytes
                break
            if self._refused:
                raise _Blocked(bytes(buffer[:position]))
            position += used
        consumed = bytes(buffer[:position])
        del buffer[:position]
        return consumed if self.block_websocket else data

    def _parse_unit(self, start: int) -> int | None:
        """Parse a head, chunk-size line or frame header at ``start``; its length, or ``None`` if incomplete."""
        buffer = self._buffer
        if self._state == "head":
            end = buffer.find(b"\r\n\r\n", start)
            if end < 0:
                return None
            self._on_head(bytes(buffer[start : end + 4]))
            return end + 4 - start
        if self._state in ("chunk-size", "trailer"):
            end = buffer.find(b"\r\n", start)
            if end < 0:
                return None
            line = bytes(buffer[start:end])
            if self._state == "trailer":
                if not line:
                    self._state = "head"
            else:
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self._state = "trailer"
                else:
                    self._state, self._remaining = "chunk-data", size + 2  # the chunk and its CRLF
            return end + 2 - start
        if self._state == "websocket":
            if len(buffer) - start < 2:
                return None
            masked, length = buffer[start + 1] & 0x80, buffer[start + 1] & 0x7F
            header = 2 + {126: 2, 127: 8}.get(length, 0) + (4 if masked else 0)
            if len(buffer) - start < header:
                return None
            if length == 126:
                length = int.from_bytes(buffer[start + 2 : start + 4], "big")
            elif length == 127:
                length = int.from_bytes(buffer[start + 2 : start + 10], "big")
            if self.requests:
                self.stats.ws_frames_up += 1
            else:
                self.stats.ws_frames_down += 1
            if length:
                self._state, self._remaining = "frame", length
            return header
        raise AssertionError(f"unexpected parser state {self._state}")  # pragma: no cover

    def _on_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip().lower()
        upgrade = headers.get("upgrade") == "websocket"
        if self.requests:
            self.stats.http_requests += 1
            if upgrade:
                if self.block_websocket:
                    self._refused = True
                    self.stats.refused_upgrades += 1
                    return
                # The client sends frames only after the server's 101.
                self._state = "websocket"
                return
        else:
            self.stats.http_responses += 1
            status = int(lines[0].split()[1]) if len(lines[0].split()) > 1 else 0
            if status == 101:
                self.stats.websocket_upgrades += 1
                self._state = "websocket"
                return
            if 100 <= status < 200 or status in (204, 304):
                return
        if "chunked" in headers.get("transfer-encoding", ""):
            self._state = "chunk-size"
        elif int(headers.get("content-length", "0") or 0) > 0:
            self._state, self._remaining = "body", int(headers["content-length"])
        elif not self.requests and "content-length" not in headers:
            self._state = "raw"  # the body ends when the connection does


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delays, counts, and optionally blocks WebSocket.

    :param target: the server's ``"http://host:port"`` URL or a ``(host, port)`` pair.
    :param delay: one-way delay in seconds, added in each direction (a round
                  trip gains ``2 * delay``, and the first bytes of a new TCP
                  connection wait one more round trip, for the handshake).
                  Can be changed while running.
    :param block_websocket: answer HTTP requests carrying ``Upgrade: websocket``
                            with ``403 Forbidden`` and close the connection.
    :param host: address to listen on.
    :param port: port to listen on; ``0`` picks a free one.

    Example::

        with BackgroundServer() as server, DelayProxy(server.url, delay=0.05) as proxy:
            async with ChatClient(proxy.url, transport="polling") as client:
                await client.send("hello")         # about 100 ms per round trip
            print(proxy.stats.http_requests)

    Introduced in notebook 04.
    """

    def __init__(
        self,
        target: str | tuple[str, int],
        *,
        delay: float = 0.0,
        block_websocket: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if isinstance(target, str):
            address = target.split("://", 1)[-1].rstrip("/")
            target_host, _, target_port = address.rpartition(":")
            if not target_host or not target_port.isdigit():
                raise ValueError(f"target must look like 'http://127.0.0.1:3000', not {target!r}.")
            target = (target_host, int(target_port))
        if delay < 0:
            raise ValueError("delay must be zero or more seconds.")
        self.target = target
        self.delay = delay
        self.block_websocket = block_websocket
        self.host = host
        self.port = port
        self.stats = ProxyStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The address clients should connect to instead of the server's."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        blocked = " block_websocket" if self.block_websocket else ""
        target = f"{self.target[0]}:{self.target[1]}"
        return f"<DelayProxy {self.url} -> {target} delay={self.delay * 1000:g} ms{blocked} {state}>"

    def reset_stats(self) -> ProxyStats:
        """Start counting afresh; returns the counts so far."""
        old, self.stats = self.stats, ProxyStats()
        return old

    # -- start and stop ------------------------------------------------------------

    def start(self) -> DelayProxy:
        """Start listening; returns ``self``."""
        if self.running:
            return self
        sock = bind_socket(self.host, self.port)  # IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, sock=sock))
            except BaseException as exc:  # pragma: no cover - reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name=f"delay-proxy-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        logger.info("%r started", self)
        return self

    def stop(self) -> None:
        """Close every connection and stop; idempotent."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
            self._loop = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- forwarding -----------------------------------------------------------------

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        server_writer = None
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
            for writer in (client_writer, server_writer):
                self._writers.add(writer)
                # Nagle plus delayed ACK would add ~40 ms to small HTTP exchanges.
                writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up = _HttpFollower(requests=True, stats=self.stats, block_websocket=self.block_websocket)
            down = _HttpFollower(requests=False, stats=self.stats)
            await asyncio.gather(
                self._pump(client_reader, server_writer, up, reply_to=client_writer, new_connection=True),
                self._pump(server_reader, client_writer, down),
            )
        except (ConnectionError, OSError) as exc:
            logger.debug("proxy connection ended: %s", exc)
        except asyncio.CancelledError:
            # stop() cancels open connections; end quietly, since asyncio's
            # stream callback would log a cancelled handler as an error.
            pass
        finally:
            for writer in (client_writer, server_writer):
                if writer is not None:
                    writer.close()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        follower: _HttpFollower,
        reply_to: asyncio.StreamWriter | None = None,
        new_connection: bool = False,
    ) -> None:
        """Copy ``reader`` to ``writer``, each chunk ``self.delay`` seconds after it arrived.

        With ``new_connection``, the first chunk waits another round trip: on a
        real network the client could send it only after the TCP handshake
        (SYN, SYN-ACK), which loopback completes at once.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def deliver() -> None:
            # A separate task, so chunks in flight overlap as on a real link:
            # the delay is latency, not a limit on throughput.
            while True:
                due, chunk = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if chunk is None:
                    break
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()

        delivering = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(_READ_SIZE)
                except ConnectionError:
                    data = b""
                if not data:
                    break
                # reset_stats() swaps the object; open connections count into the new one.
                follower.stats = self.stats
                try:
                    chunk = follower.feed(data)
                except _Blocked as blocked:
                    if blocked.allowed:
                        queue.put_nowait((loop.time() + self.delay, blocked.allowed))
                    queue.put_nowait((loop.time() + self.delay, None))
                    await delivering
                    await self._refuse(reply_to)
                    writer.close()
                    return
                if chunk:
                    handshake = 2 * self.delay if new_connection else 0.0
                    new_connection = False
                    queue.put_nowait((loop.time() + self.delay + handshake, chunk))
            queue.put_nowait((loop.time() + self.delay, None))
            await delivering
        finally:
            if not delivering.done():
                delivering.cancel()

    async def _refuse(self, client_writer: asyncio.StreamWriter | None) -> None:
        if client_writer is None:  # pragma: no cover
            return
        await asyncio.sleep(2 * self.delay)  # the 403 comes back over the same slow network
        client_writer.write(_FORBIDDEN)
        await client_writer.drain()
        client_writer.close()
