"""A wire tap: a TCP relay that keeps a copy of every byte, to look at what travels (notebook 08).

Notebook 01 read ``ws://`` frames in the clear. :class:`WireTap` sits between
a client and a server on 127.0.0.1, forwards bytes both ways unchanged, and
keeps what each side sent, so the same check runs on ``ws://`` and on
``wss://``: is the chat's text on the wire? :func:`tls_record_types` reads
the TLS record headers of a ``wss://`` conversation: after the handshake
(type 22) every record is application data (type 23), ciphertext.

The tap runs on the event loop of the caller (a notebook cell or a test).

Introduced in notebook 08.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["WireTap", "tls_record_types"]


class WireTap:
    """A recording TCP relay to ``host:port``; an async context manager.

    :param host: the server's address.
    :param port: the server's port.

    Example::

        async with WireTap("127.0.0.1", server.port) as tap:
            ...  # connect a client to f"http://127.0.0.1:{tap.port}"
        b"hello" in tap.from_server

    Introduced in notebook 08.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.target_port = host, port
        self.port: int | None = None
        self.from_client = bytearray()  #: every byte the clients sent, in order
        self.from_server = bytearray()  #: every byte the server sent, in order
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()

    def __repr__(self) -> str:
        return f"<WireTap 127.0.0.1:{self.port} -> {self.host}:{self.target_port}>"

    async def start(self) -> WireTap:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and close every relayed connection; idempotent."""
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> WireTap:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            server_reader, server_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            client_writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(
                _copy(client_reader, server_writer, self.from_client),
                _copy(server_reader, client_writer, self.from_server),
            )
        except asyncio.CancelledError:
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            self._tasks.discard(task)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray) -> None:
    try:
        while data := await reader.read(65536):
            record += data
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


def tls_record_types(data: bytes) -> list[int]:
    """The content type of each TLS record in ``data``, in order (22 handshake, 20 change cipher spec, 23 data).

    A TLS record starts with a 5-byte header: its type, the version (3, 3)
    and its length; the records follow each other. Stops at the first bytes
    that are not a record header.
    """
    types, start = [], 0
    while start + 5 <= len(data) and data[start] in (20, 21, 22, 23) and data[start + 1] == 3:
        types.append(data[start])
        start += 5 + int.from_bytes(data[start + 3:start + 5], "big")
    return types
