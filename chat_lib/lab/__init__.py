"""chat_lib.lab: measuring the chat (notebooks 04, 06 and 07), the optional extra ``chat_lib[lab]``.

Results (``report``), the measuring clients (``probe``, ``group_probe``), a
loopback proxy that adds delay and counts traffic (``delay_proxy``), the
measurements and their suites (``bench``, ``suite``, ``group_bench``,
``scaling``), the outage drill (``drill``, ``drill_result``), server groups on
Redis (``cluster``) and charts (``plots``); deployment (notebook 08: ``nginx``,
``tls``, ``machines``, ``redis_outage``, ``wire``); the side-by-side benchmark
against plain python-socketio and Node (``compare``, ``compare_servers``,
``compare_report``, ``serve_app``). The chat itself never imports this package.

Names are imported on first use, as in :mod:`chat_lib`: a script that wants
``LocalRedis`` does not load matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

# public name -> the module of chat_lib.lab that defines it
_EXPORTS = {
    "bench_server": "bench",
    "measure_fan_out": "bench",
    "measure_push_latency": "bench",
    "measure_round_trips": "bench",
    "measure_setup": "bench",
    "measure_throughput": "bench",
    "measure_wire_bytes": "bench",
    "LocalRedis": "cluster",
    "ServerGroup": "cluster",
    "DelayProxy": "delay_proxy",
    "ProxyStats": "delay_proxy",
    "run_outage_drill": "drill",
    "DrillClient": "drill_result",
    "DrillMessage": "drill_result",
    "DrillResult": "drill_result",
    "Outage": "drill_result",
    "measure_group_fan_out": "group_bench",
    "measure_group_throughput": "group_bench",
    "Measurement": "report",
    "Report": "report",
    "machine_info": "report",
    "summarize": "report",
    "ScalingConfig": "scaling",
    "ScalingReport": "scaling",
    "run_scaling": "scaling",
    "setup_label": "scaling",
    "BenchReport": "suite",
    "SuiteConfig": "suite",
    "run_suite": "suite",
    "run_suite_sync": "suite",
    # chapter 08: deployment
    "Nginx": "nginx",
    "Route": "nginx",
    "LocalCertificates": "tls",
    "make_local_certificates": "tls",
    "measure_handshakes": "tls",
    "ServeCommand": "machines",
    "RedisOutageResult": "redis_outage",
    "run_redis_outage_drill": "redis_outage",
    "WireTap": "wire",
    # issue 13: the side-by-side benchmark
    "SideBySideConfig": "compare",
    "run_side_by_side": "compare",
    "run_side_by_side_sync": "compare",
    "SideBySideReport": "compare_report",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:  # for editors and type checkers
    from .bench import (
        bench_server,
        measure_fan_out,
        measure_push_latency,
        measure_round_trips,
        measure_setup,
        measure_throughput,
        measure_wire_bytes,
    )
    from .cluster import LocalRedis, ServerGroup
    from .delay_proxy import DelayProxy, ProxyStats
    from .drill import run_outage_drill
    from .drill_result import DrillClient, DrillMessage, DrillResult, Outage
    from .compare import SideBySideConfig, run_side_by_side, run_side_by_side_sync
    from .compare_report import SideBySideReport
    from .group_bench import measure_group_fan_out, measure_group_throughput
    from .machines import ServeCommand
    from .nginx import Nginx, Route
    from .redis_outage import RedisOutageResult, run_redis_outage_drill
    from .tls import LocalCertificates, make_local_certificates, measure_handshakes
    from .wire import WireTap
    from .report import Measurement, Report, machine_info, summarize
    from .scaling import ScalingConfig, ScalingReport, run_scaling, setup_label
    from .suite import BenchReport, SuiteConfig, run_suite, run_suite_sync
