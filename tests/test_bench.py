"""Benchmarks return well-formed data on a tiny run; nothing here asserts speed.

One server process serves the whole module (as ``bench_server()`` starts it for
the suite); every measurement runs with the smallest counts that still check
that each message is accounted for.
"""

from __future__ import annotations

import json

import pytest

from chat_lib import BenchReport, Measurement, SuiteConfig, run_suite
from chat_lib.lab.bench import (
    bench_server,
    measure_fan_out,
    measure_push_latency,
    measure_round_trips,
    measure_setup,
    measure_throughput,
    measure_wire_bytes,
)
from chat_lib.lab.report import machine_info, summarize

TRANSPORTS = ["websocket", "polling"]


@pytest.fixture(scope="module")
def url():
    with bench_server() as server:
        yield server.url


def _check_times(m: Measurement, count: int) -> None:
    assert m.unit == "ms"
    assert len(m.samples) == count
    assert all(sample > 0 for sample in m.samples)
    assert m["count"] == count
    assert m["min"] <= m["p50"] <= m["p95"] <= m["p99"] <= m["max"]
    assert m.machine["cpu_count"] >= 1
    assert Measurement.from_dict(json.loads(json.dumps(m.to_dict()))) == m


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_round_trips_time_every_message(url, transport):
    m = await measure_round_trips(url, transport, count=5, warmup=1, payload_bytes=16 * 1024)
    _check_times(m, 5)
    assert (m.kind, m.transport, m["lost"]) == ("round_trip", transport, 0)
    assert m.params == {"count": 5, "warmup": 1, "payload_bytes": 16384, "network_delay_ms": None}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_round_trips_through_a_delay_pay_the_round_trip(url, transport):
    m = await measure_round_trips(url, transport, count=2, warmup=1, network_delay_ms=15)
    _check_times(m, 2)
    assert m["min"] >= 30  # 15 ms there, 15 ms back: a correctness check, not a speed target
    assert m.params["network_delay_ms"] == 15


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_push_latency_measures_each_burst(url, transport):
    m = await measure_push_latency(url, transport, count=3, warmup=1, burst=2)
    _check_times(m, 3)
    assert (m.kind, m["lost"], m.params["burst"], m.params["sender_transport"]) == ("push", 0, 2, "websocket")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_throughput_accounts_for_every_message(url, transport):
    m = await measure_throughput(url, transport, messages=60)
    assert (m["sent"], m["received"], m["all_received"]) == (60, 60, True)
    assert m["messages_per_second"] > 0 and m["seconds"] > 0
    assert len(m.samples) == 60 and m["latency"]["count"] == 60


@pytest.mark.parametrize(("transport", "clients"), [("websocket", 4), ("polling", 2)])
async def test_fan_out_reaches_every_client(url, transport, clients):
    m = await measure_fan_out(url, transport, clients=clients, rounds=2)
    assert m["received"] == m["expected"] == clients * 2
    assert len(m.samples) == 2
    assert m["per_client"]["count"] == clients * 2
    assert m["p50"] >= m["per_client"]["min"]  # the last client is never earlier than the first


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("pattern", ["sequential", "burst"])
async def test_wire_bytes_count_what_crossed(url, transport, pattern):
    m = await measure_wire_bytes(url, transport, count=4, payload_bytes=20, pattern=pattern)
    assert m["received"] == 4 and m["messages"] == 4
    assert m["bytes_per_message"] > 40  # at least the text going up and coming back
    assert m["bytes_per_message"] == pytest.approx(m["bytes_up_per_message"] + m["bytes_down_per_message"])
    if transport == "websocket":
        assert m["http_requests"] == 0 and m["ws_frames_per_message"] >= 2
    else:
        assert m["http_requests"] >= 1 and m["ws_frames_per_message"] == 0


@pytest.mark.parametrize(("transport", "ends_on"), [("polling", "polling"), ("websocket", "websocket"),
                                                    ("auto", "websocket")])
async def test_setup_counts_requests_and_frames(url, transport, ends_on):
    m = await measure_setup(url, transport, repeats=2)
    _check_times(m, 2)
    assert m["final_transport"] == ends_on
    assert m["http_requests"] >= 1 and m["tcp_connections"] >= 1
    assert (m["ws_frames"] > 0) == (ends_on == "websocket")


async def test_run_suite_returns_every_kind_and_survives_json(url, tmp_path):
    config = SuiteConfig(
        round_trips=2, warmup=1, payload_sizes=(20,), push_count=2, throughput_messages=10,
        fan_out_clients={"websocket": (2,)}, fan_out_rounds=1, wire_messages=2, setup_repeats=1,
        setup_delays_ms=(0.0,), delays_ms=(0.0,), delay_round_trips=1,
    )
    steps = []

    class Progress:  # the part of tqdm's interface run_suite uses
        def __init__(self, total, **options):
            self.total = total

        def set_postfix_str(self, label):
            steps.append(label)

        def update(self, n=1):
            pass

        def close(self):
            pass

    report = await run_suite(config, url=url, progress=Progress)
    kinds = {m.kind for m in report.measurements}
    assert kinds == {"round_trip", "push", "throughput", "fan_out", "wire_bytes", "setup"}
    assert len(steps) == len(report.measurements)
    assert report.machine["versions"]["python-socketio"]
    assert report.one("round_trip", "polling", payload_bytes=20, network_delay_ms=None)["lost"] == 0
    with pytest.raises(LookupError, match="No fan_out measurement for polling"):
        report.one("fan_out", "polling")
    loaded = BenchReport.load(report.save(tmp_path / "results.json"))
    assert loaded.to_dict() == report.to_dict()
    table = loaded.format_table()
    assert "websocket" in table and "throughput (msg/s)" in table


def test_summarize_and_machine_info():
    assert summarize([]) == {}
    stats = summarize([1.0, 2.0, 3.0, 4.0])
    assert stats["count"] == 4 and stats["p50"] == 2.5 and stats["max"] == 4.0
    info = machine_info()
    assert info["python"] and set(info["versions"]) >= {"python-socketio", "uvicorn", "aiohttp"}


def test_cli_bench_quick_writes_results_and_charts(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "chat_lib", "bench", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = BenchReport.load(out / "results.json")
    assert {m.kind for m in report.measurements} >= {"round_trip", "push", "throughput", "fan_out"}
    charts = sorted(path.name for path in out.glob("*.png"))
    assert len(charts) >= 6
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in charts)
    assert "round trip p50 ms" in done.stdout and "websocket" in done.stdout
    assert "benchmark" in done.stderr  # the tqdm progress bar


async def test_a_server_without_presence_announces_nobody():
    from chat_lib import BackgroundServer, ChatClient

    with BackgroundServer(presence=False) as server:
        async with ChatClient(server.url, nickname="ada", transport="websocket") as ada:
            async with ChatClient(server.url, nickname="bob", transport="websocket") as bob:
                await bob.send("still delivered")
                await ada.wait_for_message(lambda m: m.text == "still delivered", timeout=5)
            assert ada.online == []
            assert not [n for n in ada.notices if n["kind"] in ("user joined", "user left")]
