"""chat_lib.__all__ lists exactly the public names the package exports."""

from __future__ import annotations

import chat_lib


def test_all_lists_every_public_member():
    public = {name for name in dir(chat_lib) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(chat_lib, name)).__name__ == "module"}
    assert set(chat_lib.__all__) == public - modules


def test_all_members_are_importable():
    for name in chat_lib.__all__:
        assert getattr(chat_lib, name) is not None
