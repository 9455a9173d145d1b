"""The browser chat page in real Chromium, against a real chat server.

What a user of ``python -m chat_lib serve`` sees in a browser tab: pages chat
with each other, with Python clients and with a plain Socket.IO client; the
header says whether the page is connected and over which transport; markup in
a message stays text; the server's refusals are shown; the online list and the
typing line follow the others; a phone-sized window keeps the input usable; and
a page survives a server restart.

One Chromium runs for the whole module (launching it is the slow part); each
test gets its own browser context (tabs are people: each page says who it is
with ``?name=``) and its own server. On failure every open page is saved as a
screenshot, with its text, in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import socketio
from helpers import asked_only_for_holes, servers_sharing_redis
from playwright.async_api import Browser, Page, Playwright, async_playwright, expect

from chat_lib import BackgroundServer, ChatClient
from chat_lib.server.app import HEAD_INTERVAL

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
WAIT_MS = 5000  # every wait in the page; the server answers within milliseconds
MARKUP = "<script>window.pwned=1</script><b>bold</b>"

OpenPage = Callable[..., Awaitable[Page]]


# -- fixtures ------------------------------------------------------------------


@dataclass
class _Session:
    playwright: Playwright
    browser: Browser | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def playwright_session() -> AsyncIterator[_Session]:
    # Module scope: Playwright's driver process (and the thread asyncio keeps
    # for it) starts before tests/conftest.py counts each test's threads.
    async with async_playwright() as playwright:
        session = _Session(playwright)
        yield session
        if session.browser is not None:
            await session.browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(playwright_session: _Session, chromium_launch_options: dict) -> Browser:
    """One Chromium for the whole module, launched before the first test's leak checks count processes."""
    if playwright_session.browser is None:
        playwright_session.browser = await playwright_session.playwright.chromium.launch(**chromium_launch_options)
    return playwright_session.browser


@pytest.fixture
def chat_server(request: pytest.FixtureRequest) -> Iterator[BackgroundServer]:
    """A fresh server per test; ``indirect`` parametrisation passes ChatServer options."""
    options = {"ping_interval": 2, "ping_timeout": 2, **getattr(request, "param", {})}
    with BackgroundServer(**options) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def open_page(
    browser: Browser, chat_server: BackgroundServer, request: pytest.FixtureRequest
) -> AsyncIterator[OpenPage]:
    """Open the chat page as a new person and wait until it says "connected".

    ``await open_page("?name=ada", viewport={"width": 375, "height": 667})``; ``url``
    opens another server's page than the test's ``chat_server``.
    """
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    pages: list[Page] = []
    script_errors: list[str] = []
    failures_before = request.session.testsfailed

    async def opener(query: str = "", *, viewport: dict[str, int] | None = None, url: str | None = None) -> Page:
        page = await context.new_page()
        if viewport is not None:
            await page.set_viewport_size(viewport)
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: script_errors.append(f"{page.url}: {error}"))
        pages.append(page)
        await page.goto(f"{url or chat_server.url}/{query}")
        await expect(page.locator("#status")).to_have_text("connected", timeout=WAIT_MS)
        return page

    yield opener
    # The call phase's report is counted before teardown starts: a failure now
    # means the test failed, so keep what the pages showed.
    if request.session.testsfailed > failures_before:
        ARTIFACTS.mkdir(exist_ok=True)
        for number, page in enumerate(pages):
            if not page.is_closed():
                stem = f"{request.node.name}-page{number}"
                (ARTIFACTS / f"{stem}.png").write_bytes(await page.screenshot(full_page=True))
                (ARTIFACTS / f"{stem}.txt").write_text(await page.inner_text("body"))
    await context.close()
    assert not script_errors, f"the page threw: {script_errors}"


# -- helpers -------------------------------------------------------------------


async def send(page: Page, text: str) -> None:
    """Type a message and press Enter, as a person would."""
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def shown(page: Page) -> list[dict[str, Any]]:
    """Every line of the message list (but those still waiting to be sent): author, text, CSS classes."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('#messages li:not(.pending)')].map(li => ({
            who: li.querySelector('.who')?.textContent ?? null,
            text: li.querySelector('.text')?.textContent ?? li.textContent,
            classes: [...li.classList],
        }))"""
    )


async def wait_for_text(page: Page, text: str, count: int = 1) -> None:
    """Wait until ``text`` is the exact text of ``count`` lines of the message list (sent ones)."""
    await page.wait_for_function(
        """([text, count]) => [...document.querySelectorAll('#messages li:not(.pending)')].filter(
              li => (li.querySelector('.text')?.textContent ?? li.textContent) === text).length >= count""",
        arg=[text, count],
        timeout=WAIT_MS,
    )


