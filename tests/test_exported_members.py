"""chat_lib.__all__ lists exactly the public names the package exports, and each one resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chat_lib


def test_all_members_are_importable_from_their_module():
    for name in chat_lib.__all__:
        value = getattr(chat_lib, name)
        assert value.__module__.startswith("chat_lib."), name


def test_each_export_is_public_in_its_own_module():
    for name in chat_lib.__all__:
        module = sys.modules[getattr(chat_lib, name).__module__]
        assert name in module.__all__, f"{module.__name__}.__all__ lacks {name}"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        chat_lib.Nope  # noqa: B018


def test_importing_the_package_loads_no_heavy_module():
    probe = "import sys, chat_lib; print(' '.join(m for m in ('ipywidgets', 'matplotlib', 'numpy', 'socketio') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
