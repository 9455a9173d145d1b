"""House rules for the notebooks, checked on the committed files, and a clean exit checked live.

Every notebook is committed executed top to bottom (strict nbval compares
nothing in a cell saved without an execution count), opens with a title and
ends with ``## Summary`` and ``## Exercises``, each exercise followed by its
solution (collapsed, and checking itself with an ``assert``). One notebook, 02, is also run
in a fresh kernel to check that it leaves nothing behind: no server on the
ports it printed, no thread it started, no child process of the kernel.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))
CLEAN_EXIT_NOTEBOOK = NOTEBOOKS / "02_build_the_chat_server.ipynb"

# Appended to the notebook copy that runs in the fresh kernel: the threads the
# notebook left alive. asyncio's executor threads (DNS lookups of aiohttp) idle
# until the loop closes; they are not ours.
THREADS_LEFT = """
import threading
sorted(t.name for t in threading.enumerate()
       if t.ident not in __threads_before__ and not t.name.startswith("asyncio_"))
"""
THREADS_BEFORE = "import threading\n__threads_before__ = {t.ident for t in threading.enumerate()}"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def markdown_lines(notebook: nbformat.NotebookNode) -> list[str]:
    return [line for cell in notebook.cells if cell.cell_type == "markdown" for line in cell.source.splitlines()]


def test_there_are_notebooks():
    assert ALL_NOTEBOOKS, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.name for p in ALL_NOTEBOOKS])
def test_notebook_is_committed_executed_top_to_bottom(path: Path):
    code_cells = [cell for cell in read(path).cells if cell.cell_type == "code"]
    counts = [cell.execution_count for cell in code_cells]
    assert None not in counts, f"{path.name}: cells {[i for i, c in enumerate(counts) if c is None]} were not run"
    assert counts == list(range(1, len(code_cells) + 1)), f"{path.name}: execution counts {counts} are not 1, 2, 3, ..."


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.name for p in ALL_NOTEBOOKS])
def test_notebook_has_title_summary_and_exercises(path: Path):
    notebook = read(path)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name} must open with a # title"
    headings = [line.strip() for line in markdown_lines(notebook) if line.startswith("## ")]
    assert "## Summary" in headings, f"{path.name} has no '## Summary'"
    assert "## Exercises" in headings, f"{path.name} has no '## Exercises'"
    assert headings.index("## Summary") < headings.index("## Exercises")


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.name for p in ALL_NOTEBOOKS])
def test_every_exercise_is_followed_by_a_collapsed_solution_that_checks_itself(path: Path):
    cells = read(path).cells
    start = next(i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and "## Exercises" in cell.source)
    sequence = []  # "exercise" for each numbered item, "solution" for each solution cell, in order
    for cell in cells[start:]:
        if cell.cell_type == "markdown":
            text = cell.source[cell.source.index("## Exercises"):] if "## Exercises" in cell.source else cell.source
            sequence += ["exercise"] * len(re.findall(r"^\d+\. ", text, re.MULTILINE))
        else:
            assert "solution" in cell.metadata.get("tags", []), f"{path.name}: an exercise cell that is no solution"
            assert cell.metadata.get("jupyter", {}).get("source_hidden"), f"{path.name}: a solution shown open"
            assert "assert " in cell.source, f"{path.name}: a solution that checks nothing:\n{cell.source[:200]}"
            sequence.append("solution")
    assert sequence and sequence == ["exercise", "solution"] * (len(sequence) // 2), f"{path.name}: {sequence}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=[p.name for p in ALL_NOTEBOOKS])
def test_notebook_is_named_by_number_and_topic(path: Path):
    assert re.fullmatch(r"\d\d_[a-z0-9]+(_[a-z0-9]+)*\.ipynb", path.name)


def printed_ports(notebook: nbformat.NotebookNode) -> set[int]:
    """The loopback ports that appear in the notebook's outputs."""
    text = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text.append(output.get("text", ""))
            text.append(output.get("data", {}).get("text/plain", ""))
    return {int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", "\n".join(text))}


def is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(120)
def test_notebook_02_runs_in_a_fresh_kernel_and_leaves_nothing_running():
    notebook = read(CLEAN_EXIT_NOTEBOOK)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(THREADS_BEFORE))
    notebook.cells.append(nbformat.v4.new_code_cell(THREADS_LEFT))
    seen: dict[str, object] = {}

    def on_notebook_start(notebook: nbformat.NotebookNode) -> None:
        seen["kernel"] = psutil.Process(client.km.provisioner.process.pid)

    def on_cell_executed(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        if cell_index == len(notebook.cells) - 1:  # the kernel is still alive here
            seen["children"] = [p.cmdline() for p in seen["kernel"].children(recursive=True)]
            seen["listening"] = [port for port in printed_ports(notebook) if is_listening(port)]

    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        on_notebook_start=on_notebook_start,
        on_cell_executed=on_cell_executed,
    )
    client.execute()

    ports = printed_ports(notebook)
    assert len(ports) >= 2, f"expected the scratch server's and chat_lib's ports in the outputs, found {ports}"
    assert seen["listening"] == [], f"servers still listening at the end of the notebook: {seen['listening']}"
    assert [port for port in ports if is_listening(port)] == []
    assert seen["children"] == [], f"the kernel still had child processes: {seen['children']}"
    threads_left = notebook.cells[-1].outputs[0]["data"]["text/plain"]
    assert threads_left == "[]", f"threads left running in the kernel: {threads_left}"
    assert not seen["kernel"].is_running()
