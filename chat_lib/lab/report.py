"""Results of a measurement, as plain data: what every benchmark in :mod:`chat_lib.lab` returns.

A :class:`Measurement` is one figure with its parameters, raw samples and the
machine it ran on; a :class:`Report` is a list of them with where and how they
ran, saved and loaded as JSON. :mod:`chat_lib.lab.suite` (notebook 04) and
:mod:`chat_lib.lab.scaling` (notebook 07) extend :class:`Report` with their own
summaries; :func:`summarize` and :func:`machine_info` are shared by both.

Introduced in notebook 04.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Self

__all__ = ["Measurement", "Report", "machine_info", "summarize"]


def _percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the two nearest ranks (numpy's default method)."""
    position = (len(ordered) - 1) * fraction
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def summarize(samples: Iterable[float]) -> dict[str, float]:
    """Count, mean, min, p50, p95, p99 and max of ``samples`` (empty dict for none)."""
    ordered = sorted(float(value) for value in samples)
    if not ordered:
        return {}
    return {
        "count": len(ordered),
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "p50": _percentile(ordered, 0.50),
        "p95": _percentile(ordered, 0.95),
        "p99": _percentile(ordered, 0.99),
        "max": ordered[-1],
    }


@dataclass
class Measurement:
    """One measurement: what was measured, how, the raw samples and the figures.

    :param kind: ``"round_trip"``, ``"push"``, ``"throughput"``, ``"fan_out"``,
                 ``"wire_bytes"`` or ``"setup"``.
    :param transport: ``"polling"``, ``"websocket"`` or (set-up only) ``"auto"``.
    :param params: the parameters it ran with (payload size, delay, counts...).
    :param unit: the unit of ``samples`` (``"ms"`` for times).
    :param samples: raw values, one per message, round or connection.
    :param values: derived figures; for times, :func:`summarize` of the samples plus extras.
    :param machine: :func:`machine_info` of the machine it ran on.
    """

    kind: str
    transport: str
    params: dict[str, Any]
    unit: str
    samples: list[float] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        """A figure from ``values``, e.g. ``m["p50"]``."""
        return self.values[name]

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in self.values.items()
                 if k in ("p50", "p99", "messages_per_second", "bytes_per_message", "received", "lost")}
        return f"<Measurement {self.kind} {self.transport} ({params}) {shown}>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)


@dataclass
class Report:
    """Measurements plus where and how they ran: what every benchmark run returns.

    JSON in and out (:meth:`save`, :meth:`load`) and look-ups by kind and
    parameters; :class:`~chat_lib.lab.suite.BenchReport` and :class:`~chat_lib.lab.scaling.ScalingReport`
    add their own summaries.
    """

    measurements: list[Measurement] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    seconds: float = 0.0

    def select(self, kind: str, transport: str | None = None, **params: Any) -> list[Measurement]:
        """Measurements of ``kind`` (and ``transport``) whose params include ``params``."""
        return [
            m for m in self.measurements
            if m.kind == kind
            and (transport is None or m.transport == transport)
            and all(m.params.get(name) == value for name, value in params.items())
        ]

    def one(self, kind: str, transport: str | None = None, **params: Any) -> Measurement:
        """The single measurement matching; ``LookupError`` if there is none."""
        found = self.select(kind, transport, **params)
        if not found:
            raise LookupError(f"No {kind} measurement for {transport or 'any transport'} with {params} in this report.")
        return found[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "seconds": self.seconds,
            "machine": self.machine,
            "config": self.config,
            "measurements": [m.to_dict() for m in self.measurements],
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            measurements=[Measurement.from_dict(m) for m in data.get("measurements", [])],
            machine=data.get("machine", {}),
            config=data.get("config", {}),
            started_at=data.get("started_at", ""),
            seconds=data.get("seconds", 0.0),
        )

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a report written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text()))


def machine_info() -> dict[str, Any]:
    """CPU count, load, OS, Python and library versions: what a figure depends on."""
    versions = {}
    for package in ("python-socketio", "python-engineio", "uvicorn", "aiohttp", "chat_lib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[package] = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min": load[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "versions": versions,
    }
