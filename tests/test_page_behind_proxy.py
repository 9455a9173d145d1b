"""End to end: the chat page through JupyterLab's own address, as on JupyterHub, Binder or a remote lab.

A real chat server runs on 127.0.0.1; a real JupyterLab with
jupyter-server-proxy runs beside it, logged in with a token. In that
JupyterLab a notebook shows a ChatWidget and ``browser_link(port, embed=True)``:
the kernel itself must decide that the browser's address is
``/proxy/PORT/`` (it runs under a Jupyter server that has the proxy). Two
Chromium pages then open the real page at ``<lab>/proxy/PORT/``, one on
WebSocket and one pinned to long-polling, and the embedded page connects too.
The two pages and the widget chat with each other, and each page's header
shows the transport it really uses through the proxy (the requests it makes
are checked as well: all of them go through the proxy prefix).

Screenshots: ``test-artifacts/proxy.png`` on success, ``proxy-failure-*.png``
and JupyterLab's log on failure (test-artifacts/ is not committed).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from chat_lib import BackgroundServer
from test_widget_browser import JupyterLab, processes_mentioning, run_cell

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 15000
NOTEBOOK_CELL = """\
import os
from chat_lib import ChatWidget
from chat_lib.browser_address import browser_link

chat = ChatWidget(os.environ["CHAT_E2E_URL"], nickname="lab")
await chat.connect()
display(browser_link(int(os.environ["CHAT_E2E_PORT"]), text="the chat page", embed=True, height=260))
chat"""


@pytest.fixture
def chat_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(ping_interval=2, ping_timeout=2) as running:
        yield running


@pytest.fixture
def lab(tmp_path: Path, chat_server: BackgroundServer) -> Iterator[JupyterLab]:
    pytest.importorskip("jupyter_server_proxy", reason="pip install jupyter-server-proxy (requirements.txt)")
    # The kernel imports this checkout's chat_lib, whatever the venv's editable install points at.
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    running = JupyterLab(tmp_path, {"CHAT_E2E_URL": chat_server.url, "CHAT_E2E_PORT": str(chat_server.port),
                                    "PYTHONPATH": pythonpath})
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, running.root / "proxy_e2e.ipynb")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
        leftovers = processes_mentioning(str(tmp_path))
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"processes left running: {leftovers}"


def test_page_chats_through_jupyterlabs_proxy_on_websocket_and_polling(
    lab: JupyterLab, chat_server: BackgroundServer, chromium_launch_options: dict
) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    prefix = f"/proxy/{chat_server.port}/"
    proxied = f"{lab.base}{prefix}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options)
        context = browser.new_context()  # one login (JupyterLab's cookie) for every tab, as in a real browser
        pages = []
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        sockets: list[str] = []
        try:
            notebook = context.new_page()
            notebook.set_viewport_size({"width": 1200, "height": 900})
            pages.append(("lab", notebook))
            notebook.on("websocket", lambda ws: sockets.append(ws.url))
            notebook.goto(f"{lab.base}/lab/tree/proxy_e2e.ipynb?reset&token={lab.token}")
            notebook.wait_for_selector(
                ".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=30000)
            run_cell(notebook, 0)
            widget = notebook.locator(".jp-NotebookPanel:visible .chat-lib-widget")
            expect(widget.locator(".chat-lib-status")).to_contain_text("connected via websocket", timeout=20000)

            # The kernel found its Jupyter server and the proxy: the link is the proxy path.
            output = notebook.locator(".jp-NotebookPanel:visible .jp-OutputArea-output")
            link = output.locator("a", has_text="the chat page")
            expect(link).to_have_attribute("href", prefix)
            # The embedded page (same origin as JupyterLab) connects through the proxy too.
            embedded = notebook.frame_locator(f".jp-NotebookPanel:visible iframe[src='{prefix}']")
            expect(embedded.locator("#status")).to_have_text("connected", timeout=WAIT_MS)

            on_websocket = context.new_page()
            pages.append(("websocket", on_websocket))
            on_websocket.on("websocket", lambda ws: sockets.append(ws.url))
            # Without the final slash (a hand-typed address) the page adds it to its address.
            on_websocket.goto(f"{lab.base}{prefix.rstrip('/')}?name=ws")
            on_websocket.wait_for_url(f"{proxied}?name=ws", timeout=WAIT_MS)
            on_polling = context.new_page()
            pages.append(("polling", on_polling))
            on_polling.on("websocket", lambda ws: sockets.append(ws.url))
            on_polling.goto(f"{proxied}?name=poll&transport=polling")
            for page in (on_websocket, on_polling):
                expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
            # The header says what is really used through the proxy.
            expect(on_websocket.locator("#transport")).to_have_text("websocket", timeout=WAIT_MS)
            expect(on_polling.locator("#transport")).to_have_text("polling")

            # Chat, every way round: page to page, pages to the widget, widget to pages.
            on_websocket.locator("#input").fill("over websocket, through the proxy")
            on_websocket.locator("#input").press("Enter")
            on_polling.locator("#input").fill("over polling, through the proxy")
            on_polling.locator("#input").press("Enter")
            box = widget.locator(".chat-lib-input input")
            box.fill("from the widget")
            box.press("Enter")
            for page in (on_websocket, on_polling):
                for line in ("wsover websocket, through the proxy", "pollover polling, through the proxy",
                             "labfrom the widget"):
                    expect(page.locator("#messages")).to_contain_text(line, timeout=WAIT_MS)
            for line in ("wsover websocket", "pollover polling"):
                expect(widget.locator(".chat-lib-messages")).to_contain_text(line, timeout=WAIT_MS)
            expect(embedded.locator("#messages")).to_contain_text("labfrom the widget", timeout=WAIT_MS)
            expect(on_polling.locator("#transport")).to_have_text("polling")  # never upgraded

            # Every request of the chat pages went through the proxy prefix: none to the Lab's own
            # /static/ or /socket.io/, which is where absolute URLs in the page would have gone.
            # One exception: for the address without its slash, Chromium's preload scanner fetches the
            # script beside PREFIX before the page has fixed its address (a harmless 404 from Jupyter).
            stray = f"{lab.base}{prefix.rstrip('/').rsplit('/', 1)[0]}/static/vendor/socket.io.min.js"
            chat_requests = [url for url in requests if ("socket.io" in url or "/static/vendor/" in url)
                             and url != stray]
            assert chat_requests and all(url.startswith(proxied) for url in chat_requests), chat_requests
            assert any("transport=polling" in url for url in chat_requests)
            chat_sockets = [url for url in sockets if "socket.io" in url]
            ws_base = proxied.replace("http://", "ws://", 1)
            assert chat_sockets and all(url.startswith(f"{ws_base}socket.io/") for url in chat_sockets), sockets
            notebook.screenshot(path=str(ARTIFACTS / "proxy.png"))
        except BaseException:
            for name, page in pages:
                try:
                    page.screenshot(path=str(ARTIFACTS / f"proxy-failure-{name}.png"))
                except Exception:  # the page may be gone; the log still helps
                    pass
            shutil.copy(lab.log, ARTIFACTS / "proxy-failure-jupyterlab.log")
            raise
        finally:
            browser.close()