async def lines_with(page: Page, text: str) -> list[dict[str, Any]]:
    return [line for line in await shown(page) if line["text"] == text]


async def in_thread(function: Callable[[], Any]) -> None:
    """Run a blocking call (a server stop) off the event loop without the loop's executor.

    The executor's threads would outlive the test and fail the leftover-thread check.
    """
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as exc:  # re-raised below, in the test
            errors.append(exc)
        finally:
            loop.call_soon_threadsafe(done.set)

    worker = threading.Thread(target=run, name="test-blocking-call")
    worker.start()
    await asyncio.wait_for(done.wait(), 20)
    worker.join(5)
    if errors:
        raise errors[0]


# -- chatting ------------------------------------------------------------------


async def test_two_pages_chat_with_each_other(open_page):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    await send(ada, "hello bob")
    await wait_for_text(bob, "hello bob")
    await wait_for_text(ada, "hello bob")
    assert await lines_with(bob, "hello bob") == [{"who": "ada", "text": "hello bob", "classes": []}]
    assert await lines_with(ada, "hello bob") == [{"who": "ada", "text": "hello bob", "classes": ["mine"]}]
    assert await ada.input_value("#input") == ""  # cleared for the next message

    await send(bob, "hi ada")
    await wait_for_text(ada, "hi ada")
    texts = [line["text"] for line in await shown(ada) if "notice" not in line["classes"]]
    assert texts == ["hello bob", "hi ada"]


async def test_message_from_python_client_appears_in_both_pages(open_page, chat_server):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    async with ChatClient(chat_server.url, nickname="carol", transport="websocket") as carol:
        await carol.send("hello from Python")
        for page in (ada, bob):
            await wait_for_text(page, "hello from Python")
            assert (await lines_with(page, "hello from Python"))[0]["who"] == "carol"
        # ...and the other way round.
        await send(ada, "hello from the browser")
        message = await carol.wait_for_message(lambda m: m.text == "hello from the browser", timeout=5)
        assert message.nickname == "ada"


async def test_plain_socketio_client_gets_the_bare_string(open_page, chat_server):
    # A client like the Node.js tutorial's: no auth, handler(msg) with one argument.
    plain = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @plain.on("chat message")
    async def on_message(*args: Any) -> None:
        await received.put(args)

    page = await open_page("?name=ada")
    await plain.connect(chat_server.url, transports=["websocket"], wait_timeout=5)
    try:
        await send(page, "hello plain client")
        assert await asyncio.wait_for(received.get(), 5) == ("hello plain client",)
        await plain.emit("chat message", "hello page")
        await wait_for_text(page, "hello page")
        assert (await lines_with(page, "hello page"))[0]["who"].startswith("guest-")
    finally:
        await plain.disconnect()


async def test_markup_in_messages_and_names_is_shown_as_text(open_page, chat_server):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    await send(ada, MARKUP)
    await wait_for_text(bob, MARKUP)
    sneaky_name = "<img src=x onerror=pwned=2>"
    async with ChatClient(chat_server.url, nickname=sneaky_name, transport="websocket") as mallory:
        await mallory.send(MARKUP)
        await wait_for_text(ada, MARKUP, count=2)
        await wait_for_text(bob, MARKUP, count=2)
        await expect(bob.locator("#online")).to_contain_text(sneaky_name)
    for page in (ada, bob):
        assert await page.evaluate("() => window.pwned") is None
        assert await page.locator("#messages b, #messages script, #messages img, #online img").count() == 0
        assert [line["who"] for line in await lines_with(page, MARKUP)] == ["ada", sneaky_name]


# -- header: status and transport ----------------------------------------------


async def test_page_says_connected_and_upgrades_to_websocket(open_page):
    page = await open_page()
    await expect(page.locator("#status")).to_have_text("connected")
    await expect(page.locator("#transport")).to_have_text("websocket")
    assert await page.evaluate("() => window.chatSocket.io.engine.transport.name") == "websocket"
    # The server chose a nickname and the page shows it.
    await expect(page.locator("#nickname")).to_have_value(re.compile(r"^guest-\S+$"))


async def test_status_says_disconnected_when_the_socket_is_closed(open_page):
    page = await open_page()
    await page.evaluate("() => window.chatSocket.disconnect()")
    await expect(page.locator("#status")).to_have_text("disconnected")
    await expect(page.locator("#status")).to_have_class("disconnected")
    await page.evaluate("() => window.chatSocket.connect()")
    await expect(page.locator("#status")).to_have_text("connected")
    await expect(page.locator("#status")).to_have_class("connected")


