"""Where chat_lib goes under python-socketio and python-engineio, in one place.

Each override below changes one private method or class attribute of those
libraries, for a reason written next to it. Nothing here acts on import: the
server and the client call what they need.
"""

from __future__ import annotations

import contextvars
import logging

import socketio
from engineio.payload import Payload

__all__ = ["ChatSocketServer", "RESERVED_EVENTS", "ack_requested", "allow_polling_payloads"]

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
    """``AsyncServer`` that refuses forged events and undecodable packets."""

    async def _handle_event(self, eio_sid, namespace, id, data):
        # A client that emits "connect" or "disconnect" would otherwise run the
        # server's own connection handlers: refuse before any handler runs.
        if not data or not isinstance(data[0], str) or data[0] in RESERVED_EVENTS:
            name = data[0] if data else None
            logger.warning("refused reserved or malformed event name %r from %s", name, eio_sid)
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
        try:
            return await super()._handle_eio_message(eio_sid, data)
        except (RecursionError, ValueError) as exc:
            # A packet json cannot decode (e.g. thousands of nested arrays):
            # there is nobody to answer, so drop that client, quietly and at once.
            # Not awaited here: on long-polling this runs inside the POST, and
            # the disconnect would wait for that very request to end.
            logger.warning("dropping %s: undecodable packet (%s)", eio_sid, type(exc).__name__)
            self.start_background_task(self.eio.disconnect, eio_sid)
