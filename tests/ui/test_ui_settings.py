"""The [ui] settings on a real desk: the theme from the config file and kept when changed in the
palette, keymap overrides that work and show in help, and names nobody knows refused."""

from __future__ import annotations

import pytest

from hitl_tui import ui_settings
from hitl_tui.core.errors import SettingsInvalid
from hitl_tui.core.settings import Settings
from hitl_tui.screens.decision_modal import DecisionModal
from hitl_tui.screens.help import HelpScreen

from .conftest import SIZE, settle


def settings_from(tmp_path, text: str) -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(text)
    return Settings.load(environ={}, config_file=config)


async def test_the_theme_comes_from_the_config_file_and_a_new_choice_is_kept(desk, tmp_path):
    settings = settings_from(tmp_path, '# my desk\n[ui]\ntheme = "nord"\n')
    app = desk.app("bob.manager", settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "nord"
        app.theme = "dracula"  # what the palette's theme picker does
        await settle(pilot)
    text = (tmp_path / "config.toml").read_text()
    assert 'theme = "dracula"' in text and "# my desk" in text
    assert Settings.load(environ={}, config_file=tmp_path / "config.toml").ui.theme == "dracula"


async def test_a_keymap_override_moves_the_key_and_help_shows_it(desk, tmp_path):
    svc = desk.service()
    svc.create_workflow_request("expense_approval", "Team lunch", "", "alice", {"amount": "40"})
    settings = settings_from(tmp_path, '[ui.keymap]\n"desk.approve" = "A"\n')
    app = desk.app("bob.manager", settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert not isinstance(app.screen, DecisionModal)  # a no longer approves
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, DecisionModal)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen) and app.screen.keymap == {"desk.approve": "A"}
        await pilot.press("escape")
        await settle(pilot)
        approve = next(c for c in app.screen.palette_commands() if c.title == "Approve the selected request")
        assert approve.help == "key: A"  # the palette names the key that works, not the default


@pytest.mark.parametrize("text, named", [
    ('[ui]\ntheme = "solarised"\n', "ui.theme"),
    ('[ui.keymap]\n"desk.aprove" = "A"\n', "desk.aprove"),
    ('[ui.views.mine]\nfilter = "risk:high"\nsort = "colour"\n', "ui.views"),
])
def test_a_name_the_desk_does_not_know_is_refused_in_one_line(tmp_path, text, named):
    with pytest.raises(SettingsInvalid) as caught:
        ui_settings.check(settings_from(tmp_path, text))
    line = str(caught.value)
    assert "\n" not in line and named in line and "config.toml" in line


async def test_a_moved_key_that_is_refused_still_says_why_under_its_new_name(desk, tmp_path):
    from .conftest import notes

    wid = desk.service().create_workflow_request("expense_approval", "My own lunch", "", "bob.manager",
                                                 {"amount": "40"})
    settings = settings_from(tmp_path, '[ui.keymap]\n"desk.approve" = "A"\n')
    app = desk.app("bob.manager", settings=settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")  # his own requests
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert any(f"You requested {wid}, so you cannot approve it (segregation of duties)." in n for n in notes(app))
