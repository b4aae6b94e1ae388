"""News reaches the terminal too: the installed desk in a real pty rings the bell (the default
`notify` setting) when a request arrives for its user, and writes nothing with notify = "off"."""

from __future__ import annotations

import time

import pytest

from tests.ui.pty_desk import Db, Desk

BEL = b"\x07"


@pytest.mark.parametrize("notify, rings", [("bell", True), ("off", False)])
def test_a_new_request_for_me_rings_the_bell_unless_switched_off(tmp_path, notify, rings):
    db = Db(tmp_path)
    desk = Desk({**db.env, "HITL_UI_NOTIFY": notify}, controlling=True)
    try:
        desk.read(b"Team lunch")
        desk.read(b"verified", timeout=20)
        before = len(desk.output)
        db.service().create_workflow_request("expense_approval", "Airport taxi", "", "alice", {"amount": "60"})
        desk.read(b"New in Awaiting me", timeout=15)
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            desk._pump(0.1)
        assert (BEL in desk.output[before:]) is rings
    finally:
        desk.press(b"q")
        desk.cleanup()
