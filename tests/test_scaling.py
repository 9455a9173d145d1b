"""Scaling measurements return well-formed data on a tiny run; nothing here asserts speed.

A group of two server processes on one real redis-server serves the module;
every measurement runs with the smallest counts that still check that each
message is accounted for, and :func:`run_scaling` is run once, quickly, to
check its report and that it leaves nothing running.
"""

from __future__ import annotations

import json
import socket

import psutil
import pytest

from chat_lib import ScalingConfig, ScalingReport, ServerGroup, measure_group_fan_out, measure_group_throughput
from chat_lib.lab.report import Measurement
from chat_lib.lab.scaling import SERVER_OPTIONS, run_scaling, setup_label


@pytest.fixture(scope="module")
def group():
    with ServerGroup(2, **SERVER_OPTIONS) as running:
        yield running


def _round_trips_json(m: Measurement) -> None:
    assert Measurement.from_dict(json.loads(json.dumps(m.to_dict()))) == m


def _refuses(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_fan_out_reaches_every_client_of_every_server(group):
    m = await measure_group_fan_out(group.urls, clients=4, rounds=3, warmup=1)
    assert (m.kind, m.transport, m.unit) == ("group_fan_out", "websocket", "ms")
    assert m.params == {"processes": 2, "clients": 4, "clients_per_server": [2, 2], "rounds": 3, "warmup": 1,
                        "payload_bytes": 20}
    assert (m["received"], m["expected"], m["lost"], m["duplicates"], m["refused"]) == (12, 12, 0, 0, 0)
    assert len(m.samples) == 3 and all(sample > 0 for sample in m.samples)
    assert m["min"] <= m["p50"] <= m["max"]
    # Two clients share the sender's server (the sender among them), two are on the other one.
    assert m["same_server"]["count"] == m["other_server"]["count"] == 6
    assert m["first_delivery"]["max"] <= m["max"]
    assert m.machine["cpu_count"] >= 1
    _round_trips_json(m)


async def test_fan_out_to_one_server_has_no_other_server(group):
    m = await measure_group_fan_out(group.urls[:1], clients=3, rounds=2, warmup=0)
    assert (m.params["processes"], m["received"], m["lost"]) == (1, 6, 0)
    assert m["same_server"]["count"] == 6 and m["other_server"] == {}


async def test_throughput_accounts_for_every_message(group):
    m = await measure_group_throughput(group.urls, clients=4, senders=2, messages=10)
    assert m.kind == "group_throughput"
    assert m.params["clients_per_server"] == [2, 2] and m.params["senders"] == 2
    assert (m["sent"], m["acknowledged"], m["delivered_to_all"], m["all_delivered"]) == (20, 20, 20, True)
    assert (m["deliveries"], m["expected_deliveries"], m["lost"], m["duplicates"]) == (80, 80, 0, 0)
    assert m["seconds"] > 0 and m["messages_per_second"] > 0
    assert m["deliveries_per_second"] == pytest.approx(4 * m["messages_per_second"])
    assert len(m.samples) == 20 and all(sample > 0 for sample in m.samples)
    assert m["ack_latency"]["count"] == 20
    # Both servers and their Redis are children of this process: their CPU time is counted.
    assert m["cpu_processes"] == {"servers": 2, "redis": 1}
    assert set(m["cpu_seconds"]) == {"clients", "servers", "redis"}
    assert all(seconds >= 0 for seconds in m["cpu_seconds"].values())
    _round_trips_json(m)


async def test_bad_arguments_are_refused_before_connecting():
    with pytest.raises(ValueError, match="at least one server"):
        await measure_group_fan_out([], clients=2)
    with pytest.raises(ValueError, match="no more senders than clients"):
        await measure_group_throughput(["http://127.0.0.1:1"], clients=2, senders=3)


async def test_unreachable_server_is_a_clear_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(RuntimeError, match="could not connect.*every server of the group is running"):
        await measure_group_fan_out([f"http://127.0.0.1:{port}"], clients=2, rounds=1)


async def test_run_scaling_measures_every_setup_and_stops_everything():
    config = ScalingConfig.quick()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    report = await run_scaling(config)
    assert report.setups() == [(1, False), (1, True), (2, True)] == config.setups()
    assert len(report.measurements) == 6
    rows = report.rows()
    assert [row["setup"] for row in rows] == ["1 process, no Redis", "1 process + Redis", "2 processes + Redis"]
    for row in rows:
        assert row["lost"] == 0 and row["duplicates"] == 0
        assert row["fan_out_p50_ms"] > 0 and row["throughput_msgs_per_s"] > 0
        assert row["cpu_servers_s"] >= 0 and row["cpu_clients_s"] >= 0
    assert rows[0]["cpu_redis_s"] == 0  # the baseline has no Redis (the others' Redis is not counted)
    assert [m["cpu_processes"] for m in report.select("group_throughput")] == [
        {"servers": 1, "redis": 0}, {"servers": 1, "redis": 1}, {"servers": 2, "redis": 1}]
    assert rows[2]["other_server_p50_ms"] > 0 and rows[1]["other_server_p50_ms"] is None
    throughput = report.one("group_throughput", processes=2, redis=True)
    assert throughput["sent"] == config.throughput_senders * config.messages_per_sender
    # The setups took turns: each setup's rounds and messages came in two parts, all counted.
    assert (throughput.params["bursts"], throughput.params["turns"]) == (2, 2)
    assert throughput.params["messages_per_sender"] == config.messages_per_sender
    fan_out = report.one("group_fan_out", processes=1, redis=False)
    assert (fan_out.params["rounds"], fan_out.params["turns"], len(fan_out.samples)) == (4, 2, 4)
    assert fan_out["expected"] == fan_out["received"] == 4 * config.fan_out_clients
    with pytest.raises(LookupError):
        report.one("group_fan_out", processes=3)
    assert ScalingReport.from_dict(json.loads(report.to_json())) == report
    assert report.seconds > 0 and report.config["processes"] == [1, 2]
    # Every server and the redis-server it started are gone.
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def test_setup_labels():
    assert setup_label(1, False) == "1 process, no Redis"
    assert setup_label(3, True) == "3 processes + Redis"