@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_transport_query_parameter_pins_the_transport(open_page, transport):
    page = await open_page(f"?transport={transport}&name=ada")
    await expect(page.locator("#transport")).to_have_text(transport)
    # A round trip later it has not changed (no upgrade happens when pinned).
    await send(page, "still here")
    await wait_for_text(page, "still here")
    await expect(page.locator("#transport")).to_have_text(transport)
    assert await page.evaluate("() => window.chatSocket.io.engine.transport.name") == transport


@pytest.mark.parametrize("chat_server", [{"max_message_bytes": 32}], indirect=True)
async def test_over_long_message_shows_the_servers_error(open_page):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    await send(ada, "x" * 40)
    error = ada.locator("#messages li.error")
    await expect(error).to_have_text("A chat message may be at most 32 bytes; this one is 40.")
    # The refused message reached nobody: bob gets the next one, and only that.
    await send(ada, "short one")
    await wait_for_text(bob, "short one")
    assert [line["text"] for line in await shown(bob) if "notice" not in line["classes"]] == ["short one"]


async def test_private_message_reaches_only_its_recipient(open_page, chat_server):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    async with ChatClient(chat_server.url, nickname="carol", transport="websocket") as carol:
        await send(ada, "/msg bob just between us")
        for page in (ada, bob):
            await wait_for_text(page, "just between us")
            line = (await lines_with(page, "just between us"))[0]
            assert line["who"] == "ada → bob" and line["classes"] == ["private"]
        await send(ada, "/msg nobody hello?")
        await expect(ada.locator("#messages li.error")).to_have_text("Nobody called 'nobody' is online.")
        await send(ada, "public again")
        await carol.wait_for_message(lambda m: m.text == "public again", timeout=5)
        assert [m.text for m in carol.messages] == ["public again"]


async def test_room_commands_reach_only_the_rooms_members(open_page):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    carol = await open_page("?name=carol")
    await send(ada, "/join lobby")
    await expect(ada.locator("#messages li.notice").last).to_have_text("ada joined #lobby")  # in before bob
    await send(bob, "/join lobby")
    await expect(ada.locator("#messages li.notice").last).to_have_text("bob joined #lobby")
    await send(ada, "#lobby just the lobby")
    for page in (ada, bob):
        await wait_for_text(page, "just the lobby")
        assert (await lines_with(page, "just the lobby"))[0]["who"] == "ada #lobby"
    await send(carol, "#lobby let me in")
    await expect(carol.locator("#messages li.error")).to_have_text("Join the room 'lobby' before sending to it.")
    await send(bob, "/leave lobby")
    await expect(ada.locator("#messages li.notice").last).to_have_text("bob left #lobby")
    await send(ada, "everyone")
    await wait_for_text(carol, "everyone")
    assert [line["text"] for line in await shown(carol) if "notice" not in line["classes"]] == ["everyone"]


# -- people: online list, typing, nickname ---------------------------------------


async def test_online_list_and_typing_line_follow_the_others(open_page):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    await expect(ada.locator("#online")).to_have_text("online: ada, bob")
    await expect(bob.locator("#online")).to_have_text("online: ada, bob")

    await bob.locator("#input").press_sequentially("hel")
    await expect(ada.locator("#typing")).to_have_text("bob is typing…")
    await expect(bob.locator("#typing")).to_have_text("")  # nobody is told about themselves
    await bob.locator("#input").press("Enter")
    await expect(ada.locator("#typing")).to_have_text("")  # sending ends typing at once

    await bob.locator("#input").press_sequentially("again")
    await expect(ada.locator("#typing")).to_have_text("bob is typing…")
    await bob.close()  # bob leaves mid-sentence
    await expect(ada.locator("#online")).to_have_text("online: ada")
    await expect(ada.locator("#typing")).to_have_text("")
    await expect(ada.locator("#messages li.notice").last).to_have_text("bob left")


@pytest.mark.parametrize("chat_server", [{"ping_interval": 25, "ping_timeout": 20}], indirect=True)
async def test_closing_a_long_polling_tab_is_seen_at_once(open_page):
    # With the default pings the server would otherwise notice only after up
    # to 45 s: long-polling has no connection whose closing it could see.
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob&transport=polling")
    await expect(ada.locator("#online")).to_have_text("online: ada, bob")
    await bob.close()
    await expect(ada.locator("#online")).to_have_text("online: ada")
    await expect(ada.locator("#messages li.notice").last).to_have_text("bob left")


