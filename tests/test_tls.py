"""TLS for real: a local CA, wss:// through nginx and from uvicorn itself, and a client that does not trust it."""

from __future__ import annotations

import ssl

import aiohttp
import pytest
import socketio
from test_nginx import FAST, _require_nginx

from chat_lib import BackgroundServer
from chat_lib.lab.machines import ServeCommand
from chat_lib.lab.nginx import Nginx
from chat_lib.lab.tls import make_local_certificates, measure_handshakes


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_local_certificates(tmp_path_factory.mktemp("tls"))


async def _chat_over(url: str, session: aiohttp.ClientSession, transport: str) -> tuple[str, dict]:
    client = socketio.AsyncClient(http_session=session, reconnection=False)
    try:
        await client.connect(url, transports=[transport], wait_timeout=5)
        answer = await client.call("chat message", "over TLS", timeout=5)
        return client.transport(), answer
    finally:
        await client.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_wss_through_nginx_with_the_local_ca(certificates, transport):
    _require_nginx()
    with BackgroundServer(**FAST) as server, Nginx([server.url], certificates=certificates) as proxy:
        assert proxy.url.startswith("https://localhost:")
        async with certificates.http_session() as session:
            used, answer = await _chat_over(proxy.url, session, transport)
        assert used == transport and answer["ok"]


async def test_a_client_that_does_not_trust_the_ca_is_refused(certificates):
    _require_nginx()
    with BackgroundServer(**FAST) as server, Nginx([server.url], certificates=certificates) as proxy:
        async with aiohttp.ClientSession() as session:  # the system's authorities only
            with pytest.raises(aiohttp.ClientConnectorCertificateError, match="certificate verify failed"):
                await session.get(f"{proxy.url}/socket.io/?EIO=4&transport=polling")
            client = socketio.AsyncClient(http_session=session, reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(proxy.url, transports=["websocket"], wait_timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            measure_handshakes("127.0.0.1", proxy.port, context=ssl.create_default_context(), count=1)
        times = measure_handshakes("127.0.0.1", proxy.port, context=certificates.client_context(), count=3)
        assert len(times) == 3 and all(t > 0 for t in times)


async def test_uvicorn_ends_tls_itself(certificates):
    options = ["--ssl-certfile", str(certificates.cert_file), "--ssl-keyfile", str(certificates.key_file),
               "--ping-interval", "1", "--ping-timeout", "1"]
    with ServeCommand("127.0.0.1", options) as served:
        assert served.url.startswith("https://127.0.0.1:")
        async with certificates.http_session() as session:
            used, answer = await _chat_over(served.url, session, "websocket")
        assert used == "websocket" and answer["ok"]


def test_certificates_name_localhost_and_the_loopback_address(certificates):
    assert certificates.names == ("localhost", "127.0.0.1")
    assert certificates.key_file.stat().st_mode & 0o077 == 0  # the key is the server's alone
    assert b"BEGIN CERTIFICATE" in certificates.ca_file.read_bytes()


def _spki_hash(certificate_file) -> str:
    """Base64 of the SHA-256 of the certificate's public key: what Chromium's SPKI pin list takes."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    public_key = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(public_key).digest()).decode()


async def test_the_page_chats_over_wss_in_chromium(certificates, chromium_launch_options):
    """The page through nginx on https:// in Chromium, which trusts our server's key and no other."""
    _require_nginx()
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright, expect

    trusting = {**chromium_launch_options,
                "args": [*chromium_launch_options["args"],
                         f"--ignore-certificate-errors-spki-list={_spki_hash(certificates.cert_file)}"]}
    with BackgroundServer(**FAST) as server, Nginx([server.url], certificates=certificates) as proxy:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**chromium_launch_options)
            try:  # without the pin, Chromium refuses our CA like any unknown one
                page = await browser.new_page()
                with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
                    await page.goto(f"{proxy.url}/")
            finally:
                await browser.close()
            browser = await playwright.chromium.launch(**trusting)
            try:
                page = await browser.new_page()
                sockets: list[str] = []
                page.on("websocket", lambda socket: sockets.append(socket.url))
                await page.goto(f"{proxy.url}/?name=ada")
                await expect(page.locator("#status")).to_have_text("connected", timeout=10_000)
                await page.fill("#input", "hello over wss")
                await page.press("#input", "Enter")
                await expect(page.locator("#messages li:not(.pending) .text")).to_have_text(
                    ["hello over wss"], timeout=10_000
                )
                assert page.url.startswith("https://localhost:")
                assert sockets and all(url.startswith("wss://localhost:") for url in sockets)
            finally:
                await browser.close()


async def _tapped_broadcast(port: int, scheme: str, session: aiohttp.ClientSession | None) -> bytes:
    import asyncio

    from chat_lib.lab.wire import WireTap

    async with WireTap("127.0.0.1", port) as tap:
        client = socketio.AsyncClient(reconnection=False, **({"http_session": session} if session else {}))
        heard = asyncio.Event()
        client.on("chat message", lambda *args: heard.set())
        await client.connect(f"{scheme}://localhost:{tap.port}", transports=["websocket"], wait_timeout=5)
        await client.call("chat message", "meet me at noon", timeout=5)
        await asyncio.wait_for(heard.wait(), 5)
        await client.disconnect()
    return bytes(tap.from_server)


async def test_the_wire_shows_ws_text_and_hides_wss_text(certificates):
    _require_nginx()
    from chat_lib.lab.wire import tls_record_types

    with BackgroundServer(**FAST) as server, Nginx([server.url], certificates=certificates) as proxy:
        clear = await _tapped_broadcast(server.port, "http", None)
        async with certificates.http_session() as session:
            encrypted = await _tapped_broadcast(proxy.port, "https", session)
    assert clear.startswith(b"HTTP/1.1 101 Switching Protocols") and b'42["chat message","meet me at noon"]' in clear
    assert b"meet me at noon" not in encrypted and b"chat message" not in encrypted
    types = tls_record_types(encrypted)
    assert types[0] == 22 and types[-1] == 23 and set(types) <= {20, 22, 23}
