"""End to end: the ChatWidget in real JupyterLab, chatting with the chat page in real Chromium.

The test starts a chat server, then JupyterLab (its kernel is this
interpreter's python3) with every Jupyter directory in a temporary folder, and
opens a small notebook whose one cell shows a ChatWidget connected to that
server. Chromium types into the widget and presses Enter; a second page, the
server's own chat page, must show the message. Then the page answers and the
widget must show the answer. Nothing is left running afterwards.

Screenshots: ``test-artifacts/widget.png`` on success, ``widget-failure-*.png``
and JupyterLab's log on failure (test-artifacts/ is not committed).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from helpers import unused_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK_CELL = """\
import os
from chat_lib import ChatWidget

chat = ChatWidget(os.environ["CHAT_E2E_URL"], nickname="lab")
await chat.connect()
chat"""


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (our temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


class JupyterLab:
    """JupyterLab on 127.0.0.1 with a token, every Jupyter directory under ``folder``."""

    def __init__(self, folder: Path, env_extra: dict[str, str]) -> None:
        self.folder = folder
        self.port = unused_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        config = folder / "config"
        (config / "labconfig").mkdir(parents=True)
        # The "Would you like news?" toast covers the notebook; switching the
        # plugin off here writes nothing outside the temporary folder.
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        self.root = folder / "notebooks"
        self.root.mkdir()
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(folder / "data"),
            JUPYTER_RUNTIME_DIR=str(folder / "runtime"), IPYTHONDIR=str(folder / "ipython"), **env_extra,
        )
        self.log = folder / "jupyterlab.log"
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}", "--allow-root",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so we can end it and its children together
        )

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.base}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; see {self.log}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s; see {self.log}")

    def stop(self) -> None:
        """Shut the kernels down, then end JupyterLab's process group."""
        if self.process.poll() is None:
            try:
                for kernel in self.api("/api/kernels"):  # type: ignore[union-attr]
                    self.api(f"/api/kernels/{kernel['id']}", method="DELETE")
            except OSError:
                pass
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()


@pytest.fixture
def lab(tmp_path: Path, server) -> Iterator[JupyterLab]:
    running = JupyterLab(tmp_path, {"CHAT_E2E_URL": server.url})
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, running.root / "widget_e2e.ipynb")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        # Kernels run in sessions of their own: check that none survived.
        leftovers = processes_mentioning(str(tmp_path))
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"processes left running: {leftovers}"


def accept_kernel_dialog(page) -> None:
    """Take the suggested kernel if JupyterLab asks which one to start.

    It asks when the notebook opened before the list of kernels arrived, which
    happens on a loaded machine.
    """
    dialog = page.locator(".jp-Dialog")
    if dialog.count() and dialog.first.is_visible():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()
        page.wait_for_selector(".jp-Dialog", state="detached", timeout=5000)


def run_cell(page, index: int, timeout: float = 30.0) -> None:
    """Run cell ``index`` of the visible notebook with Shift+Enter, retrying a lost key press."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    cell = page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        try:
            prompt.click(timeout=3000)  # a dialog that opened meanwhile blocks the click
            page.keyboard.press("Shift+Enter")
            # "[*]:" while running, "[1]:" once done; "[ ]:" means the key press was lost.
            page.wait_for_function(
                "el => /\\[(\\*|\\d+)\\]/.test(el.textContent)", arg=prompt.element_handle(), timeout=3000
            )
            return
        except PlaywrightTimeoutError:  # press again
            continue
    raise AssertionError(f"cell {index} never started running")


def test_widget_chats_with_the_browser_page(lab: JupyterLab, server, chromium_launch_options: dict) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    lab_text = "hello from the lab <i>not italic</i>"
    page_text = "hello from the browser"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options)
        pages = []
        try:
            notebook = browser.new_page(viewport={"width": 1200, "height": 760})
            pages.append(("lab", notebook))
            notebook.goto(f"{lab.base}/lab/tree/widget_e2e.ipynb?reset&token={lab.token}")
            notebook.wait_for_selector(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']",
                                       timeout=30000)
            run_cell(notebook, 0)
            widget = notebook.locator(".jp-NotebookPanel:visible .chat-lib-widget")
            expect(widget.locator(".chat-lib-status")).to_contain_text("connected via websocket", timeout=20000)

            chat_page = browser.new_page(viewport={"width": 700, "height": 500})
            pages.append(("page", chat_page))
            chat_page.goto(f"{server.url}/?name=browser")
            expect(chat_page.locator("#status")).to_have_text("connected", timeout=10000)
            # The widget sees the page arrive: a notice and the online list.
            expect(widget.locator(".chat-lib-messages")).to_contain_text("browser joined", timeout=10000)
            expect(widget.locator(".chat-lib-online")).to_contain_text("browser")

            # The reader types into the widget and presses Enter...
            box = widget.locator(".chat-lib-input input")
            box.fill(lab_text)
            box.press("Enter")
            # ...and the browser page shows it, from "lab", as text.
            expect(chat_page.locator("#messages")).to_contain_text(f"lab{lab_text}", timeout=10000)
            expect(box).to_have_value("")
            mine = widget.locator(".chat-lib-mine")
            expect(mine).to_contain_text(lab_text, timeout=10000)
            assert mine.locator("i").count() == 0, "HTML in a message must not be interpreted"

            # The page answers; the widget shows it, while the kernel is idle.
            chat_page.locator("#input").fill(page_text)
            chat_page.locator("#input").press("Enter")
            expect(widget.locator(".chat-lib-messages")).to_contain_text(f"browser{page_text}", timeout=10000)
            expect(notebook.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle")

            # Typing in the page (without sending) shows on the widget's typing line.
            chat_page.locator("#input").press_sequentially("still typ")
            expect(widget.locator(".chat-lib-typing")).to_have_text("browser is typing…", timeout=10000)

            # Fold the file browser away, for a screenshot that shows the widget.
            notebook.locator(".jp-SideBar.jp-mod-left [data-id='filebrowser']").click()
            notebook.screenshot(path=str(ARTIFACTS / "widget.png"))
        except BaseException:
            for name, page in pages:
                try:
                    page.screenshot(path=str(ARTIFACTS / f"widget-failure-{name}.png"))
                except Exception:  # the page may be gone; the log still helps
                    pass
            shutil.copy(lab.log, ARTIFACTS / "widget-failure-jupyterlab.log")
            raise
        finally:
            browser.close()