async def test_nickname_field_renames_for_everyone(open_page):
    ada = await open_page("?name=ada")
    bob = await open_page("?name=bob")
    await ada.fill("#nickname", "ada lovelace")
    await ada.press("#nickname", "Enter")
    await expect(bob.locator("#messages li.notice").last).to_have_text("ada is now ada lovelace")
    await expect(bob.locator("#online")).to_have_text("online: ada lovelace, bob")
    await send(ada, "new name")
    await wait_for_text(bob, "new name")
    assert (await lines_with(bob, "new name"))[0]["who"] == "ada lovelace"

    await ada.fill("#nickname", "   ")
    await ada.press("#nickname", "Enter")
    await expect(ada.locator("#messages li.error")).to_have_text("A nickname cannot be empty.")
    await expect(ada.locator("#nickname")).to_have_value("ada lovelace")  # the name still in use


async def test_phone_sized_window_keeps_input_and_send_button_usable(open_page, chat_server):
    phone = {"width": 375, "height": 667}
    page = await open_page("?name=ada", viewport=phone)
    async with ChatClient(chat_server.url, nickname="a-rather-long-nickname-for-a-phone", transport="websocket") as bob:
        for number in range(40):
            await bob.send(f"message {number} " + "words " * number)
        await wait_for_text(page, "message 39 " + "words " * 39)
    for selector in ("#input", "#send", "#status"):
        box = await page.locator(selector).bounding_box()
        assert box is not None and box["width"] > 0, selector
        assert 0 <= box["x"] and box["x"] + box["width"] <= phone["width"], (selector, box)
        assert 0 <= box["y"] and box["y"] + box["height"] <= phone["height"], (selector, box)
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= phone["width"]
    await expect(page.locator("#messages li").last).to_be_in_viewport()  # it followed the new messages
    await page.fill("#input", "sent with the button")
    await page.click("#send")
    await wait_for_text(page, "sent with the button")
    await expect(page.locator("#messages li").last).to_be_in_viewport()


# -- server restarts -----------------------------------------------------------


async def test_page_reconnects_when_the_server_comes_back(open_page, chat_server):
    page = await open_page("?name=ada")
    await send(page, "before the restart")
    await wait_for_text(page, "before the restart")
    port = chat_server.port

    await in_thread(chat_server.stop)
    await expect(page.locator("#status")).to_have_text("reconnecting")
    await expect(page.locator("#transport")).to_have_text("-")
    assert await page.locator("#send").is_enabled()  # typing on is allowed; it is sent later

    # A new server with an empty log on the same address.
    with BackgroundServer(port=port, ping_interval=2, ping_timeout=2) as again:
        await expect(page.locator("#status")).to_have_text("connected", timeout=10_000)
        async with ChatClient(again.url, nickname="bob", transport="websocket") as bob:
            await bob.send("after the restart")
            # The new log numbers it like the first message of the old one;
            # the page must not mistake it for a duplicate.
            await wait_for_text(page, "after the restart")
            await send(page, "ada is back")
            await bob.wait_for_message(lambda m: m.text == "ada is back", timeout=5)


async def test_page_catches_up_and_delivers_what_was_typed_while_away(open_page, chat_server, tmp_path):
    log = str(tmp_path / "log.sqlite3")
    await in_thread(chat_server.stop)  # this test needs a server with a log file
    with BackgroundServer(store=log, ping_interval=2, ping_timeout=2) as first:
        page = await open_page("?name=ada", url=first.url)
        await send(page, "first")
        await wait_for_text(page, "first")
        # Count failed reconnection attempts, to restart right after one.
        await page.evaluate(
            """() => { window.failedAttempts = 0;
                       window.chatSocket.io.on('reconnect_error', () => { window.failedAttempts += 1; }); }"""
        )
        port = first.port
    await expect(page.locator("#status")).to_have_text("reconnecting")
    await send(page, "typed while away")  # queued by the page until the connection is back
    waiting = page.locator("#messages li.pending")
    await expect(waiting.locator(".text")).to_have_text("typed while away")
    await expect(waiting.locator(".when")).to_have_text("waiting for the connection…")
    await page.wait_for_function("() => window.failedAttempts >= 1", timeout=10_000)

    with BackgroundServer(port=port, store=log, ping_interval=2, ping_timeout=2) as second:
        # The next attempt is at least a second away: bob's message normally
        # lands in the log before the page is back, and only catch-up brings it.
        async with ChatClient(second.url, nickname="bob", transport="websocket") as bob:
            await bob.send("sent while ada was away")
            await expect(page.locator("#status")).to_have_text("connected", timeout=10_000)
            await wait_for_text(page, "sent while ada was away")
            await bob.wait_for_message(lambda m: m.text == "typed while away", timeout=10)
            await wait_for_text(page, "typed while away")
            await expect(waiting).to_have_count(0)
            history = [message.text for message in await bob.history()]
    assert history == ["first", "sent while ada was away", "typed while away"]
    texts = [line["text"] for line in await shown(page) if "notice" not in line["classes"]]
    assert texts == ["first", "sent while ada was away", "typed while away"]



