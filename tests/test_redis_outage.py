"""redis-server killed mid-conversation: the chat refuses what it cannot store, clients retry, nothing acknowledged is lost."""

from __future__ import annotations

import redis

from chat_lib.lab.cluster import LocalRedis
from chat_lib.lab.redis_outage import kill_redis, run_redis_outage_drill


def test_local_redis_with_a_data_dir_keeps_its_data_through_a_kill(tmp_path):
    with LocalRedis(data_dir=tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("greeting", "hello")
        kill_redis(server)
        assert not server.running
        server.start()
        assert client.get("greeting") == b"hello"  # the same port, password and folder
        client.close()
    assert (tmp_path / "appendonly.aof").exists()


def test_local_redis_without_a_data_dir_forgets_through_a_kill():
    with LocalRedis() as server:
        client = redis.Redis.from_url(server.url)
        client.set("greeting", "hello")
        kill_redis(server)
        server.start()
        assert client.get("greeting") is None
        client.close()


async def test_redis_outage_loses_and_duplicates_nothing_acknowledged():
    result = await run_redis_outage_drill(clients=4, warmup=0.6, downtime=1.0, after=0.8)
    totals = result.outage_totals()
    (outage,) = result.outages
    assert 0 < outage.killed_at < outage.restarted_at <= result.typing_ended_at
    assert totals["typed_during_outage"] > 0  # people kept typing while Redis was down
    # The server refused what it could not store ('chat error', no ack), and the clients sent it again.
    assert totals["refused_messages"] > 0
    assert totals["retried_and_stored"] == totals["refused_messages"]
    assert all(outage.killed_at <= t for m in result.typed for t in m.refused_at)
    # Everything was acknowledged in the end, and everything acknowledged is in the log, once.
    assert result.settled
    assert totals["unacknowledged"] == 0
    assert totals["acknowledged"] == totals["typed"] == totals["stored"]
    assert totals["acknowledged_lost"] == 0
    assert totals["stored_twice"] == 0
    assert totals["duplicated"] == 0
    offsets = sorted(m.offset for m in result.typed)
    assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))  # one sequence, no offset twice
    # What the Redis pub/sub between the two processes dropped never reached the other server's clients.
    assert totals["delivered_live"] + totals["missed_live"] == totals["deliveries_expected"]
    assert result.missed_live_by_server()["same server"] + result.missed_live_by_server()["other server"] == (
        totals["missed_live"]
    )
    # Each client then read from the log what was never pushed to it, after the server's next 'head'.
    assert totals["fetched_from_log"] == totals["missed_live"]
    assert totals["missed_for_good"] == 0
