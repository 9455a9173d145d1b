"""Where chat_lib goes under python-socketio and python-engineio, in one place.

Each override below changes one private method or class attribute of those
libraries, for a reason written next to it. Nothing here acts on import: the
server and the client call what they need.
"""

from __future__ import annotations

import contextvars
import logging
from collections import Counter

import engineio
import engineio.base_client
import engineio.packet
import socketio
from engineio.payload import Payload
from socketio import packet

__all__ = [
    "ChatEngineIOClient",
    "ChatManager",
    "ChatRedisManager",
    "ChatSocketClient",
    "ChatSocketServer",
    "RESERVED_EVENTS",
    "ack_requested",
    "allow_polling_payloads",
    "split_payload",
]

logger = logging.getLogger("chat_lib.overrides")

#: Event names only Socket.IO itself may raise. python-socketio refuses to
#: *emit* them but dispatches them when a client sends them as ordinary events.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "__disconnect_final", "newListener", "removeListener"}
)

#: Whether the event being handled asked for an acknowledgement. python-socketio
#: does not tell the handler, and a refusal must go back the way the client listens.
ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=False)


def allow_polling_payloads(max_bytes: int) -> None:
    """Bound the decoding of a long-polling payload by bytes, not by packets.

    python-engineio refuses a payload of more than
    ``Payload.max_decode_packets`` packets (16), answers 200 and drops every
    message in it; the JavaScript client packs its whole queue (up to 1 MB)
    into one POST. A packet takes at least two bytes (type and separator), so
    a count of ``max_bytes // 2`` never refuses a payload the byte limit lets
    through, and the byte limit (the HTTP guard's 413) is what bounds the cost.
    This is a class attribute: it applies to every server and client in the
    process, so it is only ever raised.
    """
    Payload.max_decode_packets = max(Payload.max_decode_packets, max_bytes // 2)


class ChatSocketServer(socketio.AsyncServer):
    """``AsyncServer`` that refuses forged events, binary and undecodable packets.

    :param max_sessions_per_address: most Engine.IO sessions one client
        address may hold at once; more are refused (401). ``None``: no cap
        (benchmarks and tests that open many clients from 127.0.0.1; and
        behind a reverse proxy every client has the proxy's address).
    """

    def __init__(self, *args, max_sessions_per_address: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_sessions_per_address = max_sessions_per_address
        self._sessions_per_address: Counter[str] = Counter()
        self._warned: set[str] = set()  # sessions already logged about, once each

    def _warn_once(self, eio_sid, message, *args):
        # A hostile client can send malformed packets all day: one line per session.
        if eio_sid in self._warned:
            logger.debug(message, *args)
        else:
            self._warned.add(eio_sid)
            logger.warning(message, *args)

    async def _handle_eio_connect(self, eio_sid, environ):
        address = environ.get("REMOTE_ADDR", "")
        if self.max_sessions_per_address is not None and (
            self._sessions_per_address[address] >= self.max_sessions_per_address
        ):
            logger.warning("refused a session from %s: %d already open", address, self.max_sessions_per_address)
            # Any value but None or True refuses; engine.io answers 401 with it as JSON.
            return {"message": f"Too many connections from {address}; close some first."}
        self._sessions_per_address[address] += 1
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid, reason):
        environ = self.environ.get(eio_sid)
        if environ is not None:
            address = environ.get("REMOTE_ADDR", "")
            self._sessions_per_address[address] -= 1
            if self._sessions_per_address[address] <= 0:
                del self._sessions_per_address[address]
        self._warned.discard(eio_sid)
        return await super()._handle_eio_disconnect(eio_sid, reason)

    async def _handle_event(self, eio_sid, namespace, id, data):
        # A client that emits "connect" or "disconnect" would otherwise run the
        # server's own connection handlers: refuse before any handler runs.
        if not isinstance(data, list) or not data or not isinstance(data[0], str) or data[0] in RESERVED_EVENTS:
            name = data[0] if isinstance(data, list) and data else None
            self._warn_once(eio_sid, "refused reserved or malformed event name %r from %s", name, eio_sid)
            if id is not None:
                error = {"ok": False, "error": f"{name!r} is not an event a client may send."}
                await self._send_packet(eio_sid, self.packet_class(
                    socketio.packet.ACK, namespace=namespace or "/", id=id, data=[error]))
            return
        return await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        # Each event runs in its own task, so the variable is private to it.
        ack_requested.set(id is not None)
        return await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)

    async def _handle_eio_message(self, eio_sid, data):
        if eio_sid not in self.eio.sockets:
            return  # dropped: a WebSocket may still deliver frames it had sent
        # The chat is text only. A binary packet announces how many attachments
        # follow, and python-socketio keeps every later frame until that many
        # came (one client took 50 MB in a second): drop it before any is kept.
        if isinstance(data, bytes) or data[:1] in (str(packet.BINARY_EVENT), str(packet.BINARY_ACK)):
            self._warn_once(eio_sid, "dropping %s: binary packets are not part of the chat", eio_sid)
            await self.drop(eio_sid)
            return
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except (RecursionError, ValueError) as exc:
            # A packet json cannot decode (e.g. thousands of nested arrays):
            # there is nobody to answer, so drop that client, quietly (one
            # line, no traceback) and at once.
            self._warn_once(eio_sid, "dropping %s: undecodable packet (%s)", eio_sid, type(exc).__name__)
            await self.drop(eio_sid)

    #: Packets one session may have waiting to be read. A polling client that
    #: vanished without a goodbye keeps receiving broadcasts until its ping
    #: timeout (up to 45 s); this bounds the memory it can hold meanwhile.
    max_queued_packets = 50_000

    async def _send_eio_packet(self, eio_sid, eio_pkt):
        if await self._overflowing(eio_sid):
            return
        await super()._send_eio_packet(eio_sid, eio_pkt)

    async def _send_packet(self, eio_sid, pkt):
        if await self._overflowing(eio_sid):
            return
        await super()._send_packet(eio_sid, pkt)

    async def _overflowing(self, eio_sid) -> bool:
        socket = self.eio.sockets.get(eio_sid)
        if socket is None or socket.queue.qsize() < self.max_queued_packets:
            return False
        logger.warning("dropping %s: %d packets unread", eio_sid, socket.queue.qsize())
        await self.drop(eio_sid)
        return True

    async def drop(self, eio_sid):
        """Close an Engine.IO session at once, without waiting for its queue to be read.

        ``eio.disconnect()`` waits until the client has fetched everything
        queued for it, CLOSE included: over long-polling that takes a GET
        the client may never send, and the waiting task would stay forever.
        """
        socket = self.eio.sockets.get(eio_sid)
        if socket is None:
            return
        await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
        self.eio.sockets.pop(eio_sid, None)
        # Over WebSocket this ends the writer, which closes the connection;
        # over polling nobody reads the queue again (the session is gone).
        socket.queue.put_nowait(None)


