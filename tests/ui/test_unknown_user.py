"""An OS account missing from the user directory: the screen gives the command that really adds
it, and the desk opens by itself once another connection (an administrator's CLI) has added it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hitl_tui.screens.desk import DeskScreen
from hitl_tui.screens.unknown_user import UnknownUserScreen

from .conftest import SIZE, screen_text, settle, wait_for

HITL = Path(sys.executable).with_name("hitl-tui")


async def test_the_screen_shows_the_command_and_the_desk_opens_when_the_account_is_added(desk):
    desk.service().create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "80"})
    app = desk.app("mallory", poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnknownUserScreen)
        text = screen_text(app)
        assert "hitl-tui users add mallory --role ROLE" in text
        assert "users add mallory ROLE" not in text

        await pilot.pause(0.3)  # a few polls with nothing changed: the screen stays
        assert isinstance(app.screen, UnknownUserScreen)

        admin = desk.service()  # a second connection, as the administrator's CLI would be
        admin.add_user("mallory", "manager")
        await wait_for(pilot, lambda: isinstance(app.screen, DeskScreen), timeout=5)
        await settle(pilot)
        desk_screen = app.screen
        assert desk_screen.header.who == "mallory (Manager)"
        assert "Team lunch" in screen_text(app)  # her inbox, read for her, not a blank desk
        assert len(app.screen_stack) == 2, "the unknown-account screen is gone, not under the desk"


async def test_a_change_that_does_not_add_the_account_keeps_the_screen(desk):
    app = desk.app("mallory", poll_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        desk.service().add_user("someone.else", "employee")
        screen = app.screen
        await wait_for(pilot, lambda: screen._data_version is not None and not screen._polling, timeout=5)
        await pilot.pause(0.4)
        await settle(pilot)
        assert isinstance(app.screen, UnknownUserScreen)


def test_the_command_on_the_screen_is_one_the_cli_accepts(desk):
    """The line the screen prints, typed by an administrator, through the installed command."""
    from hitl_tui.screens.unknown_user import add_user_command

    key_file = desk.path.with_name("db.key")
    key_file.write_text(desk.key.hex())
    key_file.chmod(0o600)
    env = {**os.environ, "HITL_DB_PATH": str(desk.path), "HITL_DB_KEY_FILE": str(key_file)}
    words = add_user_command("mallory").split()
    assert words[:4] == ["hitl-tui", "users", "add", "mallory"]
    args = [str(HITL), *words[1:-1], "manager"]  # ROLE filled in
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert desk.service().find_user("mallory").role.value == "manager"
