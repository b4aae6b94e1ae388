"""`hitl-tui` reads the session and the first page before the app starts: the first frame needs
no worker, and an unknown account still gets its screen."""

from __future__ import annotations


from hitl_tui.core.audit import os_login
from hitl_tui.launch import build_app
from hitl_tui.widgets.request_list import RequestList


def key_file(tmp_path, key: bytes):
    path = tmp_path / "db.key"
    path.write_text(key.hex())
    path.chmod(0o600)
    return path


async def test_first_page_is_on_screen_without_waiting_for_a_worker(desk, tmp_path, monkeypatch):
    svc = desk.service()
    svc.add_user(os_login(), "manager")
    wid = svc.create_workflow_request("expense_approval", "Printer paper", "", "alice", {"amount": "40"})
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(key_file(tmp_path, desk.key)))
    app, message = build_app(desk.path, poll_interval=None, verify_on_start=False)
    assert message is None and app.preload is not None and app.preload.first_page is not None
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()  # one turn of the loop: no worker has had to finish
        inbox = app.screen.query_one(RequestList)
        assert [r.id for r in inbox.rows] == [wid]
    app.service.close(checkpoint=False)


async def test_unknown_account_is_found_before_the_app_starts(desk, tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DB_KEY_FILE", str(key_file(tmp_path, desk.key)))
    app, _ = build_app(desk.path, username="nobody.here", poll_interval=None)
    assert app.preload.user is None
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert type(app.screen).__name__ == "UnknownUserScreen"
    app.service.close(checkpoint=False)