class ChatManager(socketio.AsyncManager):
    """The one-process client manager, with a broadcast that costs what a chat needs.

    python-socketio's ``emit`` encodes the packet once, then makes an asyncio
    task per recipient and waits for them all: for a message to two clients
    that is two tasks, for a room of a thousand a thousand. Handing a packet to
    Engine.IO only puts it in the client's queue, so this one does it in a
    plain loop, in order; and to a room with nobody in it, it encodes nothing.
    Emits that want acknowledgements take python-socketio's own path.
    """

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if callback is not None or namespace not in self.rooms:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback,
                                      to=to, **kwargs)
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        recipients = [eio_sid for sid, eio_sid in self.get_participants(namespace, to or room) if sid not in skipped]
        if not recipients:
            return
        data = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *data]).encode()
        messages = [engineio.packet.Packet(engineio.packet.MESSAGE, part)
                    for part in (encoded if isinstance(encoded, list) else [encoded])]
        for eio_sid in recipients:
            for message in messages:
                await self.server._send_eio_packet(eio_sid, message)

    async def emit_forms(self, event, forms, namespace):
        """Emit ``event`` to each room of ``forms`` (room -> its data): one broadcast in several forms."""
        for room, data in forms.items():
            await self.emit(event, data, namespace, room=room)


