"""chat_lib: the package behind the Socket.IO chat notebook series.

Each module is one concept; see the README for the notebook that introduces it.
"""

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

__version__ = "0.1.0"

__all__ = [
    "BackgroundServer",
    "BenchReport",
    "ChatClient",
    "ChatConnectionError",
    "ChatError",
    "ChatMessage",
    "ChatServer",
    "ChatWidget",
    "DelayProxy",
    "DrillResult",
    "LocalRedis",
    "Measurement",
    "MessageRejected",
    "MessageStore",
    "ProxyStats",
    "ScalingConfig",
    "ScalingReport",
    "ServerGroup",
    "ServerStartError",
    "StoredMessage",
    "SuiteConfig",
    "create_app",
    "measure_group_fan_out",
    "measure_group_throughput",
    "run_outage_drill",
    "run_scaling",
    "run_suite",
]
