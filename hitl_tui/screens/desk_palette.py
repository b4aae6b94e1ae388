"""The desk's keys as this person has them, and its command palette.

desk_keys.py says what each key does and which the selected request allows; this module applies
the user's keymap to the desk's bindings as Textual does when a key is pressed, so that a greyed
key still answers with the rule that stops it, and so that each palette entry shows the key
that runs it now. The palette also offers the saved views from the config file.

Functions over the desk screen, not a mixin: the desk asks, and keeps its own state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from textual.app import SystemCommand

from .desk_keys import REQUEST_KEYS, palette_entries

if TYPE_CHECKING:
    from textual.screen import Screen

    from .desk import DeskScreen


def explain_refused(desk: "DeskScreen", pressed: str) -> None:
    """A greyed-out key still answers: with the rule that stops it."""
    # the screen's own bindings with the user's keymap applied (active_bindings leaves out
    # the ones check_action hides, which are exactly the ones that need explaining)
    for key, binding in keys_in_force(desk):
        if key == pressed and binding.action in REQUEST_KEYS:
            if not desk.check_action(binding.action, ()):
                reason = desk.why_not(binding.action)
                if reason:
                    desk.app.say(reason, "warning", timeout=6)
                    desk.app.bell()


def palette_commands(desk: "DeskScreen") -> Iterable[SystemCommand]:
    for title, action in palette_entries():
        if desk.check_action(action.split("(")[0], ()):
            key = key_for(desk, action)
            yield SystemCommand(title, f"key: {key}" if key else "", _runner(desk, action))
    settings = desk.app.settings
    for name, saved in (settings.ui.views.items() if settings is not None else ()):
        shown = saved.filter + (f"  (sort {saved.sort})" if saved.sort else "")
        yield SystemCommand(f"Saved view: {name}", shown or "everything", _saved_view(desk, saved))


def _saved_view(desk: "DeskScreen", saved):
    def run() -> None:
        desk.open_saved_view(saved.filter, saved.sort)
    return run


def key_for(screen: "Screen", action: str) -> str:
    """The key that runs `action` now: the user's keymap applied, as the footer shows it."""
    return next((screen.app.get_key_display(binding) for _key, binding in keys_in_force(screen)
                 if binding.action == action), "")


def keys_in_force(screen: "Screen"):
    """This screen's (key, binding) pairs with the user's keymap applied, as Textual applies
    it when a key is pressed (to a copy: the class's own bindings keep their defaults)."""
    bindings = screen._bindings.copy()
    if screen.app._keymap:
        bindings.apply_keymap(screen.app._keymap)
    return bindings


def _runner(desk: "DeskScreen", action: str):
    async def run() -> None:
        await desk.run_action(action)
    return run
