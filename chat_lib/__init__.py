"""chat_lib: the package behind the Socket.IO chat notebook series.

Each module is one concept; see the README for the notebook that introduces it.

Names are imported on first use: a process-mode server (``chat_lib._child``)
then loads the server alone, not ipywidgets, numpy and matplotlib, and starts
in a third of the time. The measurements live in :mod:`chat_lib.lab` (the extra
``chat_lib[lab]``); their main names are re-exported here for the notebooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> the module that defines it (a dotted path for a subpackage's module)
_EXPORTS = {
    "BackgroundServer": "background",
    "BrowserLink": "browser_address",
    "browser_link": "browser_address",
    "browser_url": "browser_address",
    "ChatConfig": "config",
    "ChatClient": "client",
    "ChatMessage": "client",
    "ChatConnectionError": "errors",
    "ChatError": "errors",
    "MessageRejected": "errors",
    "ServerStartError": "errors",
    "Chat": "server",
    "ChatNamespace": "server",
    "ChatServer": "server",
    "create_app": "server",
    "create_tutorial_app": "tutorial",
    "MessageStore": "store",
    "StoredMessage": "store",
    "ChatWidget": "widget",
    # measurements: chat_lib.lab, the optional extra chat_lib[lab]
    "LocalRedis": "lab.cluster",
    "ServerGroup": "lab.cluster",
    "DelayProxy": "lab.delay_proxy",
    "ProxyStats": "lab.delay_proxy",
    "run_outage_drill": "lab.drill",
    "DrillResult": "lab.drill_result",
    "measure_group_fan_out": "lab.group_bench",
    "measure_group_throughput": "lab.group_bench",
    "Measurement": "lab.report",
    "run_scaling": "lab.scaling",
    "ScalingConfig": "lab.scaling",
    "ScalingReport": "lab.scaling",
    "BenchReport": "lab.suite",
    "run_suite": "lab.suite",
    "SuiteConfig": "lab.suite",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


if TYPE_CHECKING:  # for editors and type checkers
    from .background import BackgroundServer
    from .browser_address import BrowserLink, browser_link, browser_url
    from .client import ChatClient, ChatMessage
    from .errors import ChatConnectionError, ChatError, MessageRejected, ServerStartError
    from .lab.cluster import LocalRedis, ServerGroup
    from .lab.delay_proxy import DelayProxy, ProxyStats
    from .lab.drill import run_outage_drill
    from .lab.drill_result import DrillResult
    from .lab.group_bench import measure_group_fan_out, measure_group_throughput
    from .lab.report import Measurement
    from .lab.scaling import ScalingConfig, ScalingReport, run_scaling
    from .lab.suite import BenchReport, SuiteConfig, run_suite
    from .config import ChatConfig
    from .server import Chat, ChatNamespace, ChatServer, create_app
    from .tutorial import create_tutorial_app
    from .store import MessageStore, StoredMessage
    from .widget import ChatWidget
