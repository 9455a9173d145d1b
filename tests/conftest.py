"""Shared fixtures: background servers on 127.0.0.1, and checks that nothing leaks."""

from __future__ import annotations

import os
import shutil
import threading

import pytest

from chat_lib import BackgroundServer, create_tutorial_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_REQUIRED = os.environ.get("CHAT_LIB_REQUIRE_BROWSER") == "1"


def require_chromium() -> str:
    """Path of Debian's chromium; skip the test without it, unless CI requires it."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if BROWSER_REQUIRED:
        pytest.fail("chromium is required here (CHAT_LIB_REQUIRE_BROWSER=1): apt-get install chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def chromium_path() -> str:
    return require_chromium()


# Headless, as root, and quiet: without the background-networking flags Chromium
# keeps trying hosts this machine cannot reach.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def chromium_launch_options(chromium_path: str) -> dict:
    """Keyword arguments for Playwright's ``chromium.launch`` with Debian's chromium."""
    return {"executable_path": chromium_path, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture
def server():
    """A thread-mode chat server with short pings, so polling clients leave fast."""
    with BackgroundServer(ping_interval=2, ping_timeout=2) as running:
        yield running


@pytest.fixture
def tutorial_server():
    """The Node.js tutorial's ten-line server (notebook 02): bare strings, no welcome, no acks; short pings."""
    with BackgroundServer(create_tutorial_app(ping_interval=2, ping_timeout=2)) as running:
        yield running


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Every test leaves as many threads as it found (servers stopped, loops closed)."""
    before = {t for t in threading.enumerate()}
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in leftover:
        thread.join(5)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"threads left running: {still}"


@pytest.fixture(autouse=True)
def no_leftover_processes():
    """Every test leaves no child process behind (process-mode servers, redis-server, JupyterLab)."""
    import psutil

    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    yield

    def ours(process: psutil.Process) -> bool:
        # Started by this test, not by a long-lived helper of the module (a
        # shared Chromium starts renderer processes whenever a page opens).
        try:
            return process.pid not in before and not any(p.pid in before for p in process.parents())
        except psutil.NoSuchProcess:
            return False

    new = [child for child in me.children(recursive=True) if ours(child)]
    _, alive = psutil.wait_procs(new, timeout=5)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"processes left running: {[(p.pid, p.name()) for p in alive]}"
