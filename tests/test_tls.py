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
