"""Charts of a real (tiny) benchmark run: every chart has a title, labelled axes and data."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from chat_lib import BenchReport, SuiteConfig, run_suite  # noqa: E402
from chat_lib.lab import plots  # noqa: E402
from chat_lib.lab.bench import bench_server  # noqa: E402

CHARTS = [
    plots.plot_latency_cdf,
    plots.plot_percentiles,
    plots.plot_latency_vs_payload,
    plots.plot_latency_vs_delay,
    plots.plot_throughput,
    plots.plot_wire_bytes,
    plots.plot_fan_out,
    plots.plot_setup,
]


@pytest.fixture(scope="module")
def report():
    import asyncio

    config = SuiteConfig(
        round_trips=3, warmup=1, payload_sizes=(20, 1024), push_count=3, throughput_messages=20,
        fan_out_clients={"websocket": (2, 4), "polling": (2,)}, fan_out_rounds=1, wire_messages=2,
        setup_repeats=1, setup_delays_ms=(0.0, 5.0), delays_ms=(0.0, 5.0), delay_round_trips=1,
    )
    with bench_server() as server:
        return asyncio.run(run_suite(config, url=server.url))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("chart", CHARTS, ids=lambda chart: chart.__name__)
def test_chart_is_labelled_and_shows_data(report, chart):
    ax = chart(report)
    assert ax.get_title()
    assert ax.get_xlabel() or ax.get_xticklabels()
    assert "(" in ax.get_ylabel()  # a unit in brackets
    assert ax.lines or ax.patches  # curves or bars were drawn
    assert not [t for t in ax.texts if t.get_text().startswith("no ")]


@pytest.mark.parametrize("chart", CHARTS, ids=lambda chart: chart.__name__)
def test_chart_draws_on_the_axes_it_is_given(report, chart):
    figure, (left, right) = plt.subplots(1, 2)
    assert chart(report, ax=right) is right
    assert not left.lines and not left.patches


@pytest.mark.parametrize("chart", CHARTS, ids=lambda chart: chart.__name__)
def test_chart_of_an_empty_report_says_so(chart):
    ax = chart(BenchReport())
    assert any(t.get_text().startswith("no ") for t in ax.texts)


def test_legends_name_both_transports(report):
    labels = [t.get_text() for t in plots.plot_latency_cdf(report).get_legend().get_texts()]
    assert any("WebSocket" in label for label in labels) and any("long-polling" in label for label in labels)


def test_save_charts_writes_a_png_per_chart(report, tmp_path):
    paths = plots.save_charts(report, tmp_path / "charts")
    assert len(paths) >= 8
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # every figure closed again
