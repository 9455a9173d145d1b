"""What an outage drill records (:func:`~chat_lib.lab.drill.run_outage_drill`), and its tallies.

A :class:`DrillResult` is the drill's timeline: what each client typed and
received (:class:`DrillClient`, :class:`DrillMessage`), when the server was
down (:class:`Outage`), and what its log held afterwards. Its methods count
what was lost and doubled, per client and in all. Times are seconds since the
clients started typing.

Introduced in notebook 06.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["DrillClient", "DrillMessage", "DrillResult", "Outage", "Variant"]

#: ``"reliable"``: :class:`~chat_lib.client.ChatClient`; ``"plain"``: the tutorial's client.
Variant = Literal["reliable", "plain"]


@dataclass
class DrillMessage:
    """One message a drill client typed."""

    text: str
    sender: str
    typed_at: float  #: when the person pressed Enter
    acked_at: float | None = None  #: when the server confirmed it stored it (reliable only)
    offset: int | None = None  #: its place in the server's log, from the acknowledgement
    error: str | None = None  #: why it never left the sender (plain: emit raised)


@dataclass
class DrillClient:
    """What one client typed, received and went through."""

    name: str
    transport: str
    typed: list[DrillMessage] = field(default_factory=list)
    received: list[tuple[str, float]] = field(default_factory=list)  #: (text, received_at), in arrival order
    #: (text, received_at) of messages read from the log to fill a gap, not pushed (notebook 08)
    fetched: list[tuple[str, float]] = field(default_factory=list)
    disconnected_at: list[float] = field(default_factory=list)  #: when it noticed the server was gone
    reconnected_at: list[float] = field(default_factory=list)  #: when it was connected again


@dataclass
class Outage:
    """The server was down from ``killed_at`` until it accepted connections again."""

    killed_at: float
    restarted_at: float

    @property
    def duration(self) -> float:
        return self.restarted_at - self.killed_at


@dataclass
class DrillResult:
    """The timeline of one drill, and the tallies computed from it.

    A message counts as *lost* for a client if anybody typed it and it never
    reached that client (senders receive their own messages too, as in the
    tutorial), and as *duplicated* for each extra copy a client received.
    """

    variant: Variant
    clients: list[DrillClient]
    outages: list[Outage]
    stored: list[str]  #: texts in the server's log afterwards, in offset order
    rate: float  #: messages per second, per client
    typing_ended_at: float
    finished_at: float
    settled: bool  #: every client had everything it was going to get before the settle timeout

    @property
    def typed(self) -> list[DrillMessage]:
        """Every message typed, by anybody, in the order they were typed."""
        return sorted((m for c in self.clients for m in c.typed), key=lambda m: m.typed_at)

    def in_outage(self, moment: float) -> bool:
        """Whether the server was down at ``moment``."""
        return any(o.killed_at <= moment < o.restarted_at for o in self.outages)

    def deliveries(self) -> list[dict[str, Any]]:
        """One row per client: what it typed, what it should have got, what it got."""
        everything = {m.text for m in self.typed}
        rows = []
        for client in self.clients:
            copies = Counter(text for text, _ in client.received)
            got = everything & copies.keys()
            rows.append(
                {
                    "client": client.name,
                    "transport": client.transport,
                    "typed": len(client.typed),
                    "expected": len(everything),
                    "received": len(got),
                    "lost": len(everything - got),
                    "duplicates": sum(n - 1 for n in copies.values()),
                    "reconnects": len(client.reconnected_at),
                }
            )
        return rows

    def totals(self) -> dict[str, Any]:
        """The whole drill in a few numbers (see the class docstring for lost and duplicated)."""
        typed = self.typed
        stored = Counter(self.stored)
        rows = self.deliveries()
        return {
            "variant": self.variant,
            "clients": len(self.clients),
            "typed": len(typed),
            "typed_during_outages": sum(self.in_outage(m.typed_at) for m in typed),
            "refused_at_sender": sum(m.error is not None for m in typed),
            "lost_in_transit": sum(m.error is None and m.text not in stored for m in typed),
            "stored": len(stored.keys() & {m.text for m in typed}),
            "stored_twice": sum(n - 1 for n in stored.values()),
            "deliveries_expected": sum(r["expected"] for r in rows),
            "delivered": sum(r["received"] for r in rows),
            "lost": sum(r["lost"] for r in rows),
            "duplicated": sum(r["duplicates"] for r in rows),
            "outage_seconds": sum(o.duration for o in self.outages),
            "settled": self.settled,
        }

    def reconnections(self) -> list[dict[str, Any]]:
        """One row per time a client lost the server: when it noticed, and when it was back.

        ``outage`` is the number of the outage it happened in; ``gap`` runs from
        the moment the client noticed until it was connected again (``None`` if
        it never was); ``after_restart`` from the last moment the server came
        back before that, which is what the reconnection backoff adds. A client
        still waiting when the next outage begins stays down through both.
        """
        rows = []
        for client in self.clients:
            backs = sorted(client.reconnected_at)
            for noticed in sorted(client.disconnected_at):
                back = next((t for t in backs if t >= noticed), None)
                number = sum(o.killed_at <= noticed for o in self.outages)
                restarts = [o.restarted_at for o in self.outages if back is not None and o.restarted_at <= back]
                rows.append(
                    {
                        "client": client.name,
                        "transport": client.transport,
                        "outage": number,
                        "noticed_at": noticed,
                        "reconnected_at": back,
                        "gap": None if back is None else back - noticed,
                        "after_restart": back - restarts[-1] if back is not None and restarts else None,
                    }
                )
        return rows

    def events(self) -> list[tuple[float, str]]:
        """The drill's story, oldest first: kills, restarts, disconnections, reconnections."""
        story = [(0.0, "clients start typing")]
        for number, outage in enumerate(self.outages, 1):
            story.append((outage.killed_at, f"server killed (outage {number})"))
            story.append((outage.restarted_at, f"server accepts connections again (outage {number})"))
        for client in self.clients:
            story += [(t, f"{client.name} ({client.transport}) lost the connection") for t in client.disconnected_at]
            story += [(t, f"{client.name} ({client.transport}) reconnected") for t in client.reconnected_at]
        story.append((self.typing_ended_at, "clients stop typing"))
        return sorted(story)
