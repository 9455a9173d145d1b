"""browser_url: which address the learner's browser should open, in each environment.

The Jupyter-server case is played with a real runtime folder holding a
``jpserver-PID.json`` like the one jupyter_server writes; which processes are
this one's ancestors is passed in. tests/test_page_behind_proxy.py checks the
same rule inside a real JupyterLab kernel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chat_lib import browser_address as module
from chat_lib.browser_address import BrowserLink, browser_link, browser_url


@pytest.fixture
def with_proxy(monkeypatch):
    monkeypatch.setattr(module, "_has_server_proxy", lambda: True)


@pytest.fixture
def without_proxy(monkeypatch):
    monkeypatch.setattr(module, "_has_server_proxy", lambda: False)


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch) -> Path:
    """An empty Jupyter runtime folder; this process's "ancestors" are pids 4242 and 1."""
    monkeypatch.setattr(module, "_ancestor_pids", lambda limit=2: [4242, 1])
    return tmp_path


def write_server_info(folder: Path, pid: int, base_url: str) -> None:
    info = {"base_url": base_url, "hostname": "127.0.0.1", "password": False, "pid": pid, "port": 8888,
            "root_dir": "/tmp", "secure": False, "sock": "", "token": "t", "url": f"http://127.0.0.1:8888{base_url}",
            "version": "2.21.1"}
    (folder / f"jpserver-{pid}.json").write_text(json.dumps(info))


def test_browser_url_locally_is_loopback_and_port(with_proxy, runtime):
    assert browser_url(3000, environ={"JUPYTER_RUNTIME_DIR": str(runtime)}) == "http://127.0.0.1:3000/"


def test_browser_url_for_a_server_on_every_address_opens_loopback(without_proxy, runtime):
    env = {"JUPYTER_RUNTIME_DIR": str(runtime)}
    assert browser_url(3000, host="0.0.0.0", environ=env) == "http://127.0.0.1:3000/"
    assert browser_url(3000, host="::1", environ=env) == "http://[::1]:3000/"


def test_browser_url_under_a_jupyter_server_is_its_proxy_path(with_proxy, runtime):
    write_server_info(runtime, 4242, "/")
    assert browser_url(3000, environ={"JUPYTER_RUNTIME_DIR": str(runtime)}) == "/proxy/3000/"


def test_browser_url_keeps_the_jupyter_servers_base_url(with_proxy, runtime):
    write_server_info(runtime, 1, "/lab-a/")
    assert browser_url(3000, environ={"JUPYTER_RUNTIME_DIR": str(runtime)}) == "/lab-a/proxy/3000/"


def test_browser_url_ignores_a_jupyter_server_that_is_not_an_ancestor(with_proxy, runtime):
    write_server_info(runtime, 777, "/")
    assert browser_url(3000, environ={"JUPYTER_RUNTIME_DIR": str(runtime)}) == "http://127.0.0.1:3000/"


def test_browser_url_without_jupyter_server_proxy_stays_local(without_proxy, runtime):
    write_server_info(runtime, 4242, "/")
    env = {"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/"}
    assert browser_url(3000, environ=env) == "http://127.0.0.1:3000/"


@pytest.mark.parametrize("prefix", ["/user/ada/", "/user/ada"])
def test_browser_url_on_jupyterhub_uses_the_service_prefix(with_proxy, runtime, prefix):
    write_server_info(runtime, 4242, "/somewhere-else/")  # the Hub's prefix wins
    env = {"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_SERVICE_PREFIX": prefix}
    assert browser_url(3000, environ=env) == "/user/ada/proxy/3000/"


def test_browser_url_environment_variable_overrides_detection(with_proxy, runtime):
    env = {"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTERHUB_SERVICE_PREFIX": "/user/ada/",
           "CHAT_LIB_BROWSER_URL": "https://lab.example.org/user/ada/proxy/{port}/"}
    assert browser_url(3000, environ=env) == "https://lab.example.org/user/ada/proxy/3000/"


def test_browser_url_argument_overrides_the_environment_variable(with_proxy, runtime):
    env = {"JUPYTER_RUNTIME_DIR": str(runtime), "CHAT_LIB_BROWSER_URL": "https://elsewhere/{port}/"}
    assert browser_url(3000, url="http://localhost:{port}/", environ=env) == "http://localhost:3000/"
    assert browser_url(3000, url="https://fixed.example/", environ=env) == "https://fixed.example/"


def test_browser_url_reads_os_environ_by_default(with_proxy, runtime, monkeypatch):
    monkeypatch.setenv("CHAT_LIB_BROWSER_URL", "/from-env/{port}/")
    assert browser_url(3001) == "/from-env/3001/"


def test_ancestor_pids_are_the_parent_and_grandparent():
    pids = module._ancestor_pids()
    assert pids[0] == os.getppid() and len(pids) <= 2


def test_browser_link_is_a_link_in_html_and_the_address_as_text():
    link = BrowserLink('/proxy/3000/?name=a"b', text="open <the> chat")
    assert repr(link) == '/proxy/3000/?name=a"b'
    assert link._repr_html_() == ('<a href="/proxy/3000/?name=a&quot;b" target="_blank" rel="noopener">'
                                  "open &lt;the&gt; chat</a>")
    assert "iframe" not in link._repr_html_()


def test_browser_link_embeds_the_page_in_an_iframe_on_request():
    link = browser_link(3000, embed=True, height=300, environ={"CHAT_LIB_BROWSER_URL": "/proxy/{port}/"})
    assert link.url == "/proxy/3000/"
    assert '<iframe src="/proxy/3000/" title="chat page" width="100%" height="300"' in link._repr_html_()
