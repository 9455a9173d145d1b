"""The browser page and the vendored Socket.IO JavaScript client, as a real server serves them.

The page must work with no internet (no CDN), and the JavaScript client must be
exactly the release that ``static/vendor/VERSION.txt`` names, so that a refresh
of the file is a deliberate, reviewed change.
"""

from __future__ import annotations

import hashlib
import re
import socket
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx
import pytest

from chat_lib import BackgroundServer
from chat_lib.server import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"


def _version_notes() -> dict[str, str]:
    """``key: value`` lines of VERSION.txt (continuation lines are skipped)."""
    notes = {}
    for line in (VENDOR / "VERSION.txt").read_text().splitlines():
        match = re.match(r"^(\w+):\s*(.+)$", line)
        if match:
            notes[match[1]] = match[2].strip()
    return notes


class _References(HTMLParser):
    """Collects every URL the page loads by itself: src and href of its elements."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.urls.append((tag, value))


def _raw_get(port: int, path: str) -> bytes:
    """The status line of a GET sent byte for byte (httpx would normalise ``..``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_vendored_client_is_the_version_and_hash_that_version_txt_states():
    notes = _version_notes()
    assert notes["package"] == "socket.io-client"
    script = (VENDOR / "socket.io.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == notes["sha256"], (
        "socket.io.min.js differs from the file VERSION.txt describes; "
        "refresh both together as VERSION.txt explains."
    )
    header = script[:200].decode()
    assert f"Socket.IO v{notes['version']}\n" in header
    assert notes["version"] == "4.8.4"
    assert "Released under the MIT License" in header


def test_vendored_client_licence_is_present():
    notes = _version_notes()
    assert notes["licence"].startswith("MIT")
    licence = (VENDOR / "socket.io-client.LICENSE").read_text()
    assert "Permission is hereby granted, free of charge" in licence
    assert "Guillermo Rauch" in licence


def test_page_references_no_external_url():
    parser = _References()
    parser.feed((STATIC_DIR / "index.html").read_text())
    assert ("script", "static/vendor/socket.io.min.js") in parser.urls
    external = [(tag, url) for tag, url in parser.urls if re.match(r"^(https?:)?//", url, re.IGNORECASE)]
    assert not external, f"the page must work offline, but it loads {external}"
    assert "cdn" not in (STATIC_DIR / "index.html").read_text().lower()


@pytest.fixture(scope="module")
def static_server():
    with BackgroundServer() as running:
        yield running


def test_server_serves_the_page_at_root(static_server):
    response = httpx.get(static_server.url + "/", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == (STATIC_DIR / "index.html").read_bytes()


def _page_urls() -> list[str]:
    parser = _References()
    parser.feed((STATIC_DIR / "index.html").read_text())
    return [url for _, url in parser.urls if not url.startswith("data:")]


def test_page_urls_are_relative_so_it_works_under_a_prefix():
    # Behind JupyterLab's /proxy/PORT/ an absolute /static/... would reach the Jupyter server.
    absolute = [url for url in _page_urls() if url.startswith("/")]
    assert not absolute, f"the page must work under a path prefix, but it loads {absolute}"
    script = (STATIC_DIR / "index.html").read_text()
    assert 'path: new URL("socket.io/", location.href).pathname' in script


@pytest.mark.parametrize("prefix", ["/", "/proxy/3000/", "/user/ada/proxy/3000/"])
def test_page_assets_resolve_to_files_the_server_serves(static_server, prefix):
    # What a proxy that strips ``prefix`` would forward for each asset the page loads.
    urls = _page_urls()
    assert urls
    for url in urls:
        path = urljoin(f"http://127.0.0.1{prefix}?name=ada", url).split("127.0.0.1", 1)[1]
        assert path.startswith(prefix)
        response = httpx.get(static_server.url + "/" + path[len(prefix):], timeout=5)
        assert response.status_code == 200, f"{url} under {prefix}"


def test_server_serves_the_vendored_client_as_javascript(static_server):
    response = httpx.get(static_server.url + "/static/vendor/socket.io.min.js", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in ("application/javascript", "text/javascript")
    assert response.content == (VENDOR / "socket.io.min.js").read_bytes()


def test_server_answers_404_for_a_missing_static_file(static_server):
    response = httpx.get(static_server.url + "/static/vendor/jquery.min.js", timeout=5)
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/vendor/../../store.py"])
def test_server_does_not_serve_files_outside_static(static_server, path):
    assert _raw_get(static_server.port, path) == b"HTTP/1.1 404 Not Found"