class ChatRedisManager(socketio.AsyncRedisManager, ChatManager):
    """python-socketio's Redis client manager, with :class:`ChatManager`'s broadcast.

    A process still delivers each broadcast to its own clients and publishes it
    for the others, which deliver it to theirs; both deliveries go through
    ChatManager's loop instead of a task per recipient.

    A broadcast in several forms (:meth:`emit_forms`, a chat message for each
    audience) is one publish, not one per form: every process decodes every
    message on the channel, its own included. Only this manager reads such a
    publish: every process on one channel must run it (upgrade them together).
    """

    async def emit_forms(self, event, forms, namespace):
        message = {
            "method": "emit", "event": event, "namespace": namespace, "host_id": self.host_id,
            "forms": {room: list(data) if isinstance(data, tuple) else [data] for room, data in forms.items()},
        }
        await self._handle_emit(message)  # here
        await self._publish(message)  # and in every other process

    async def _handle_emit(self, message):
        if "forms" not in message:
            return await super()._handle_emit(message)
        for room, data in message["forms"].items():
            await super()._handle_emit({**message, "room": room, "data": data})


class ChatEngineIOClient(engineio.AsyncClient):
    """An Engine.IO client that never posts more than a server takes, and notices a dead writer.

    * python-engineio's polling writer packs its whole queue into one POST; a
      burst of sends can grow past the server's limit (1 MB, Node's
      ``maxHttpBufferSize``) and be refused with 413. This client posts such
      a payload in parts, each under :attr:`max_post_bytes`, in order, and
      halves that limit when a server refuses a part as too large.
    * When that writer stops (a refused POST, a broken WebSocket) it just
      ends, and the client goes on saying "connected" while nothing it sends
      leaves. This client then drops the connection as lost, so that
      python-socketio reconnects and unacknowledged messages are sent again.
    """

    max_post_bytes = 1_000_000  #: lowered when a server refuses a POST as too large (413)
    _post_failed = False  # the polling writer stopped because the server refused a POST

    async def _send_request(self, method, url, headers=None, body=None, timeout=None):
        if method != "POST" or not isinstance(body, str):
            return await super()._send_request(method, url, headers=headers, body=body, timeout=timeout)
        for part in split_payload(body, self.max_post_bytes):
            answer = await super()._send_request(method, url, headers=headers, body=part, timeout=timeout)
            if answer is None or isinstance(answer, str) or not 200 <= answer.status < 300:
                if getattr(answer, "status", None) == 413:  # this server takes less: post less from now on
                    self.max_post_bytes = max(16_384, len(part.encode()) // 2)
                self._post_failed = True
                return answer  # the writer stops; _write_loop below takes it from there
        return answer

    async def _write_loop(self):
        self._post_failed = False
        await super()._write_loop()
        if self.state != "connected" or not self._post_failed:
            return  # a disconnection ended it (the reader saw it and reconnects): nothing to add
        logger.warning("the Engine.IO writer stopped on a live connection; treating it as lost")
        if self.read_loop_task is not None:
            self.read_loop_task.cancel()  # it would end this connection again after the next one began
        if self.current_transport == "websocket" and self.ws is not None:
            await self.ws.close()
        await self._trigger_event("disconnect", self.reason.TRANSPORT_ERROR, run_async=False)
        self.state = "disconnected"
        if self in engineio.base_client.connected_clients:
            engineio.base_client.connected_clients.remove(self)
        await self._reset()


def split_payload(body: str, max_bytes: int) -> list[str]:
    """Cut an encoded polling payload into payloads of whole packets, each under ``max_bytes``."""
    parts: list[str] = []
    packets: list[str] = []
    size = 0
    for encoded in body.split(PACKET_SEPARATOR):
        length = len(encoded.encode()) + 1
        if packets and size + length > max_bytes:
            parts.append(PACKET_SEPARATOR.join(packets))
            packets, size = [], 0
        packets.append(encoded)
        size += length
    parts.append(PACKET_SEPARATOR.join(packets))
    return parts


PACKET_SEPARATOR = "\x1e"  # between the packets of an Engine.IO 4 polling payload


class ChatSocketClient(socketio.AsyncClient):
    """``AsyncClient`` on :class:`ChatEngineIOClient`."""

    def _engineio_client_class(self):
        return ChatEngineIOClient
