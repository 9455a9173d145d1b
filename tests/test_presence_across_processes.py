"""The online list stays right across processes, and after one dies (issue 13)."""

from __future__ import annotations

from chat_lib import BackgroundServer, ChatClient
from chat_lib.lab.cluster import LocalRedis
from helpers import wait_for


async def test_people_of_a_killed_process_leave_the_others_lists(tmp_path):
    log = str(tmp_path / "log.sqlite3")
    with LocalRedis() as redis:
        options = {"redis_url": redis.url, "store": log, "ping_interval": 1, "ping_timeout": 1}
        with BackgroundServer(mode="process", **options) as survivor:
            doomed = BackgroundServer(mode="process", **options).start()
            try:
                async with ChatClient(survivor.url, nickname="ada") as ada:
                    bob = await ChatClient(doomed.url, nickname="bob", reconnection=False).connect()
                    try:
                        await wait_for(lambda: ada.online == ["ada", "bob"], timeout=10)
                        doomed.kill()  # SIGKILL: no goodbye from bob's server
                        await wait_for(lambda: ada.online == ["ada"], timeout=20, state=lambda: ada.online)
                        assert {"kind": "user left", "nickname": "bob"} in ada.notices
                    finally:
                        await bob.disconnect()
            finally:
                doomed.stop()
