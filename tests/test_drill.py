"""The fault drill: the reliable chat loses and doubles nothing through crashes; the plain one reports its losses."""

from __future__ import annotations

import pytest

from chat_lib import DrillResult, MessageStore, run_outage_drill

# A tiny scenario: two people (WebSocket and long-polling), one crash.
TINY = {"clients": 2, "rate": 5.0, "outages": 1, "downtime": 0.5, "warmup": 0.6, "between": 0.8}


def check_well_formed(result: DrillResult) -> None:
    assert [c.transport for c in result.clients] == ["websocket", "polling"]
    assert len(result.outages) == 1
    outage = result.outages[0]
    assert 0 < outage.killed_at < outage.restarted_at <= result.typing_ended_at <= result.finished_at
    for client in result.clients:
        assert client.typed, f"{client.name} typed nothing"
        times = [m.typed_at for m in client.typed]
        assert times == sorted(times) and times[0] >= 0 and times[-1] <= result.typing_ended_at
        assert all(m.sender == client.name for m in client.typed)
        assert all(0 <= t <= result.finished_at for _, t in client.received)
        # Each lost the server when it died, and received nothing while it was away.
        assert len(client.disconnected_at) == 1 and client.disconnected_at[0] >= outage.killed_at
        back = client.reconnected_at[0] if client.reconnected_at else float("inf")
        assert not [t for _, t in client.received if client.disconnected_at[0] < t < back]
    totals = result.totals()
    assert totals["typed"] == sum(len(c.typed) for c in result.clients)
    assert totals["typed_during_outages"] > 0  # they kept typing while the server was down
    assert totals["deliveries_expected"] == totals["typed"] * len(result.clients)
    assert totals["delivered"] + totals["lost"] == totals["deliveries_expected"]
    assert [t for t, _ in result.events()] == sorted(t for t, _ in result.events())


async def test_reliable_drill_loses_and_duplicates_nothing(tmp_path):
    store = tmp_path / "chat.sqlite3"
    result = await run_outage_drill(variant="reliable", store=store, **TINY)
    check_well_formed(result)
    log = MessageStore(store)
    try:  # each message was sent by the client whose person typed it
        assert all(m.text.startswith(f"{m.nickname} message ") for m in log.since(0, limit=10_000))
    finally:
        log.close()
    totals = result.totals()
    assert totals["settled"]
    assert totals["lost"] == 0 and totals["duplicated"] == 0
    assert totals["refused_at_sender"] == 0 and totals["lost_in_transit"] == 0
    # Every typed message is in the log exactly once, acknowledged after it was typed.
    assert sorted(result.stored) == sorted(m.text for m in result.typed) and totals["stored_twice"] == 0
    assert all(m.acked_at is not None and m.acked_at >= m.typed_at for m in result.typed)
    # What a client typed while it was cut off was stored once it was back.
    for client in result.clients:
        away, back = client.disconnected_at[0], client.reconnected_at[0]
        typed_away = [m for m in client.typed if away < m.typed_at < back]
        assert typed_away and all(m.acked_at >= back for m in typed_away)
    # Each client got the whole log, in log order, once.
    for client in result.clients:
        assert [text for text, _ in client.received] == result.stored
    for row in result.reconnections():
        assert row["outage"] == 1 and row["gap"] > 0 and row["after_restart"] >= 0
    assert [row["reconnects"] for row in result.deliveries()] == [1, 1]


async def test_plain_drill_reports_its_losses_consistently():
    result = await run_outage_drill(variant="plain", **TINY)
    check_well_formed(result)
    totals = result.totals()
    typed = {m.text for m in result.typed}
    stored = set(result.stored)
    refused = {m.text for m in result.typed if m.error is not None}
    # Messages typed while the server was down never left: emit raised.
    assert totals["refused_at_sender"] > 0 and refused.isdisjoint(stored)
    assert stored <= typed and totals["stored_twice"] == 0
    assert totals["stored"] + totals["refused_at_sender"] + totals["lost_in_transit"] == totals["typed"]
    assert totals["lost"] > 0 and totals["duplicated"] == 0  # at most once
    for client, row in zip(result.clients, result.deliveries()):
        received = {text for text, _ in client.received}
        assert received <= stored  # only what the server stored is ever broadcast
        assert row["lost"] == len(typed - received) >= len(refused)
        assert row["received"] == len(received)


@pytest.mark.parametrize(
    "options",
    [{"variant": "best-effort"}, {"clients": 0}, {"rate": 0}, {"downtime": -1}, {"transports": ["carrier pigeon"]}],
)
async def test_drill_refuses_nonsense_options(options):
    with pytest.raises(ValueError):
        await run_outage_drill(**options)
