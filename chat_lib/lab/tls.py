"""TLS for real on one machine: a local certificate authority, a server certificate, and clients that trust only it.

``wss://`` and ``https://`` need a certificate that the client trusts. On the
Internet a public authority signs it; here we play the authority ourselves
(with the ``trustme`` package, which uses ``cryptography``): one CA, one
server certificate for ``localhost`` and ``127.0.0.1`` signed by it, written
as PEM files that nginx (or uvicorn's ``--ssl-certfile``) reads. A client that
trusts this CA, and only it, connects; any other client refuses the server,
as a browser refuses a self-signed certificate.

Introduced in notebook 08.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LocalCertificates", "make_local_certificates", "measure_handshakes"]


@dataclass(frozen=True)
class LocalCertificates:
    """PEM files of a local CA and a server certificate it signed.

    :param ca_file: the authority's certificate: what a client trusts.
    :param cert_file: the server's certificate chain: what the server shows.
    :param key_file: the server's private key: what only the server reads.
    :param names: the names and addresses the certificate is valid for.
    """

    ca_file: Path
    cert_file: Path
    key_file: Path
    names: tuple[str, ...]

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA and no other (not the system's authorities)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def http_session(self, **options: Any) -> Any:
        """An ``aiohttp.ClientSession`` that trusts only this CA: give it to python-socketio's
        ``AsyncClient(http_session=...)`` for ``https://`` and ``wss://``. Close it when done."""
        import aiohttp

        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.client_context()), **options)


def make_local_certificates(folder: str | Path, names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> LocalCertificates:
    """Make a CA and a server certificate for ``names``, as PEM files in ``folder``.

    Example::

        certificates = make_local_certificates(tmp_path)
        context = certificates.client_context()
    """
    try:
        import trustme
    except ImportError as exc:  # pragma: no cover
        raise ImportError('Making certificates needs trustme: run pip install "chat_lib[lab]".') from exc
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="chat_lib local CA")
    server = authority.issue_cert(*names)
    files = LocalCertificates(folder / "ca.pem", folder / "server.pem", folder / "server.key", tuple(names))
    authority.cert_pem.write_to_path(str(files.ca_file))
    server.private_key_pem.write_to_path(str(files.key_file))
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    files.key_file.chmod(0o600)
    return files


def measure_handshakes(
    host: str, port: int, *, context: ssl.SSLContext | None = None, server_name: str = "localhost", count: int = 30
) -> list[float]:
    """Time ``count`` new connections to ``host:port``, in ms: TCP alone, or TCP and a full TLS handshake.

    Each connection is new and no TLS session is resumed, so each pays the
    whole handshake, as a new visitor does.

    :param context: an SSL context (e.g. :meth:`LocalCertificates.client_context`);
                    ``None`` times the TCP connection alone.
    """
    times = []
    for _ in range(count):
        began = time.perf_counter()
        with socket.create_connection((host, port), timeout=5) as raw:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is None:
                times.append((time.perf_counter() - began) * 1000)
                continue
            with context.wrap_socket(raw, server_hostname=server_name):  # handshakes here
                times.append((time.perf_counter() - began) * 1000)
    return times
