"""chat_lib: the package behind the Socket.IO chat notebook series.

Each module is one concept; see the README for the notebook that introduces it.

Names are imported on first use: a process-mode server (``chat_lib._child``)
then loads the server alone, not ipywidgets, numpy and matplotlib, and starts
in a third of the time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "BackgroundServer": "background",
    "BenchReport": "bench",
    "Measurement": "bench",
    "SuiteConfig": "bench",
    "run_suite": "bench",
    "ChatClient": "client",
    "ChatMessage": "client",
    "LocalRedis": "cluster",
    "ServerGroup": "cluster",
    "DrillResult": "drill",
    "run_outage_drill": "drill",
    "ChatConnectionError": "errors",
    "ChatError": "errors",
    "MessageRejected": "errors",
    "ServerStartError": "errors",
    "DelayProxy": "netem",
    "ProxyStats": "netem",
    "ScalingConfig": "scaling",
    "ScalingReport": "scaling",
    "measure_group_fan_out": "scaling",
    "measure_group_throughput": "scaling",
    "run_scaling": "scaling",
    "ChatServer": "server",
    "create_app": "server",
    "MessageStore": "store",
    "StoredMessage": "store",
    "ChatWidget": "widget",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'chat_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for editors and type checkers
    from .background import BackgroundServer
    from .bench import BenchReport, Measurement, SuiteConfig, run_suite
    from .client import ChatClient, ChatMessage
    from .cluster import LocalRedis, ServerGroup
    from .drill import DrillResult, run_outage_drill
    from .errors import ChatConnectionError, ChatError, MessageRejected, ServerStartError
    from .netem import DelayProxy, ProxyStats
    from .scaling import ScalingConfig, ScalingReport, measure_group_fan_out, measure_group_throughput, run_scaling
    from .server import ChatServer, create_app
    from .store import MessageStore, StoredMessage
    from .widget import ChatWidget