async def test_page_fetches_a_broadcast_redis_dropped_and_shows_it_in_its_place(open_page, chat_server, tmp_path):
    with servers_sharing_redis(tmp_path) as (one, other):
        page = await open_page("?name=bob", url=other.url)
        async with ChatClient(one.url, nickname="ada", transport="websocket") as ada:
            await ada.send("before the hole")
            await wait_for_text(page, "before the hole")
            await asyncio.sleep(HEAD_INTERVAL)  # past the page's catch-up, which reads the log itself
            # In the shared log, and broadcast to nobody: what Redis pub/sub drops while a server is not listening.
            other.chat.store.append("dropped-for-the-page", "cy", "in the hole")
            await ada.send("after the hole")
            await wait_for_text(page, "after the hole")
            await page.wait_for_function(
                """() => [...document.querySelectorAll('#messages .text')].some(s => s.textContent === 'in the hole')""",
                timeout=3 * HEAD_INTERVAL * 1000)
            lines = [line for line in await shown(page) if "notice" not in line["classes"]]
        await in_thread(other.stop)
        await in_thread(one.stop)
    assert [(line["who"], line["text"]) for line in lines] == [
        ("ada", "before the hole"), ("cy", "in the hole"), ("ada", "after the hole")]



async def test_page_asks_the_log_only_for_the_offsets_it_lacks(open_page, chat_server, tmp_path):
    # A room message leaves a hole in the offsets of the page, which is not in the room:
    # the page must look that one offset up, not read again every public message after it.
    with servers_sharing_redis(tmp_path) as (one, other):
        page = await open_page("?name=bob", url=other.url)
        await page.evaluate("""() => {
            window.historyAsked = [];
            const emitWithAck = socket.emitWithAck.bind(socket);
            socket.emitWithAck = async (event, ...args) => {
                const had = [...seenOffsets];
                const answer = await emitWithAck(event, ...args);
                if (event === "history") window.historyAsked.push([had, args[0], answer]);
                return answer;
            };
        }""")
        async with ChatClient(one.url, nickname="ada", transport="websocket") as ada:
            await ada.join("team")
            in_room = await ada.send("for the team only", room="team")
            for number in range(3):
                await ada.send(f"public {number}")
            await wait_for_text(page, "public 2")
            await page.wait_for_function("() => window.historyAsked.length > 0", timeout=3 * HEAD_INTERVAL * 1000)
            await asyncio.sleep(HEAD_INTERVAL)  # one more head: the hole is not asked for again
            asked = await page.evaluate("() => window.historyAsked")
            shown_texts = [line["text"] for line in await shown(page)]
        await in_thread(other.stop)
        await in_thread(one.stop)
    asked_only_for_holes(asked, in_room["offset"])
    assert "for the team only" not in shown_texts


# -- against the tutorial's ten-line server ---------------------------------------


async def test_page_falls_back_to_bare_strings_on_a_tutorial_server(open_page, tutorial_server):
    url = tutorial_server.url  # conftest: the Node tutorial's server (notebook 02's ten lines)
    listener = socketio.AsyncClient(reconnection=False)
    received: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    @listener.on("chat message")
    async def on_message(*args: Any) -> None:
        await received.put(args)

    page = await open_page(url=url)
    await wait_for_text(page, "This server speaks only the tutorial's protocol: plain messages, "
                              "without names, acknowledgements or catch-up.")
    await listener.connect(url, transports=["websocket"], wait_timeout=5)
    try:
        await send(page, "hello tutorial")
        assert await asyncio.wait_for(received.get(), 5) == ("hello tutorial",)  # sent once, as a bare string
        await wait_for_text(page, "hello tutorial")
        await asyncio.sleep(0.5)
        assert len(await lines_with(page, "hello tutorial")) == 1 and received.empty()
    finally:
        await listener.disconnect()
