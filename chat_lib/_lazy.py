"""Names a package re-exports, imported on first use (PEP 562).

``chat_lib`` and ``chat_lib.lab`` use it, so that importing the package loads
nothing heavy: a process-mode server then starts without ipywidgets, numpy
and matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], exports: dict[str, str]) -> tuple[
        Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, for ``exports`` (name -> its module, relative).

    A name, once imported, is stored in the package's ``namespace``: later
    look-ups skip ``__getattr__``.
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return __getattr__, __dir__
