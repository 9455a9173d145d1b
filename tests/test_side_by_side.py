"""The side-by-side benchmark (bench/side_by_side.py, chat_lib.lab.compare) on a tiny run; no speed asserted.

One run of the script, with the smallest sizes that still exercise every
measurement, against every server (the Node seed app and the Node client when
``node`` is on the PATH): it must write the JSON, the table and the chart, each
server must have answered, and nothing it started may be left running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from chat_lib.lab.compare_report import FIGURES, SideBySideReport
from chat_lib.lab.compare_servers import SERVERS, ServerProcess
from chat_lib.lab.report import Measurement

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "side_by_side.py"
HAVE_NODE = shutil.which("node") is not None and shutil.which("npm") is not None
TINY = ["--messages", "200", "--round-trips", "50", "--burst", "200", "--clients", "10", "--rounds", "2",
        "--limit", "30", "--no-progress"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("side_by_side")
    command = [sys.executable, str(SCRIPT), "--out", str(out), *TINY, *([] if HAVE_NODE else ["--no-node"])]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


@pytest.mark.timeout(300)
def test_side_by_side_writes_json_table_and_chart(tiny_run):
    out, done = tiny_run
    report = SideBySideReport.load(out / "results.json")
    table = (out / "table.md").read_text()
    assert table in done.stdout
    assert report.machine["cpu_count"] and report.machine["versions"]["python-socketio"]
    for figure in FIGURES:
        assert report._rows_label(figure) in table
    assert table.count("\n| ") >= len(FIGURES)
    chart = out / "side_by_side.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    if HAVE_NODE:
        assert report.machine["versions"]["socket.io"] and report.machine["versions"]["socket.io-client"]


@pytest.mark.timeout(300)
def test_side_by_side_every_server_answered(tiny_run):
    out, _ = tiny_run
    report = SideBySideReport.load(out / "results.json")
    expected = [s.name for s in SERVERS if HAVE_NODE or s.app != "node"]
    assert set(expected) <= set(report.servers)
    for server in expected:
        round_trip = report.one("round_trip", server=server)
        assert round_trip["completed"] and len(round_trip.samples) == 50
        throughput = report.one("throughput", server=server, client="python")
        assert throughput["received"] == throughput["sent"] == 200
        assert throughput["cpu_seconds"] >= 0
        many = report.one("many_clients", server=server)
        assert many["completed"] and many["connected"] == 10 and many["rss_mib"] > 0
        if HAVE_NODE:
            assert report.one("throughput", server=server, client="node")["received"] == 200
            burst = report.one("polling_burst", server=server)
            assert burst["sent"] == 200 and burst["received"] >= 1  # the plain server drops bursts: recorded


@pytest.mark.timeout(300)
def test_side_by_side_leaves_nothing_running(tiny_run):
    markers = ("chat_lib.lab.serve_app", "index.js", "load.js")
    left = [p for p in psutil.Process().children(recursive=True)
            if any(marker in " ".join(p.cmdline()) for marker in markers)]
    assert left == []


def test_server_process_stops_and_reads_its_process():
    with ServerProcess(SERVERS[0]) as server:
        pid = server.pid
        assert server.url.startswith("http://127.0.0.1:")
        assert server.rss_bytes() > 0 and server.cpu_seconds() >= 0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_report_says_what_did_not_complete():
    labels = {"plain": "plain python-socketio", "chat_disk": "ChatServer, log on disk"}
    params = {"clients": 1000, "rounds": 10, "payload_bytes": 20, "connect_batch": 50}
    report = SideBySideReport(config={"labels": labels, "clients": 1000}, measurements=[
        Measurement("many_clients", "websocket", {"server": "plain", "client": "python", **params}, "ms",
                    [70.0, 80.0], {"completed": True, "connected": 1000, "connect_seconds": 1.2, "p50": 75.0,
                                   "rss_mib": 86.0}),
        Measurement("many_clients", "websocket", {"server": "chat_disk", "client": "python", **params}, "ms", [],
                    {"completed": False, "note": "did not complete within 120 s", "connected": 612}),
    ])
    table = report.markdown()
    assert "did not complete within 120 s (612 of 1,000 connected)" in table
    assert "1.2 s" in table and "75 ms" in table
    assert "| server RSS with 1,000 clients: at most 150 MiB | not measured |" in table


def test_script_help_lists_its_options():
    command = [sys.executable, str(SCRIPT), "--help"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--many-clients-with" in done.stdout
