"""The address a learner's browser should open to reach a chat server on the kernel's machine.

``http://127.0.0.1:PORT/`` reaches the server only when the browser runs on the
same computer as the kernel. On JupyterHub, Binder or a JupyterLab on another
machine, it points at the learner's own computer. There, jupyter-server-proxy
makes the server reachable at ``<Jupyter base URL>proxy/PORT/``: on the same
origin and login as JupyterLab, WebSocket included. The page
(``static/index.html``) uses relative URLs only, so it works under that prefix.

Introduced in notebook 05; notebooks 02 and 03 show the link too.
"""

from __future__ import annotations

import glob
import html
import importlib.util
import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["BrowserLink", "browser_link", "browser_url"]

log = logging.getLogger("chat_lib.browser_address")

ENV_VAR = "CHAT_LIB_BROWSER_URL"
#: Addresses a server binds to that no browser can open.
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def browser_url(
    port: int,
    *,
    host: str = "127.0.0.1",
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The address of the chat page on ``port``, as the learner's browser should open it.

    It decides in this order, and the first rule that applies wins:

    1. ``url``, when given: a template in which ``{port}`` is replaced by the
       port, e.g. ``"https://lab.example.org/proxy/{port}/"``.
    2. The environment variable ``CHAT_LIB_BROWSER_URL``, the same kind of
       template (set it where the rules below guess wrong, e.g. to
       ``http://127.0.0.1:{port}/`` to skip the proxy).
    3. JupyterHub: when ``JUPYTERHUB_SERVICE_PREFIX`` is set (``/user/ada/``)
       and the ``jupyter_server_proxy`` package can be imported here, the
       proxy path ``/user/ada/proxy/PORT/``.
    4. A Jupyter server started this process (it is the parent process, or
       the grandparent for a kernel started through a wrapper, and has left
       its ``jpserver-PID.json`` in the Jupyter runtime directory,
       ``$JUPYTER_RUNTIME_DIR`` or jupyter_core's default) and
       ``jupyter_server_proxy`` can be imported here: that server's
       ``base_url`` + ``proxy/PORT/``. This holds for a local JupyterLab too,
       because the kernel cannot tell whether the browser is on its machine
       (an ssh tunnel to a lab on 127.0.0.1 looks local, and is not).
    5. Otherwise (plain Python, ``jupyter nbconvert``/nbval even when run
       from a JupyterLab terminal, VS Code, a server without the proxy): ``http://HOST:PORT/``, with ``127.0.0.1``
       for a server bound to every address.

    The proxy paths of rules 3 and 4 start with ``/`` and carry no host: the
    kernel does not know the name under which the learner reaches Jupyter
    (a Hub's public address, a tunnel), but the learner's browser does, so a
    link or an IFrame in a notebook's output opens the right place. The proxy
    needs the Jupyter login: the browser must be logged in to that JupyterLab.

    jupyter_server_proxy is looked up in the kernel's environment; a kernel in
    another environment than its server's gets rule 5, and can use rule 1 or 2.

    :param port: the chat server's port.
    :param host: the address the chat server is bound to (for rule 5).
    :param url: an explicit address or template with ``{port}``; wins over everything.
    :param environ: the environment to read; ``os.environ`` by default.

    Example::

        >>> browser_url(3000, environ={})
        'http://127.0.0.1:3000/'
        >>> browser_url(3000, environ={"CHAT_LIB_BROWSER_URL": "/lab-a/proxy/{port}/"})
        '/lab-a/proxy/3000/'
    """
    env = os.environ if environ is None else environ
    if url:
        return _fill(url, port)
    if env.get(ENV_VAR):
        return _fill(env[ENV_VAR], port)
    hub_prefix = env.get("JUPYTERHUB_SERVICE_PREFIX")
    if hub_prefix and _has_server_proxy():
        return _proxy_path(hub_prefix, port)
    server = _parent_jupyter_server(env)
    if server is not None and _has_server_proxy():
        return _proxy_path(server.get("base_url") or "/", port)
    if host in _ANY_ADDRESS:
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}/"


def _fill(template: str, port: int) -> str:
    return template.replace("{port}", str(port))


def _proxy_path(base_url: str, port: int) -> str:
    return "/" + f"{base_url.strip('/')}/proxy/{port}/".lstrip("/")


def _has_server_proxy() -> bool:
    return importlib.util.find_spec("jupyter_server_proxy") is not None


def _ancestor_pids(limit: int = 2) -> list[int]:
    """Parent and grandparent of this process (a kernel's parent is usually its Jupyter server).

    No further: a kernel that nbval or nbconvert started from a terminal in
    JupyterLab has that JupyterLab further up, and is not served by it.
    """
    try:
        import psutil
    except ImportError:
        return [os.getppid()]
    try:
        return [process.pid for process in psutil.Process().parents()[:limit]]
    except psutil.Error:
        return [os.getppid()]


def _runtime_dir(env: Mapping[str, str]) -> str | None:
    if env.get("JUPYTER_RUNTIME_DIR"):
        return env["JUPYTER_RUNTIME_DIR"]
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    return jupyter_runtime_dir()


def _parent_jupyter_server(env: Mapping[str, str], pids: Iterable[int] | None = None) -> dict[str, Any] | None:
    """The info file (``jpserver-PID.json``) of the Jupyter server that runs this process, if any."""
    folder = _runtime_dir(env)
    if not folder:
        return None
    ancestors = list(_ancestor_pids() if pids is None else pids)
    for pid in ancestors:
        for name in (f"jpserver-{pid}.json", f"nbserver-{pid}.json"):  # jupyter_server; classic notebook
            path = os.path.join(folder, name)
            try:
                with open(path) as file:
                    info = json.load(file)
            except (OSError, ValueError):
                continue
            log.debug("kernel runs under the Jupyter server of %s", path)
            return info
    log.debug("no Jupyter server among %s in %s (%d info files)", ancestors, folder,
              len(glob.glob(os.path.join(folder, "jpserver-*.json"))))
    return None


class BrowserLink:
    """A clickable link to the chat page in a notebook's output, optionally with the page embedded.

    As text (a console, a test) it is the address itself. ``embed=True`` adds
    an IFrame of the page below the link. Through the proxy the IFrame is on
    JupyterLab's own origin; the chat server sends no ``X-Frame-Options`` or
    ``frame-ancestors`` policy, so the browser lets JupyterLab frame it (and
    frame ``http://127.0.0.1:PORT/`` locally too).

    :param url: the address, usually from :func:`browser_url`.
    :param text: the link's text; by default the address.
    :param embed: also show the page in an IFrame.
    :param height: the IFrame's height in CSS pixels.

    Example::

        BrowserLink(browser_url(server.port), text="open the chat page")

    Introduced in notebook 05.
    """

    def __init__(self, url: str, *, text: str | None = None, embed: bool = False, height: int = 360) -> None:
        self.url = url
        self.text = text or url
        self.embed = embed
        self.height = height

    def __repr__(self) -> str:
        return self.url

    def _repr_html_(self) -> str:
        href = html.escape(self.url, quote=True)
        link = f'<a href="{href}" target="_blank" rel="noopener">{html.escape(self.text)}</a>'
        if not self.embed:
            return link
        frame = (f'<iframe src="{href}" title="chat page" width="100%" height="{int(self.height)}" '
                 'style="border: 1px solid #ccc; border-radius: 4px;"></iframe>')
        return f"{link}<br>{frame}"


def browser_link(
    port: int, *, text: str | None = None, embed: bool = False, height: int = 360, **options: Any
) -> BrowserLink:
    """The chat page on ``port`` as a clickable link (and, with ``embed=True``, an IFrame).

    A notebook cell that ends with it shows the link; :func:`browser_url`
    decides the address, and ``options`` (``host``, ``url``, ``environ``)
    go to it.

    Example::

        browser_link(server.port, embed=True)

    Introduced in notebook 05.
    """
    return BrowserLink(browser_url(port, **options), text=text, embed=embed, height=height)
